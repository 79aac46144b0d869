"""bench/synth_goals.py in real headless Chromium: held-out generated pages served from 127.0.0.1,
driven through BrowserEnv by the agent loop; only the model is fake.

- A model that replays, step by step, the demonstration the data engine itself records on each
  page (``tasks.synth.engine.render_page``: its own tab, its own goal planning) solves every
  episode. It only follows the engine's script when the bench asks for the engine's goal on that
  page, so a bench that planned another goal (other rng, other page, other candidates) fails.
- A model that answers ``done()`` at once solves nothing: no goal's check holds on a page nobody
  touched, and an answer goal needs the right answer, not just a true check.

Seed 1369's first four held-out demonstration pages (widget-sized, 200x200 to 400x300; generator
version 2) are a scroll goal, a search, an answer goal and a bare text box to fill: scrolling,
typing and reading.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from actions.types import Action, Done
from agent.trajectory import read_log
from bench.synth_goals import GoalsConfig, GoalsSummary, goal_plans, run_goals
from perception.model import Completion, ModelRequest, ScriptedModel
from perception.parsers import format_action
from perception.profiles import get_profile
from tasks.synth.engine import GenConfig, plan_page, render_page
from tasks.synth.render import RenderConfig, Renderer

SEED = 1369
EPISODES = 4

Demos = dict[str, tuple[str, list[Action]]]  # page id -> (goal text, the demonstration's actions)


async def _engine_demos(out: Path) -> tuple[Demos, dict[str, str]]:
    """The engine's demonstrations on the first EPISODES held-out demonstration pages."""
    config = GenConfig(out=out, split="heldout", pages=100, seed=SEED)
    demos: Demos = {}
    kinds: dict[str, str] = {}
    async with Renderer(RenderConfig(workers=1)) as renderer:
        index = 0
        while len(demos) < EPISODES:
            plan = plan_page(config, index)
            index += 1
            if plan.kind != "demo":
                continue
            result = await render_page(renderer, plan, config)
            assert result.dropped is None, (plan.page_id, result.dropped)
            steps = result.samples
            assert [s.step for s in steps] == list(range(len(steps)))
            actions = [s.action for s in steps if s.action is not None]
            assert len(actions) == len(steps) and isinstance(actions[-1], Done)
            assert steps[0].goal is not None
            demos[plan.page_id] = (steps[0].goal, actions)
            kinds[plan.page_id] = steps[0].task
    return demos, kinds


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Demos, dict[str, str]]:
    return asyncio.run(_engine_demos(tmp_path_factory.mktemp("engine")))


class DemoReplay:
    """Plays each page's engine demonstration, one action per call, written in the gaze dialect
    in the frame of the image this request shows. Which page: the URL in the prompt."""

    name = "demo-replay"

    def __init__(self, demos: Demos) -> None:
        self.demos = demos
        self.calls: dict[str, int] = {}
        self.goals: dict[str, str] = {}

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        out = []
        for req in requests:
            text = "\n".join(m.text for m in req.messages if m.role == "user")
            page = re.search(r"/(p\d{6})\.html", text)
            goal = re.search(r"^Goal: (.*)$", text, re.MULTILINE)
            assert page and goal and req.last_image is not None, text
            want, actions = self.demos[page.group(1)]
            i = self.calls.get(page.group(1), 0)
            self.calls[page.group(1)] = i + 1
            self.goals[page.group(1)] = goal.group(1)
            if goal.group(1) != want or i >= len(actions):
                reply = "done()"  # not the engine's goal: give up on it at once
            else:
                reply = format_action(actions[i], req.last_image.frame, "gaze")
            out.append(Completion(text=reply))
        return out


def test_engine_demonstrations_replayed_by_the_agent_solve_every_goal(
    engine: tuple[Demos, dict[str, str]], tmp_path: Path
) -> None:
    demos, kinds = engine
    assert set(kinds.values()) == {"scroll", "search", "answer", "entry"}
    model = DemoReplay(demos)
    seen: list[object] = []
    config = GoalsConfig(episodes=EPISODES, seed=SEED, max_steps=12)
    summary = run_goals(config, model, get_profile("gaze"), tmp_path, on_episode=seen.append)
    assert model.goals == {p: g for p, (g, _) in demos.items()}  # the engine's goal on its page
    assert [r.page_id for r in summary.episodes] == list(demos)
    for r in summary.episodes:
        assert r.solved and r.check_held, (r.page_id, r.kind, r.stop_reason, r.detail)
        assert r.kind == kinds[r.page_id] and r.stop_reason == "done"
        assert r.steps == len(demos[r.page_id][1])
        log = read_log(tmp_path / r.log)
        assert log.result is not None and log.result.success
        assert len(log.steps) == r.steps and log.meta.task["goal"] == r.goal
    answer = next(r for r in summary.episodes if r.kind == "answer")
    assert answer.answer == answer.expected_answer and answer.answer
    assert summary.overall.episodes == summary.overall.solved == EPISODES
    assert summary.overall.rate == 1.0 and summary.overall.ci95[1] == 1.0
    assert sum(k.episodes for k in summary.per_kind) == EPISODES
    assert summary.complete and not summary.skipped and len(seen) == EPISODES
    assert summary.pages_scanned == int(summary.episodes[-1].page_id[1:]) + 1
    on_disk = GoalsSummary.model_validate_json((tmp_path / "summary.json").read_bytes())
    assert on_disk == summary
    assert sorted(p.name for p in (tmp_path / "pages").iterdir()) == [f"{p}.html" for p in demos]


def test_a_model_that_stops_at_once_solves_nothing(
    engine: tuple[Demos, dict[str, str]], tmp_path: Path
) -> None:
    demos, _ = engine
    model = ScriptedModel(lambda req: "done()", name="done-at-once")
    config = GoalsConfig(episodes=EPISODES, seed=SEED)
    summary = run_goals(config, model, get_profile("gaze"), tmp_path)
    assert [r.page_id for r in summary.episodes] == list(demos)
    assert summary.overall.solved == 0 and summary.overall.rate == 0.0
    assert summary.overall.ci95[0] == 0.0 and summary.overall.ci95[1] < 0.6
    for r in summary.episodes:
        assert not r.solved and r.steps == 1 and r.stop_reason == "done", r
        # an untouched page: every check fails, except that an answer goal's value is on the
        # page all along, so only the missing answer fails it
        assert r.check_held == (r.kind == "answer"), r
    answer = next(r for r in summary.episodes if r.kind == "answer")
    assert answer.answer is None and answer.expected_answer
    log = read_log(tmp_path / answer.log)
    assert log.result is not None and [c.passed for c in log.result.checks] == [True, False]


def test_the_training_split_is_planned_on_request_and_the_held_out_one_by_default() -> None:
    kinds = ("entry", "login")
    held = next(goal_plans(GoalsConfig(seed=777, kinds=kinds)))
    train = next(goal_plans(GoalsConfig(seed=777, kinds=kinds, split="train")))
    assert held.spec.split == "heldout" and train.spec.split == "train"
    assert held.goal in kinds and train.goal in kinds
