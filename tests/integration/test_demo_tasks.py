"""Every bundled demo task: its reference solution passes its checks, a truncated one does not, the
full pipeline (model text -> parser -> executor -> browser -> checks) solves it, and the log replays."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.browser import BrowserEnv
from actions.environment import BrowserConfig
from agent.policy import ModelPolicy
from agent.replay import replay_log
from agent.runner import run_task
from agent.trajectory import read_log
from perception.profiles import get_profile
from tasks.reference import run_reference
from tasks.server import SiteServer
from tasks.spec import DoneStep, RefStep, TaskSpec
from tests.integration.conftest import demo_tasks
from tests.oracle import ReferenceOracle

TASKS = demo_tasks()
IDS = [t.id for t in TASKS]


def config_for(task: TaskSpec) -> BrowserConfig:
    return task.browser_config()


def test_suite_is_big_enough() -> None:
    assert len(TASKS) >= 12
    assert all(t.reference for t in TASKS)


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_reference_solution_passes(task: TaskSpec, env: BrowserEnv, server: SiteServer) -> None:
    res = run_reference(task, env, server.resolve_start(task.start), config_for(task))
    assert res.error is None, res.error
    failed = [c.detail for c in res.checks if not c.passed]
    assert res.ok and not failed, failed


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_checks_reject_an_unfinished_solution(
    task: TaskSpec, env: BrowserEnv, server: SiteServer
) -> None:
    """Drop the last page action (and, for question tasks, answer wrongly): the checks must fail."""
    assert task.reference
    steps = [s for s in task.reference if s.name != "done"]
    done = [
        RefStep(done=DoneStep(answer="I could not find it"))
        for s in task.reference
        if s.name == "done"
    ]
    truncated = task.model_copy(update={"reference": steps[:-1] + done})
    res = run_reference(truncated, env, server.resolve_start(task.start), config_for(task))
    assert not res.ok, f"{task.id}: checks pass without the last step"


@pytest.mark.parametrize("task", TASKS, ids=IDS)
def test_full_pipeline_solves_and_replays(
    task: TaskSpec, env: BrowserEnv, server: SiteServer, out_dir: Path
) -> None:
    oracle = ReferenceOracle(task, env, "gaze")
    policy = ModelPolicy(oracle, get_profile("gaze"))
    start = server.resolve_start(task.start)
    result, run_dir = run_task(task, start_url=start, env=env, policy=policy, out=out_dir)
    assert result.success, (
        result.stop_reason,
        result.detail,
        [c.detail for c in result.checks],
        oracle.texts,
    )
    log = read_log(run_dir)
    assert log.warnings == [] and log.result is not None and log.result.success
    assert len(log.steps) == result.model_calls
    replayed = replay_log(log, env, start_url=start)
    assert replayed.success, (
        replayed.error,
        replayed.divergences,
        [c.detail for c in replayed.checks],
    )
