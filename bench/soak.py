"""Soak: N consecutive episodes of the bundled demo suite with randomly injected faults.

One browser serves every episode, as in ``gaze run`` over a suite. The model plays each task's
reference solution as model text (the same path a real model's answer takes: format -> parse ->
act). A seeded RNG gives about ``--fault-rate`` of the episodes one fault, at a random step:

- renderer_crash: the browser's renderer processes are killed (SIGKILL) before an observation;
- browser_kill:   the browser process is killed while an action is in flight;
- hung_page:      the page busy-loops for minutes before an observation (the capture times out);
- slow_page:      the page busy-loops for 1.5 s before an observation (slower, not hung);
- model_error:    the model backend raises ModelError;
- model_timeout:  the backend answers nothing for 0.5 s, then raises a timeout ModelError;
- garbage:        the model answers text that does not parse.

After a reload the scripted model starts the solution over (navigate to the start, then every
step), as a model that sees the reset page would. An episode is *accounted for* when its run
folder reads back with a ``result.json`` (success, or a stop reason with its detail); outcomes are
also counted by the fault that actually fired (a fault planned for a step the episode never
reached does not fire). Chromium
processes below this process and this process's open file descriptors are counted before the
browser starts and after it is closed. The summary is printed as JSON. Usage::

    nice python bench/soak.py [--episodes 200] [--seed 0] [--fault-rate 0.5] [--keep DIR]

It measures robustness, not speed; see docs/reliability/browser-faults.md for results.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actions import procs
from actions.browser import BrowserEnv
from actions.environment import BrowserConfig, BrowserRestarted, EnvError, JsonValue
from actions.types import Action, ActionResult, Done, GiveUp, Navigate, Observation
from agent.loop import LoopConfig
from agent.policy import ModelPolicy
from agent.runner import run_task
from agent.trajectory import read_log
from perception.model import Completion, ModelError, ModelRequest
from perception.parsers import format_action
from perception.profiles import get_profile
from tasks.loader import bundled_suite, discover, load_task
from tasks.reference import ReferenceError_, resolve
from tasks.server import SiteServer
from tasks.spec import RefStep, TaskSpec

Fault = Literal[
    "renderer_crash", "browser_kill", "hung_page", "slow_page", "model_error", "model_timeout",
    "garbage",
]  # fmt: skip
FAULTS: tuple[Fault, ...] = (
    "renderer_crash", "browser_kill", "hung_page", "slow_page", "model_error", "model_timeout",
    "garbage",
)  # fmt: skip
GARBAGE = "I think the answer is (((click <<<>>> 12,,"
_BUSY_JS = (
    "(ms) => { setTimeout(() => { const t = Date.now(); while (Date.now() - t < ms) {} }, 0); }"
)


@dataclass(frozen=True)
class Plan:
    """At most one fault for one episode: before the ``step``-th observe / act / model call."""

    fault: Fault | None
    step: int


@dataclass
class SoakConfig:
    episodes: int = 200
    seed: int = 0
    fault_rate: float = 0.5  # share of episodes that get a fault
    # short timeouts: a hung page costs action_timeout_s + 2 s of probing before it is replaced
    browser: BrowserConfig = field(
        default_factory=lambda: BrowserConfig(action_timeout_s=3.0, navigation_timeout_s=8.0)
    )


class FaultyEnv:
    """The browser with this episode's environment fault injected at the planned step. It also
    tells the model when the page was reloaded under it (``restarted``)."""

    def __init__(self, env: BrowserEnv) -> None:
        self.env = env
        self.plan = Plan(None, 0)
        self.observed = self.acted = 0
        self.restarted = False
        self.fired: Fault | None = None  # the fault this episode actually got

    @property
    def url(self) -> str:
        return self.env.url

    def reset(self, url: str, config: BrowserConfig | None = None) -> ActionResult:
        self.observed = self.acted = 0
        self.restarted = False
        self.fired = None
        return self.env.reset(url, config)

    def observe(self) -> Observation:
        if self.observed == self.plan.step:
            self._before_observe(self.plan.fault)
        self.observed += 1
        obs = self.env.observe()
        if any("reloaded" in n for n in obs.notes):
            self.restarted = True
        return obs

    def _before_observe(self, fault: Fault | None) -> None:
        pid = self.env.browser_pid
        if fault == "renderer_crash" and pid is not None:
            for p in procs.renderers(pid):
                procs.kill(p.pid)
            self.fired = fault
            time.sleep(0.2)  # let Chromium notice (both orders are handled; this is the usual one)
        elif fault in ("hung_page", "slow_page"):
            try:
                self.env.evaluate(_BUSY_JS, 600_000 if fault == "hung_page" else 1_500)
            except EnvError:  # a dialog is open: the page runs no script, busy or not
                return
            self.fired = fault

    def act(self, action: Action) -> ActionResult:
        timer = None
        pid = self.env.browser_pid
        if self.acted == self.plan.step and self.plan.fault == "browser_kill" and pid is not None:
            timer = threading.Timer(0.005, procs.kill, (pid,))
            timer.start()
            self.fired = "browser_kill"
        self.acted += 1
        try:
            return self.env.act(action)
        except BrowserRestarted:
            self.restarted = True
            raise
        finally:
            if timer is not None:
                timer.join()  # the kill has landed before the episode goes on

    def evaluate(self, expression: str, arg: JsonValue = None) -> JsonValue:
        return self.env.evaluate(expression, arg)

    def close(self) -> None:
        self.env.close()


class SoakModel:
    """Plays the reference solution (like tests/oracle.py), starts over after a reload, gives up
    when a step cannot be resolved, and injects this episode's model fault."""

    def __init__(self, task: TaskSpec, start_url: str, env: FaultyEnv, plan: Plan) -> None:
        assert task.reference, f"{task.id} has no reference solution"
        self.name = "soak-oracle"
        self.task, self.start_url, self.env, self.plan = task, start_url, env, plan
        self.todo: list[RefStep | Action] = list(task.reference)
        self.calls = 0

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        out = []
        for req in requests:
            call, self.calls = self.calls, self.calls + 1
            fault = self.plan.fault if call == self.plan.step else None
            if fault in ("model_error", "model_timeout", "garbage"):
                self.env.fired = fault
            if fault == "model_error":
                raise ModelError("injected: the model server answered HTTP 500")
            if fault == "model_timeout":
                time.sleep(0.5)
                raise ModelError("injected: the model did not answer within 0.5 s")
            if fault == "garbage":
                out.append(Completion(text=GARBAGE))
                continue
            if self.env.restarted:
                self.env.restarted = False
                self.todo = [Navigate(url=self.start_url), *(self.task.reference or [])]
            image = req.last_image
            assert image is not None
            out.append(Completion(text=format_action(self._next(), image.frame, "gaze")))
        return out

    def _next(self) -> Action:
        if not self.todo:
            return Done()
        step = self.todo.pop(0)
        if not isinstance(step, RefStep):
            return step
        try:
            return resolve(step, self.env)
        except ReferenceError_ as e:
            return GiveUp(reason=f"the reference step {step.name} failed: {e}")


