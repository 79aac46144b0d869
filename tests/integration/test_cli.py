"""The real ``gaze`` command in a subprocess: run, show, report, replay, schema, errors, kills."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actions.browser import BrowserEnv
from agent.trajectory import read_log
from tasks.loader import load_task
from tasks.reference import locate
from tasks.server import SiteServer

GAZE = [sys.executable, "-m", "agent.cli"]
ROOT = Path(__file__).resolve().parents[2]


def gaze(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GAZE, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)


@pytest.fixture(scope="module")
def login_points(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[float, float]]:
    """Where the login page's controls are, read once from the live page."""
    task = load_task(ROOT / "tasks/suites/demo/login.yaml")
    with SiteServer() as s, BrowserEnv() as env:
        env.reset(s.resolve_start(task.start))
        return {
            sel: locate(sel, env) for sel in ("#username", "#password", "#remember", "#sign-in")
        }


def script(path: Path, replies: list[str]) -> str:
    path.write_text("\n---\n".join(replies), encoding="utf-8")
    return f"scripted:{path}"


def test_run_show_report_replay(
    tmp_path: Path, login_points: dict[str, tuple[float, float]]
) -> None:
    p = {k: f"{x:.0f}, {y:.0f}" for k, (x, y) in login_points.items()}
    replies = [
        f"Thought: the username field\nAction: click({p['#username']})",
        'type("alice")',
        f"click({p['#password']})",
        'type("hunter2")',
        f"click({p['#remember']})",
        f"click({p['#sign-in']})",
        "done()",
    ]
    out = tmp_path / "runs"
    r = gaze("run", "demo/login", "--model", script(tmp_path / "r.txt", replies), "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "pass" in r.stdout and "scripted model" in r.stderr
    (run_dir,) = list(out.iterdir())
    log = read_log(run_dir)
    assert log.result is not None and log.result.success and len(log.steps) == 7
    assert log.meta.versions.chromium and log.meta.versions.playwright
    assert log.meta.task["id"] == "login"

    shown = gaze("show", str(run_dir))
    assert shown.returncode == 0 and "click" in shown.stdout and "success" in shown.stdout

    rep = gaze("report", str(run_dir))
    assert rep.returncode == 0
    html = (run_dir / "report.html").read_text()
    assert (
        html.count("<section class='step'>") == 7
        and "<circle" in html
        and "http" not in html.split("<main>")[0].split("</style>")[0]
    )

    rp = gaze("replay", str(run_dir))
    assert rp.returncode == 0, rp.stdout + rp.stderr
    assert "success" in rp.stdout


def test_failed_task_exits_1(tmp_path: Path) -> None:
    r = gaze(
        "run",
        "demo/login",
        "--model",
        script(tmp_path / "r.txt", ["done()"]),
        "--out",
        str(tmp_path),
    )
    assert r.returncode == 1
    assert "FAIL" in r.stdout


def test_a_builtin_folder_without_weights_says_how_to_get_one(tmp_path: Path) -> None:
    r = gaze("run", "demo/login", "--model", f"builtin:{tmp_path}")
    assert r.returncode == 2
    assert "gaze train" in r.stderr and "missing" in r.stderr


def test_bad_task_file_names_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\nstart: site:demo/login.html\ngoal: g\nmax_steps: many\nchecks: [{js: '1'}]\n"
    )
    r = gaze("run", str(bad), "--model", "scripted:/dev/null")
    assert r.returncode == 2
    assert f"{bad}:4: max_steps:" in r.stderr.replace("\n", "")
    assert "Traceback" not in r.stderr


def test_schema_and_tasks_list() -> None:
    r = gaze("schema")
    assert r.returncode == 0 and json.loads(r.stdout)["title"] == "Gaze task"
    t = gaze("tasks", "demo")
    assert t.returncode == 0 and "login" in t.stdout


def test_garbage_log_folder_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text("{not json")
    for cmd in ("show", "report", "replay"):
        r = gaze(cmd, str(tmp_path))
        assert r.returncode == 2 and "meta.json" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_leaves_a_readable_log(
    tmp_path: Path, sig: signal.Signals, login_points: dict[str, tuple[float, float]]
) -> None:
    x, y = login_points["#username"]
    replies = [f"click({x:.0f}, {y:.0f})", "wait(20)", "done()"]
    out = tmp_path / "runs"
    proc = subprocess.Popen(
        [*GAZE, "run", "demo/login", "--model", script(tmp_path / "r.txt", replies), "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    deadline = time.monotonic() + 60
    steps_file = None
    while time.monotonic() < deadline:
        found = list(out.glob("*/steps.jsonl")) if out.exists() else []
        if found and found[0].read_text().count("\n") >= 1:  # the click is recorded
            steps_file = found[0]
            time.sleep(1.0)  # the wait(20) step is under way
            break
        time.sleep(0.1)
    assert steps_file is not None, "the run never recorded its first steps"
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    log = read_log(steps_file.parent)
    assert len(log.steps) >= 1
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert log.result is not None and log.result.stop_reason == "interrupted"
        assert log.result.steps == 1 and log.result.model_calls == 2  # the episode so far is kept
        # the step that was running when Ctrl-C came is kept, with the model's reply
        assert len(log.steps) == 2 and log.steps[1].model_text == "wait(20)"
    else:
        assert log.result is None and any("no result.json" in w for w in log.warnings)
    shown = gaze("show", str(steps_file.parent))
    assert shown.returncode == 0 and "Traceback" not in shown.stderr
    assert "wait(20)" in shown.stdout or sig == signal.SIGKILL  # the interrupted step is shown
    if sig == signal.SIGKILL:
        assert "no result.json" in shown.stderr
        # a kill in the middle of a write leaves half a line: shown as a warning, not an error
        n = len(log.steps)
        with steps_file.open("ab") as f:
            f.write(b'{"step": 1, "attempt": 0, "time": "2026-11-26T08:00')
        shown = gaze("show", str(steps_file.parent))
        assert shown.returncode == 0 and "Traceback" not in shown.stderr
        assert f"steps.jsonl:{n + 1}: last line is truncated or corrupt and was skipped" in (
            shown.stderr.replace("\n", "")
        )
        assert len(read_log(steps_file.parent).steps) == n
