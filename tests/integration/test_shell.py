"""The real ``gaze shell`` in a pseudo-terminal (pexpect) against the bundled demo site.

The only fake is the model (``scripted:FILE``); its clicks use coordinates read from the live page.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from actions.browser import BrowserEnv
from agent.trajectory import read_log
from tasks.reference import locate
from tasks.server import SiteServer

ROOT = Path(__file__).resolve().parents[2]
GAZE = [sys.executable, "-m", "agent.cli"]
PROMPT = "gaze> "
# A dumb terminal keeps prompt_toolkit's output plain; no cursor-position requests to answer.
ENV = {**os.environ, "TERM": "dumb", "PROMPT_TOOLKIT_NO_CPR": "1", "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def points() -> dict[str, str]:
    """Where the login page's controls are, as 'x, y' read once from the live page."""
    with SiteServer() as s, BrowserEnv() as env:
        env.reset(s.url("demo/login.html"))
        found = {sel: locate(sel, env) for sel in ("#username", "#password", "#sign-in")}
    return {k: f"{x:.0f}, {y:.0f}" for k, (x, y) in found.items()}


def script(path: Path, replies: list[str]) -> str:
    path.write_text("\n---\n".join(replies), encoding="utf-8")
    return f"scripted:{path}"


@pytest.fixture
def shell(tmp_path: Path) -> Iterator[list[pexpect.spawn]]:
    """Spawned shells, killed at the end whatever happened."""
    spawned: list[pexpect.spawn] = []
    yield spawned
    for child in spawned:
        if child.isalive():
            child.terminate(force=True)


def spawn(into: list[pexpect.spawn], *args: str) -> pexpect.spawn:
    child = pexpect.spawn(
        sys.executable,
        ["-m", "agent.cli", "shell", *args],
        cwd=str(ROOT),
        env=ENV,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 200),
    )
    into.append(child)
    child.expect_exact(PROMPT)
    return child


def run_line(child: pexpect.spawn, line: str) -> str:
    """Send a line; return what was printed up to the next prompt."""
    child.sendline(line)
    child.expect_exact(PROMPT)
    return str(child.before)


def end(child: pexpect.spawn) -> int:
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    return int(child.exitstatus or 0)


def only_run(out: Path) -> Path:
    (run_dir,) = [p for p in out.iterdir() if p.name.startswith("shell-")]
    return run_dir