def plans(cfg: SoakConfig) -> list[Plan]:
    rng = random.Random(cfg.seed)
    out = []
    for _ in range(cfg.episodes):
        fault = rng.choice(FAULTS) if rng.random() < cfg.fault_rate else None
        out.append(Plan(fault, rng.randrange(3)))
    return out


def _chromium_count() -> tuple[int, int]:
    """(Chromium processes below this one, how many of them are zombies)."""
    found = procs.chromium()
    return len(found), sum(p.zombie for p in found)


def soak(cfg: SoakConfig, out: Path) -> dict[str, object]:
    """Run the soak; the summary (see the module docstring)."""
    tasks = [load_task(p) for p in discover([bundled_suite("demo")])]
    chromium_before, zombies_before = _chromium_count()
    fds_before = procs.open_fds()
    outcomes: Counter[str] = Counter()
    by_fault: dict[str, Counter[str]] = {}
    unaccounted: list[str] = []
    recoveries = 0
    chromium_peak = 0
    t0 = time.perf_counter()
    with SiteServer() as server:
        env = FaultyEnv(BrowserEnv(cfg.browser))
        try:
            for i, plan in enumerate(plans(cfg)):
                task = tasks[i % len(tasks)]
                start = server.resolve_start(task.start)
                env.plan = plan
                model = SoakModel(task, start, env, plan)
                loop = LoopConfig(max_steps=2 * task.max_steps + 2)  # room to start over once
                try:
                    result, run_dir = run_task(
                        task,
                        start_url=start,
                        env=env,
                        policy=ModelPolicy(model, get_profile("gaze")),
                        out=out,
                        browser=cfg.browser,
                        loop=loop,
                    )
                    log = read_log(run_dir)
                except Exception as e:  # a soak counts whatever breaks, and goes on
                    unaccounted.append(f"episode {i} ({task.id}): {type(e).__name__}: {e}")
                    continue
                if log.result is None:
                    unaccounted.append(f"episode {i} ({task.id}): no result.json")
                    continue
                outcome = "success" if result.success else result.stop_reason
                outcomes[outcome] += 1
                by_fault.setdefault(env.fired or "none", Counter())[outcome] += 1
                recoveries += sum(
                    any("reloaded" in n for n in rec.notes)
                    or any("the browser restarted" in (r.error or "") for r in rec.results)
                    for rec in log.steps
                )
                chromium_peak = max(chromium_peak, _chromium_count()[0])
        finally:
            env.close()
    time.sleep(1.0)  # the last browser's children exit just after it
    chromium_after, zombies_after = _chromium_count()
    return {
        "episodes": cfg.episodes,
        "accounted": sum(outcomes.values()),
        "unaccounted": unaccounted,
        "outcomes": dict(sorted(outcomes.items())),
        "by_fault": {k: dict(sorted(v.items())) for k, v in sorted(by_fault.items())},
        "recoveries_logged": recoveries,
        "chromium_before": chromium_before,
        "chromium_after": chromium_after,
        "chromium_peak_between_episodes": chromium_peak,
        "zombies_before": zombies_before,
        "zombies_after": zombies_after,
        "fds_before": fds_before,
        "fds_after": procs.open_fds(),
        "wall_s": round(time.perf_counter() - t0, 1),
        "seed": cfg.seed,
        "fault_rate": cfg.fault_rate,
        "machine": f"{platform.node()} {platform.machine()} {platform.system()} {platform.release()}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--fault-rate", type=float, default=0.5)
    ap.add_argument(
        "--subreaper",
        action="store_true",
        help="adopt orphaned browser processes, as a container's PID 1 does (Linux), to check "
        "that killed browsers leave no zombies",
    )
    ap.add_argument(
        "--keep", type=Path, help="keep the run folders here (default: a temp dir, removed)"
    )
    args = ap.parse_args()
    if args.subreaper and not procs.become_subreaper():
        sys.exit("--subreaper: prctl(PR_SET_CHILD_SUBREAPER) is not available here")
    cfg = SoakConfig(episodes=args.episodes, seed=args.seed, fault_rate=args.fault_rate)
    out = args.keep or Path(tempfile.mkdtemp(prefix="gaze-soak-"))
    try:
        summary = soak(cfg, out)
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    print(json.dumps(summary, indent=2))
    ok = not summary["unaccounted"] and summary["chromium_after"] == summary["chromium_before"]
    sys.exit(0 if ok and summary["fds_after"] == summary["fds_before"] else 1)


if __name__ == "__main__":
    main()
