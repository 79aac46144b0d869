"""MiniWoB++ through Gaze's own Playwright environment (no Selenium): seeded episodes, rewards, done.

Contract (protocol in shared/reference/miniwob.md):
- ``html_root()`` finds the task pages shipped in the PyPI ``miniwob`` package without importing it
  (its import pulls gymnasium and selenium); ``task_names()`` lists the tasks; ``SUBSETS`` names
  task lists (Pix2Act's 59, the 20 click-and-type tasks "clicktype"); ``subset(name)`` also knows
  "all" and "click" (every ``click-*`` task), and its error lists every name.
- ``MiniWoBEnv`` wraps an ``Environment``: ``start(task, seed)`` loads the task page afresh (25
  tasks keep state across resets; a new browser context the first time or when the tab shows
  anything else, a plain page load in the same tab after one of its own episodes), seeds
  ``Math.random``, raises the episode timer so model speed does not decide success (BrowserGym's
  rule), starts the episode and returns the utterance. ``observe``
  crops the screenshot to the 160x210 task area at the top-left, so viewport coordinates are
  unchanged; ``act`` refuses actions once the episode is over (a click on the START cover would
  silently start a new, unseeded episode) and ``status()`` reads done / raw reward / timed reward.
- ``ended()`` is the loop's ``stop_check``: it ends the episode as soon as the task says it is over.

MiniWoB pages are for evaluation only; nothing here trains on them.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, replace
from pathlib import Path

from actions.environment import BrowserConfig, EnvError, Environment, JsonValue
from actions.executor import outside, points
from actions.types import Action, ActionResult, Navigate, Observation

TASK_W, TASK_H = 160, 210  # CSS px of the task area, at the page's top-left
VIEWPORT = (500, 320)
EPISODE_MAX_TIME_MS = 1_000_000

PIX2ACT_59 = tuple(
    [
        "bisect-angle",
        "choose-date-nodelay",
        "circle-center",
        "click-button",
        "click-button-sequence",
        "click-checkboxes",
        "click-checkboxes-large",
        "click-checkboxes-soft",
        "click-checkboxes-transfer",
        "click-collapsible-2-nodelay",
        "click-collapsible-nodelay",
        "click-color",
        "click-dialog",
        "click-dialog-2",
        "click-link",
        "click-option",
        "click-pie-nodelay",
        "click-shades",
        "click-shape",
        "click-tab",
        "click-tab-2",
        "click-tab-2-easy",
        "click-tab-2-hard",
        "click-tab-2-medium",
        "click-test",
        "click-test-2",
        "click-test-transfer",
        "click-widget",
        "count-shape",
        "count-sides",
        "drag-box",
        "drag-circle",
        "drag-items",
        "drag-items-grid",
        "drag-shapes",
        "drag-sort-numbers",
        "email-inbox-delete",
        "email-inbox-important",
        "enter-date",
        "enter-text-2",
        "enter-time",
        "find-midpoint",
        "grid-coordinate",
        "identify-shape",
        "navigate-tree",
        "number-checkboxes",
        "resize-textarea",
        "right-angle",
        "simple-algebra",
        "simple-arithmetic",
        "text-transform",
        "tic-tac-toe",
        "unicode-test",
        "use-autocomplete-nodelay",
        "use-colorwheel",
        "use-colorwheel-2",
        "use-slider",
        "use-slider-2",
        "visual-addition",
    ]
)

_START_JS = """([seed, maxTime]) => {
  core.endEpisode(0);
  Math.seedrandom(seed);
  core.setDataMode('train');
  core.EPISODE_MAX_TIME = maxTime;
  core.startEpisodeReal();
  return true;
}"""
_LOADED_JS = "() => typeof core !== 'undefined' && !!document.getElementById('sync-task-cover')"
_READY_JS = "() => typeof WOB_TASK_READY !== 'undefined' && WOB_TASK_READY === true"
_UTTERANCE_JS = """() => { const u = core.getUtterance();
  return typeof u === 'string' ? u : (u && u.utterance) || JSON.stringify(u); }"""
_STATUS_JS = """() => ({done: !!WOB_DONE_GLOBAL, raw: Number(WOB_RAW_REWARD_GLOBAL),
  reward: Number(WOB_REWARD_GLOBAL), reason: String(WOB_REWARD_REASON ?? '')})"""


def html_root() -> Path:
    spec = importlib.util.find_spec("miniwob")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("MiniWoB++ is not installed: pip install 'gaze-agent[bench]'")
    return Path(next(iter(spec.submodule_search_locations))) / "html"


def task_names() -> list[str]:
    return sorted(p.stem for p in (html_root() / "miniwob").glob("*.html"))


# Click and type tasks whose instructions name their target: a first yardstick for a pixel agent.
CLICKTYPE_20 = (
    "click-button",
    "click-button-sequence",
    "click-checkboxes",
    "click-dialog",
    "click-dialog-2",
    "click-link",
    "click-option",
    "click-tab",
    "click-tab-2",
    "click-test",
    "click-test-2",
    "click-widget",
    "enter-text",
    "enter-text-2",
    "enter-password",
    "focus-text",
    "focus-text-2",
    "login-user",
    "use-autocomplete",
    "navigate-tree",
)

SUBSETS: dict[str, tuple[str, ...]] = {"pix2act": PIX2ACT_59, "clicktype": CLICKTYPE_20}
SUBSET_NAMES = ("all", "click", *SUBSETS)  # "all" and "click" are read from the installed package


def subset(name: str) -> list[str]:
    if name == "all":
        return task_names()
    if name == "click":
        return [t for t in task_names() if t.startswith("click-")]
    if name in SUBSETS:
        return list(SUBSETS[name])
    raise KeyError(f"unknown MiniWoB subset {name!r}; subsets: {', '.join(SUBSET_NAMES)}")


@dataclass(frozen=True)
class WobStatus:
    done: bool
    raw_reward: float  # success rule: raw_reward > 0 (no time penalty)
    reward: float  # MiniWoB's own time-discounted reward
    reason: str


class MiniWoBEnv:
    """An Environment for MiniWoB episodes; see the module contract."""

    def __init__(
        self, env: Environment, base_url: str, config: BrowserConfig | None = None
    ) -> None:
        self.env = env
        self.base_url = base_url.rstrip("/")
        self.config = replace(
            config or BrowserConfig(), viewport_w=VIEWPORT[0], viewport_h=VIEWPORT[1]
        )
        self.last: WobStatus | None = None

    # the Environment protocol
    @property
    def url(self) -> str:
        return self.env.url

    def reset(self, url: str, config: BrowserConfig | None = None) -> ActionResult:
        return self.env.reset(url, config or self.config)

    def observe(self) -> Observation:
        obs = self.env.observe()
        s = obs.screenshot_scale
        cropped = obs.screenshot.crop((0, 0, round(TASK_W * s), round(TASK_H * s)))
        return replace(obs, screenshot=cropped, viewport_w=TASK_W, viewport_h=TASK_H, encoded=None)

    def act(self, action: Action) -> ActionResult:
        if self.last is not None and self.last.done:
            return ActionResult.failure("the episode is over")
        for x, y in points(action):  # the model sees only the task area
            err = outside(x, y, (TASK_W, TASK_H))
            if err:
                return ActionResult.failure(err)
        result = self.env.act(action)
        self.last = self.status()
        return result

    def evaluate(self, expression: str, arg: JsonValue = None) -> JsonValue:
        return self.env.evaluate(expression, arg)

    def close(self) -> None:
        self.env.close()

    # MiniWoB
    def start(
        self,
        task: str,
        seed: int,
        *,
        max_time_ms: int = EPISODE_MAX_TIME_MS,
        timeout_s: float = 10.0,
    ) -> str:
        """Load the task page, start a seeded episode, return its utterance."""
        url = f"{self.base_url}/miniwob/{task}.html"
        if self._warm():  # a page load, not a new browser context: ~8x cheaper on a busy machine
            result = self.env.act(Navigate(url=url))
        else:
            result = self.env.reset(url, self.config)
        if not result.ok:
            raise EnvError(result.error or f"could not load {task}")
        self._wait(_LOADED_JS, f"{task}: the task page did not load", timeout_s)
        self.env.evaluate(_START_JS, [seed, max_time_ms])
        self._wait(_READY_JS, f"{task}: the episode did not become ready", timeout_s)
        self.last = self.status()
        utterance = self.env.evaluate(_UTTERANCE_JS)
        return str(utterance)

    def _warm(self) -> bool:
        """True when the tab already shows one of this server's MiniWoB pages in our viewport."""
        if self.last is None or not self.env.url.startswith(f"{self.base_url}/miniwob/"):
            return False
        try:
            size = self.env.evaluate("() => [innerWidth, innerHeight]")
        except EnvError:
            return False
        return size == [self.config.viewport_w, self.config.viewport_h]

    def _wait(self, expression: str, what: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.env.evaluate(expression) is not True:
            if time.monotonic() > deadline:
                raise EnvError(f"{what} in {timeout_s:.0f} s")
            time.sleep(0.02)

    def status(self) -> WobStatus:
        s = self.env.evaluate(_STATUS_JS)
        if not isinstance(s, dict):
            raise EnvError(f"MiniWoB status unreadable: {s!r}")
        raw, reward = s.get("raw"), s.get("reward")
        return WobStatus(
            done=bool(s.get("done")),
            raw_reward=float(raw) if isinstance(raw, (int, float)) else 0.0,
            reward=float(reward) if isinstance(reward, (int, float)) else 0.0,
            reason=str(s.get("reason", "")),
        )

    def ended(self) -> str | None:
        """For ``run_episode(stop_check=...)``: a sentence once the task says the episode is over."""
        if self.last is None or not self.last.done:
            return None
        return f"the task ended: raw reward {self.last.raw_reward:g} ({self.last.reason or 'no reason given'})"