def test_instruction_slash_commands_save_and_replay(
    tmp_path: Path, points: dict[str, str], shell: list[pexpect.spawn]
) -> None:
    model = script(
        tmp_path / "m.txt",
        [
            f"Thought: the username box\nAction: click({points['#username']})",
            'type("alice")',
            "done()",
        ],
    )
    out = tmp_path / "runs"
    child = spawn(shell, "site:demo/login.html", "--model", model, "--out", str(out))

    said = run_line(child, "Enter alice as the username")
    assert "step  1" in said and "the username box" in said and "type(text='alice'" in said
    assert "done" in said and "screen: " in said

    assert "step  4" in run_line(child, "/click " + points["#password"].replace(",", ""))
    assert "type(text='hunter2'" in run_line(child, "/type hunter2")
    assert "step  6" in run_line(child, "/click " + points["#sign-in"].replace(",", ""))
    assert "key(keys='Tab')" in run_line(child, "/key tab")

    shot = tmp_path / "now.png"
    assert f"saved {shot}" in run_line(child, f"/shot {shot}")
    assert shot.read_bytes().startswith(b"\x89PNG")
    history = run_line(child, "/history")
    assert "Enter alice as the username" in history and "click(x=" in history
    assert "/goto URL" in run_line(child, "/help")
    assert "error: unknown command /frob" in run_line(child, "/frob")
    assert "error: usage: /click X Y" in run_line(child, "/click 12")
    assert "error: not a URL" in run_line(child, "/goto nowhere")
    saved = tmp_path / "saved"
    assert f"saved the session log to {saved}" in run_line(child, f"/save {saved}")
    child.sendline("/quit")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    log = read_log(saved)
    assert log.meta.task["goals"] == ["Enter alice as the username"]
    assert [len(r.actions) for r in log.steps] == [1, 1, 1, 1, 1, 1, 1]
    assert [r.model_text is None for r in log.steps] == [False] * 3 + [True] * 4
    assert [r.step for r in log.steps] == list(range(7))
    assert log.result is not None and log.result.steps == 7
    assert "dashboard" in log.meta.task["checks"][0]["url_matches"]

    replay = subprocess.run(
        [sys.executable, "-m", "agent.cli", "replay", str(saved)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=ENV,
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "replayed 6 actions" in replay.stdout and "divergence" not in replay.stderr

    live = only_run(out)
    report = subprocess.run(
        [sys.executable, "-m", "agent.cli", "report", str(live)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert report.returncode == 0 and (live / "report.html").is_file()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ctrl_c_stops_the_instruction_not_the_session(
    tmp_path: Path, shell: list[pexpect.spawn]
) -> None:
    model = script(tmp_path / "m.txt", ["wait(20)", "done()"])
    out = tmp_path / "runs"
    child = spawn(shell, "site:demo/index.html", "--model", model, "--out", str(out))
    child.sendline("wait for a long time")
    child.expect_exact("(Ctrl-C stops)")
    time.sleep(1.0)
    t0 = time.monotonic()
    child.sendcontrol("c")
    child.expect_exact("interrupted: instruction stopped", timeout=5)
    child.expect_exact(PROMPT, timeout=5)
    assert time.monotonic() - t0 < 5
    # The browser survived: a page action still works.
    assert "step  2  click(x=5, y=5)" in run_line(child, "/click 5 5")
    assert "error:" in run_line(child, f"/goto http://127.0.0.1:{_closed_port()}/")
    assert "step  4  scroll" in run_line(child, "/scroll")
    assert end(child) == 0

    log = read_log(only_run(out))
    assert log.result is not None and log.result.stop_reason == "interrupted"
    assert [a.kind for r in log.steps for a in r.actions] == ["wait", "click", "navigate", "scroll"]


def test_confirmation_before_typing_a_password(
    tmp_path: Path, points: dict[str, str], shell: list[pexpect.spawn]
) -> None:
    pw = f"click({points['#password']})"
    model = script(tmp_path / "m.txt", [pw, 'type("hunter2")', pw, 'type("hunter2")', "done()"])
    out = tmp_path / "runs"
    child = spawn(shell, "site:demo/login.html", "--model", model, "--out", str(out))
    child.sendline("type the password")
    child.expect_exact("about to type into a password field. Allow? [y/N]")
    said = run_line(child, "n")
    assert "instruction stopped: declined: type into a password field" in said
    child.sendline("type the password, really")
    child.expect_exact("Allow? [y/N]")
    assert "done" in run_line(child, "y")
    assert end(child) == 0

    log = read_log(only_run(out))
    typed = [(r.goal_index, len(r.results)) for r in log.steps if r.actions[0].kind == "type"]
    assert typed == [(0, 0), (1, 1)]  # declined: not executed; allowed: executed


def test_yes_and_eof_on_a_pipe(tmp_path: Path, points: dict[str, str]) -> None:
    pw = f"click({points['#password']})"
    model = script(tmp_path / "m.txt", [pw, 'type("hunter2")', "done()"])
    out = tmp_path / "runs"
    r = subprocess.run(
        [*GAZE, "shell", "site:demo/login.html", "--model", model, "--yes", "--out", str(out)],
        input="type the password\n/bogus\n",
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=ENV,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Allow?" not in r.stdout and "allowed by --yes" in r.stdout
    assert "error: unknown command /bogus" in r.stdout
    log = read_log(only_run(out))
    assert log.result is not None and log.result.stop_reason == "done" and not log.warnings
    assert len(log.steps) == 3 and (log.run_dir / "result.json").is_file()
