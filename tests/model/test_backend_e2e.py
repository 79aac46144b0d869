"""The real backend in the real loop: tiny model folders driving headless Chromium on the demo login
page, through run_task and through the real `gaze run --model <folder>` command."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from actions.browser import BrowserEnv
from actions.environment import BrowserConfig, open_start_page
from actions.types import Click
from agent.loop import LoopConfig
from agent.policy import ModelPolicy
from agent.runner import run_task
from agent.trajectory import read_log
from perception.backends.transformers_vlm import TransformersVLM
from perception.profiles import get_profile
from tasks.loader import bundled_suite, load_task
from tasks.reference import locate
from tasks.server import SiteServer
from tasks.spec import TaskSpec
from tests.model.conftest import FolderFactory

pytestmark = pytest.mark.browser

GAZE = get_profile("gaze")


@pytest.fixture(scope="module")
def server() -> Iterator[SiteServer]:
    with SiteServer() as s:
        yield s


@pytest.fixture(scope="module")
def env() -> Iterator[BrowserEnv]:
    with BrowserEnv(BrowserConfig()) as e:
        yield e


@pytest.fixture(scope="module")
def login() -> TaskSpec:
    return load_task(bundled_suite("demo") / "login.yaml")


def test_random_model_run_ends_cleanly_with_costs_in_the_log(
    tiny_folder: FolderFactory, env: BrowserEnv, server: SiteServer, login: TaskSpec, tmp_path: Path
) -> None:
    model = TransformersVLM(str(tiny_folder("qwen2_5_vl")), GAZE)
    result, run_dir = run_task(
        login,
        start_url=server.resolve_start(login.start),
        env=env,
        policy=ModelPolicy(model, GAZE),
        out=tmp_path,
        loop=LoopConfig(max_steps=2),
    )
    # seeded random weights: the greedy reply is the same gibberish every time, never an action
    assert result.stop_reason == "unparseable", (result.stop_reason, result.detail)
    assert not result.success and result.steps == 0
    log = read_log(run_dir)
    assert log.warnings == [] and log.result is not None
    assert len(log.steps) == result.model_calls >= 1
    viewport = login.browser_config()
    for rec in log.steps:
        assert rec.model_error is None
        assert rec.model_text is not None
        assert rec.prompt_tokens > 0 and rec.completion_tokens > 0
        images = [i for m in rec.prompt for i in m.images]
        assert images, "every step shows the model a screenshot"
        frame = images[-1].frame
        assert (frame.image_w, frame.image_h) == (viewport.viewport_w, viewport.viewport_h)
        assert images[-1].source == rec.screenshot and (run_dir / rec.screenshot).is_file()
    assert result.prompt_tokens == sum(r.prompt_tokens for r in log.steps)
    assert result.completion_tokens == sum(r.completion_tokens for r in log.steps)
    # the retry budget (3) was spent, each bad reply explained to the model in the next prompt
    assert len(log.steps) == LoopConfig().max_parse_retries + 1
    assert all(r.parse_error for r in log.steps)
    for before, after in itertools.pairwise(log.steps):
        assert before.parse_error is not None
        assert before.parse_error in after.prompt[-1].text


def test_forced_click_on_the_username_field_executes(
    tiny_folder: FolderFactory, env: BrowserEnv, server: SiteServer, login: TaskSpec, tmp_path: Path
) -> None:
    start = server.resolve_start(login.start)
    assert open_start_page(env, start, login.browser_config()) is None
    x, y = locate("#username", env)
    # the gaze profile keeps the screenshot at CSS scale: image pixels are viewport pixels
    answer = f"click({round(x)}, {round(y)})"
    model = TransformersVLM(str(tiny_folder("qwen2_5_vl", forced=answer)), GAZE)
    result, run_dir = run_task(
        login,
        start_url=start,
        env=env,
        policy=ModelPolicy(model, GAZE),
        out=tmp_path,
        loop=LoopConfig(max_steps=2),
    )
    assert result.stop_reason == "step_limit", (result.stop_reason, result.detail)
    log = read_log(run_dir)
    first = log.steps[0]
    assert first.model_text == answer and first.parse_error is None
    assert len(first.actions) == 1 and isinstance(first.actions[0], Click)
    assert (first.actions[0].x, first.actions[0].y) == pytest.approx((round(x), round(y)))
    assert len(first.results) == 1 and first.results[0].ok, first.results
    assert first.prompt_tokens > 0 and first.completion_tokens == 7
    assert env.evaluate("document.activeElement && document.activeElement.id") == "username"


def test_gaze_run_with_a_local_model_folder(tiny_folder: FolderFactory, tmp_path: Path) -> None:
    """The real CLI in a subprocess: `gaze run demo/login --model <folder>` loads the folder with
    the in-process backend, runs the loop in Chromium and ends cleanly with a readable log."""
    root = Path(__file__).resolve().parents[2]
    folder = tiny_folder("qwen2_vl")
    r = subprocess.run(
        [sys.executable, "-m", "agent.cli", "run", "demo/login", "--model", str(folder),
         "--profile", "gaze", "--max-steps", "2", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=root,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr  # gibberish never solves the task
    assert "Traceback" not in r.stderr
    (run_dir,) = list(tmp_path.iterdir())
    log = read_log(run_dir)
    assert log.result is not None and log.result.stop_reason == "unparseable"
    assert log.meta.model == folder.name and log.meta.profile == "gaze"
    assert log.meta.versions.torch and log.meta.versions.transformers
    assert all(s.completion_tokens > 0 for s in log.steps)
    # without --profile a folder named after no known family, of a model_type no profile claims,
    # is refused rather than guessed
    r = subprocess.run(
        [sys.executable, "-m", "agent.cli", "run", "demo/login", "--model", str(tiny_folder("llava"))],
        capture_output=True, text=True, timeout=120, cwd=root,
    )  # fmt: skip
    assert r.returncode == 2 and "--profile" in r.stderr
