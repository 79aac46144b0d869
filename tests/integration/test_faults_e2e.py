"""Faults end to end in real Chromium: a misbehaving model, and a run log that cannot be written.

- Bad replies in a real run: empty, 10 kB of garbage, NaN coordinates, a point outside the
  viewport (refused by the real executor), each told to the model on its next turn.
- A full disk, two ways. Anywhere: ``gaze run`` gets ``RLIMIT_FSIZE`` lowered under it (via
  ``prlimit`` once Chromium is up, so only Gaze's own writes hit it) and writes fail with EFBIG.
  As root with CAP_SYS_ADMIN: ``--out`` on a 256 kB tmpfs, and writes fail with ENOSPC. Either way
  the run ends with exit code 2 and one line naming the reason and the file, the log keeps only
  whole lines, and ``gaze show`` reads it.
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from actions.browser import BrowserEnv
from agent.loop import LoopConfig
from agent.policy import ModelPolicy
from agent.runner import run_task
from agent.trajectory import read_log
from perception.model import ModelRequest, ScriptedModel
from perception.profiles import get_profile
from tasks.loader import load_task, parse_task
from tasks.server import SiteServer

ROOT = Path(__file__).resolve().parents[2]
GAZE = [sys.executable, "-m", "agent.cli"]


def last_user_text(req: ModelRequest) -> str:
    return [m for m in req.messages if m.role == "user"][-1].text


def test_bad_replies_in_a_real_browser_are_told_to_the_model(
    tmp_path: Path, env: BrowserEnv, server: SiteServer
) -> None:
    task = load_task(ROOT / "tasks/suites/demo/login.yaml")
    garbage = random.Random(7).randbytes(10_000).decode("utf-8", "replace")
    replies = ["", garbage, "click(5000, 5000)", "click(nan, 3)", "click(1e308, 1)", "done()"]
    model = ScriptedModel(replies)
    result, run_dir = run_task(
        task,
        start_url=server.resolve_start(task.start),
        env=env,
        policy=ModelPolicy(model, get_profile("gaze")),
        out=tmp_path,
        loop=LoopConfig(max_steps=5, max_parse_retries=2),
    )
    assert result.stop_reason == "done" and not result.success  # done, but the checks fail
    assert result.model_calls == 6 and result.steps == 2
    log = read_log(run_dir)
    assert [s.parse_error is not None for s in log.steps] == [True, True, False, True, True, False]
    refused = log.steps[2].results[0]
    assert not refused.ok and "outside the 1280x800 viewport" in (refused.error or "")
    told = [last_user_text(r) for r in model.calls]
    for i in (0, 1, 3, 4):  # each parse error is in the next prompt, word for word
        assert f"Problem with your last reply: {log.steps[i].parse_error}" in told[i + 1]
    assert "outside the 1280x800 viewport" in told[3]
    assert "expected a number" in told[4] and "out of range" in told[5]
    assert log.steps[1].model_text == garbage  # kept whole in the log


# ---------------------------------------------------------------- a full disk


def disk_task(tmp_path: Path, viewport: str) -> Path:
    """A task whose long goal makes every steps.jsonl line several kB."""
    goal = "Look at the page and wait. " * 120
    text = (
        f"id: disk\nstart: site:demo/login.html\ngoal: {goal.strip()}\nmax_steps: 200\n"
        f"viewport: {viewport}\nchecks: [{{url_matches: login}}]\n"
    )
    parse_task(text)  # valid, so a failure below is the disk's
    path = tmp_path / "disk.yaml"
    path.write_text(text)
    return path


def waits(tmp_path: Path, n: int = 200) -> str:
    """Replies that act without changing the page and never repeat back to back (not stuck)."""
    path = tmp_path / "replies.txt"
    path.write_text("\n---\n".join("wait(0)" if i % 2 else "wait(0.01)" for i in range(n)))
    return f"scripted:{path}"


def start_run(task: Path, model: str, out: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*GAZE, "run", str(task), "--model", model, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_lines(out: Path, n: int, proc: subprocess.Popen[str]) -> Path:
    """The run folder once its steps.jsonl holds ``n`` lines."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        for steps in out.glob("*/steps.jsonl"):
            if steps.read_bytes().count(b"\n") >= n:
                return steps.parent
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"the run never wrote {n} steps: {proc.communicate()[1][-2000:]}")


