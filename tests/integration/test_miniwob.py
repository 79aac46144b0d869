"""MiniWoB++ pages through Gaze's own environment: seeded episodes, rewards and the end of an episode.

The model is a test double that reads its target from the DOM (the quoted word of the utterance)
and answers in Gaze's dialect; it never ships as a model. MiniWoB is used for evaluation only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from actions.browser import BrowserEnv
from agent.loop import LoopConfig, run_episode
from agent.policy import ModelPolicy
from perception.model import ModelRequest, ScriptedModel
from perception.profiles import get_profile
from tasks.miniwob import TASK_H, TASK_W, MiniWoBEnv, html_root, subset, task_names
from tasks.server import SiteServer
from tests.wob import dom_click


@pytest.fixture(scope="module")
def wob(env: BrowserEnv) -> Iterator[MiniWoBEnv]:
    with SiteServer(html_root()) as server:
        yield MiniWoBEnv(env, server.base_url)


def dom_reader(wob: MiniWoBEnv, *, wrong: bool = False) -> ScriptedModel:
    def answer(req: ModelRequest) -> str:
        return dom_click(wob, wrong=wrong)

    return ScriptedModel(answer)


def test_the_package_ships_the_tasks() -> None:
    names = task_names()
    assert len(names) >= 125 and "click-button" in names
    assert len(subset("pix2act")) == 59 and all(t.startswith("click-") for t in subset("click"))


@pytest.mark.parametrize("task", ["click-button", "click-link"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_seeded_episode_is_solved_and_ends(wob: MiniWoBEnv, task: str, seed: int) -> None:
    utterance = wob.start(task, seed)
    assert utterance and wob.status().done is False
    obs = wob.observe()
    assert obs.screenshot.size == (TASK_W, TASK_H)
    ep = run_episode(
        [utterance],
        wob,
        ModelPolicy(dom_reader(wob), get_profile("gaze")),
        config=LoopConfig(max_steps=5),
        stop_check=wob.ended,
    )
    assert ep.stop_reason == "task_ended", (ep.stop_reason, ep.detail)
    assert wob.last is not None and wob.last.done and wob.last.raw_reward > 0
    assert ep.steps == 1  # the loop stopped at once: no click landed on the START cover
    assert not wob.act(ep.records[0].actions[0]).ok


def test_same_seed_same_task(wob: MiniWoBEnv) -> None:
    assert wob.start("click-button", 7) == wob.start("click-button", 7)
    assert {wob.start("click-button", s) for s in range(6)} != {wob.start("click-button", 7)}


def test_a_wrong_click_gets_no_reward(wob: MiniWoBEnv) -> None:
    utterance = wob.start("click-link", 3)
    ep = run_episode(
        [utterance], wob, ModelPolicy(dom_reader(wob, wrong=True), get_profile("gaze")),
        config=LoopConfig(max_steps=3), stop_check=wob.ended,
    )  # fmt: skip
    assert wob.last is not None
    assert not (wob.last.done and wob.last.raw_reward > 0), ep.detail


def test_points_outside_the_task_area_are_refused(wob: MiniWoBEnv) -> None:
    from actions.types import Click

    wob.start("click-button", 0)
    res = wob.act(Click(x=300, y=100))  # inside the browser viewport, outside the task area
    assert not res.ok and "outside" in (res.error or "")


@pytest.mark.slow
def test_every_shipped_task_starts_a_seeded_episode(wob: MiniWoBEnv) -> None:
    """All tasks the package ships (>= 125 registered ones) load, start seeded, give an utterance,
    and show the 160x210 task area; none is over before an action."""
    failures = []
    for task in task_names():
        try:
            utterance = wob.start(task, 0)
            obs = wob.observe()
            status = wob.status()
        except Exception as e:  # collect every failure, not just the first
            failures.append(f"{task}: {type(e).__name__}: {e}")
            continue
        if not utterance.strip() or obs.screenshot.size != (TASK_W, TASK_H) or status.done:
            failures.append(f"{task}: utterance={utterance!r} size={obs.screenshot.size} {status}")
    assert not failures, "\n".join(failures)