def check_log_after_failure(run_dir: Path, stderr: str, reason: str) -> str:
    """The error line, a log of whole lines and whole screenshots, and `gaze show` reading it."""
    assert "Traceback" not in stderr, stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: cannot write the run log: {reason} while writing "), line
    failed = line.split(" while writing ")[1]
    assert failed.startswith(str(run_dir)), line
    raw = (run_dir / "steps.jsonl").read_bytes()
    assert raw.endswith(b"\n")  # cut back to the last whole line
    log = read_log(run_dir)
    assert not [w for w in log.warnings if "truncated" in w], log.warnings
    assert len(log.steps) >= 2
    for shot in (run_dir / "screenshots").iterdir():
        with Image.open(shot) as img:
            img.verify()  # no half-written image was left behind
    shown = subprocess.run(
        [*GAZE, "show", str(run_dir)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0 and "Traceback" not in shown.stderr, shown.stderr
    if log.result is not None:
        assert log.result.stop_reason == "log_error" and reason in log.result.detail
        assert "log_error" in shown.stdout
    return failed


def test_a_file_size_limit_ends_the_run_with_one_clear_line(tmp_path: Path) -> None:
    task = disk_task(tmp_path, "{width: 200, height: 200}")
    out = tmp_path / "runs"
    proc = start_run(task, waits(tmp_path), out)
    run_dir = wait_for_lines(out, 2, proc)
    # Only now, with Chromium running under its own limits: Gaze's process may not grow any file
    # past the largest one it has written so far (plus a little), so steps.jsonl hits it first.
    limit = max(p.stat().st_size for p in run_dir.rglob("*") if p.is_file()) + 2048
    resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    failed = check_log_after_failure(run_dir, stderr, "file too large")
    assert failed == str(run_dir / "steps.jsonl")
    assert (run_dir / "steps.jsonl").stat().st_size <= limit
    log = read_log(run_dir)
    assert log.result is not None  # result.json is small: it fits under the limit
    assert log.result.detail == f"file too large while writing {run_dir / 'steps.jsonl'}"
    assert log.result.model_calls == len(log.steps) + 1  # the call whose line did not fit


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 256 kB tmpfs, or a skip saying why one cannot be mounted here."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN); the RLIMIT_FSIZE test covers it")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_full_disk_ends_the_run_with_one_clear_line(tmp_path: Path, tiny_tmpfs: Path) -> None:
    task = disk_task(tmp_path, "{width: 1280, height: 800}")  # 50 kB screenshots fill it fast
    proc = start_run(task, waits(tmp_path), tiny_tmpfs)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 2, stderr
    (run_dir,) = list(tiny_tmpfs.iterdir())
    failed = check_log_after_failure(run_dir, stderr, "no space left on device")
    assert failed.endswith((".png", "steps.jsonl", "result.json")), failed


def test_an_out_folder_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = subprocess.run(
        [*GAZE, "run", "demo/login", "--model", waits(tmp_path, 2), "--out", str(blocker)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(
        f"error: cannot write the run log: not a directory while writing {blocker}/"
    )


def test_a_full_disk_ends_a_shell_session_with_one_clear_line(
    tmp_path: Path, tiny_tmpfs: Path
) -> None:
    """`gaze shell` stops taking instructions when its log cannot be written, and exits 2."""
    page = "site:demo/login.html"
    run = subprocess.run(
        [*GAZE, "shell", page, "--model", waits(tmp_path), "--yes", "--out", str(tiny_tmpfs),
         "--max-steps", "200"],
        input="Look at the page and wait. " * 120 + "\n/help\n",
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert (
        "error: cannot write the session log, ending the session: no space left on device"
        in run.stdout
    )
    assert "/help" not in run.stdout.split("ending the session")[1]  # nothing ran after it
    (run_dir,) = list(tiny_tmpfs.iterdir())
    assert (run_dir / "steps.jsonl").read_bytes().endswith(b"\n")
    assert read_log(run_dir).steps  # whole lines, readable
