"""Browser faults end recovered (noted in the log) or with a clear stop reason, never in a hang.

Each fault runs through the real pipeline (scripted model -> parser -> loop -> BrowserEnv ->
Chromium, recorded by ``run_task``) on pages served from 127.0.0.1, and each test checks the
outcome, the wall time against the configured timeouts, and that the run folder is complete.
Faults are real: renderer and browser processes are killed by pid, pages busy-loop, a server
stalls mid-response. docs/reliability/browser-faults.md lists what each test proves.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from actions import dialogs, procs
from actions.browser import BrowserEnv
from actions.environment import BrowserConfig
from actions.types import Action, Click, DialogInfo, Done, KeyPress, Wait, describe
from agent.loop import LoopConfig
from agent.policy import ModelPolicy
from agent.runner import run_task
from agent.trajectory import LoadedLog, RunResult, read_log
from perception.model import ModelRequest, ScriptedModel
from perception.parsers import format_action
from perception.profiles import get_profile
from tasks.spec import TaskSpec

BUTTON = "position:absolute;left:10px;top:10px;width:120px;height:40px"
AT_BUTTON = (70.0, 30.0)  # the centre of BUTTON, viewport CSS px
PAGES = {
    "/": f"""<!doctype html><title>home</title>
<a id=next href="/next" style="{BUTTON};display:block">next</a>""",
    "/next": "<!doctype html><title>next</title><h1>Next page</h1>",
    "/busy": f"""<!doctype html><title>busy</title>
<button style="{BUTTON}" onclick="while (true) {{}}">spin</button>""",
    "/alerts": f"""<!doctype html><title>alerts</title>
<button style="{BUTTON}" onclick="while (true) alert('again')">alert</button>""",
    "/alerts-on-load": """<!doctype html><title>alerts-on-load</title>
<script>while (true) alert('welcome')</script>""",
    "/leave": f"""<!doctype html><title>leave</title>
<a href="/next" style="{BUTTON};display:block">next</a>
<input id=draft style="position:absolute;left:10px;top:80px;width:200px;height:24px">
<script>addEventListener('beforeunload', e => {{ e.preventDefault(); e.returnValue = ''; }})</script>""",
    "/popups": f"""<!doctype html><title>popups</title>
<button style="{BUTTON}" onclick="for (let i = 0; i < 50; i++) window.open('/next?' + i)">open</button>""",
    "/downloads": f"""<!doctype html><title>downloads</title>
<button style="{BUTTON}" onclick="for (let i = 0; i < 50; i++) {{
  const a = document.createElement('a'); a.href = '/file?' + i; a.download = 'f.txt'; a.click(); }}"
>download</button>""",
    "/stalled-image": """<!doctype html><title>stalled-image</title>
<img src="/stall.png" width=10 height=10><p>The image never arrives; the load event never fires.""",
    "/to-stall": f"""<!doctype html><title>to-stall</title>
<a href="/stall" style="{BUTTON};display:block">stall</a>""",
}
STOP = threading.Event()  # releases stalled responses when the module's server shuts down


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path in ("/stall", "/stall.png"):  # headers and a little of the body, then nothing
            self.send_response(200)
            self.send_header("Content-Type", "text/html" if path == "/stall" else "image/png")
            self.end_headers()
            with contextlib.suppress(OSError):
                self.wfile.write(b"<!doctype html><title>stalled</title><p>half a page")
                self.wfile.flush()
            STOP.wait(60)
            return
        if path == "/file":
            body = b"a,b\n1,2\n"
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Disposition", 'attachment; filename="f.txt"')
        else:
            body = PAGES.get(path, "<title>404</title>").encode()
            self.send_response(200 if path in PAGES else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    STOP.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    STOP.set()
    httpd.shutdown()
    httpd.server_close()


# Short timeouts keep the file fast; every bound below is written in terms of them.
CFG = BrowserConfig(viewport_w=640, viewport_h=400, action_timeout_s=2.0, navigation_timeout_s=3.0)
LAUNCH_S = 15.0  # a browser relaunch plus a reload, on a busy 2-core CI machine
STEP_S = CFG.action_timeout_s + CFG.navigation_timeout_s + 5  # act()'s own deadline


@pytest.fixture(scope="module")
def fenv() -> Iterator[BrowserEnv]:
    with BrowserEnv(CFG) as e:
        yield e


Step = Action | Callable[[], Action]


def scripted(*steps: Step) -> ScriptedModel:
    """A model that answers with ``steps`` in order (a callable step runs when the model is
    asked, before it answers: that is where faults are injected), then ``done()``."""
    todo = list(steps)

    def answer(req: ModelRequest) -> str:
        step = todo.pop(0) if todo else Done()
        action = step() if callable(step) else step
        image = req.last_image
        assert image is not None
        return format_action(action, image.frame, "gaze")

    return ScriptedModel(answer)


def task(start: str, checks: list[dict[str, object]], max_steps: int = 8) -> TaskSpec:
    return TaskSpec.model_validate(
        {
            "id": "fault",
            "start": start,
            "goal": "survive the fault",
            "max_steps": max_steps,
            "viewport": {"width": CFG.viewport_w, "height": CFG.viewport_h},
            "checks": checks,
        }
    )


def run(
    env: BrowserEnv,
    out: Path,
    start: str,
    model: ScriptedModel,
    checks: list[dict[str, object]] | None = None,
    cfg: BrowserConfig = CFG,
    loop: LoopConfig | None = None,
) -> tuple[RunResult, LoadedLog, float]:
    """Run one task; (result, the log read back, wall seconds). The log must be complete."""
    spec = task(start, checks or [{"url_matches": "."}])
    t0 = time.perf_counter()
    result, run_dir = run_task(
        spec,
        start_url=start,
        env=env,
        policy=ModelPolicy(model, get_profile("gaze")),
        out=out,
        browser=cfg,
        loop=loop,
    )
    wall = time.perf_counter() - t0
    log = read_log(run_dir)
    assert log.warnings == [] and log.result == result, log.warnings
    assert len(log.steps) == result.model_calls
    for rec in log.steps:  # no step waited past act()'s deadline plus one restart
        assert rec.timings.get("act_s", 0.0) < STEP_S + LAUNCH_S, rec.timings
    return result, log, wall


def kill_renderers(env: BrowserEnv) -> None:
    assert env.browser_pid is not None
    killed = [p.pid for p in procs.renderers(env.browser_pid) if procs.kill(p.pid)]
    assert killed, "no renderer to kill"
    time.sleep(0.3)  # usually enough for Chromium to report the crash; either order is handled


def gone(pid: int) -> bool:
    return not any(p.pid == pid and not p.zombie for p in procs.processes())


def started_since(before: set[int]) -> list[procs.Proc]:
    """Chromium processes of ours that are not in ``before`` and not below a process that is
    (browsers already running, such as other modules' fixtures, start spare renderers at will)."""
    parent = {p.pid: p.ppid for p in procs.processes()}

    def inherited(pid: int) -> bool:
        while pid in parent and pid > 1:
            pid = parent[pid]
            if pid in before:
                return True
        return False

    return [p for p in procs.chromium() if p.pid not in before and not inherited(p.pid)]


# ------------------------------------------------------------------ crashes and deaths


def test_renderer_crash_before_an_action_reloads_and_the_model_looks_again(
    fenv: BrowserEnv, site: str, out_dir: Path
) -> None:
    def crash() -> Action:
        kill_renderers(fenv)
        return Click(x=AT_BUTTON[0], y=AT_BUTTON[1])

    model = scripted(crash, Click(x=AT_BUTTON[0], y=AT_BUTTON[1]))
    result, log, wall = run(fenv, out_dir, site + "/", model, [{"url_matches": "/next$"}])
    assert result.success, (result.stop_reason, result.detail)
    first = log.steps[0].results[0]
    assert not first.ok and first.error is not None
    assert "the browser restarted: the page crashed; reloaded " + site + "/ in a new tab" in (
        first.error
    )
    assert "was not performed" in first.error
    assert any("Look at the new screenshot" in f for f in log.steps[0].feedback)
    told = model.calls[1].messages[-1].text
    assert "the browser restarted; the page was reloaded" in told
    assert log.steps[1].url == site + "/"  # the reloaded page, where the retry then worked
    assert wall < 2 * STEP_S + LAUNCH_S


def test_browser_killed_mid_action_is_relaunched(
    fenv: BrowserEnv, site: str, out_dir: Path
) -> None:
    pids: list[int] = []

    def kill_soon() -> Action:
        assert fenv.browser_pid is not None
        pids.append(fenv.browser_pid)
        # the click below busy-loops the page, so the kill lands while the action is in flight
        threading.Timer(0.8, procs.kill, (fenv.browser_pid,)).start()
        return Click(x=AT_BUTTON[0], y=AT_BUTTON[1])

    result, log, wall = run(
        fenv, out_dir, site + "/busy", scripted(kill_soon), [{"url_matches": "/busy$"}]
    )
    assert result.success, (result.stop_reason, result.detail)
    error = log.steps[0].results[0].error or ""
    assert "the browser process died; restarted the browser and reloaded " + site + "/busy" in error
    assert "whether click(" in error and "took effect is unknown" in error
    assert fenv.browser_pid not in (None, pids[0]) and gone(pids[0])
    assert wall < STEP_S + LAUNCH_S + 5


def test_hung_page_is_replaced_after_the_action_times_out(
    fenv: BrowserEnv, site: str, out_dir: Path
) -> None:
    model = scripted(Click(x=AT_BUTTON[0], y=AT_BUTTON[1]))
    result, log, wall = run(fenv, out_dir, site + "/busy", model, [{"url_matches": "/busy$"}])
    assert result.success, (result.stop_reason, result.detail)
    error = log.steps[0].results[0].error or ""
    assert "the page stopped responding; reloaded " + site + "/busy in a new tab" in error
    act_s = log.steps[0].timings["act_s"]
    assert CFG.action_timeout_s <= act_s < CFG.action_timeout_s + 2.0 + LAUNCH_S  # + probe
    assert wall < STEP_S + LAUNCH_S + 5


def test_restarts_past_the_budget_stop_with_env_error(
    fenv: BrowserEnv, site: str, out_dir: Path
) -> None:
    def crash() -> Action:
        kill_renderers(fenv)
        return Wait(seconds=0.1)

    cfg = replace(CFG, max_restarts=1)
    result, log, wall = run(fenv, out_dir, site + "/", scripted(crash, crash, crash), cfg=cfg)
    assert result.stop_reason == "env_error" and not result.success
    assert result.detail == (
        "the page crashed, and the browser was already restarted 1 time(s) since the task "
        "started (max_restarts=1)"
    )
    assert len(log.steps) == 2 and "the browser restarted" in (log.steps[0].results[0].error or "")
    assert wall < 2 * (STEP_S + LAUNCH_S)


def test_observe_reports_a_recovery_as_a_note_and_nothing_leaks(site: str) -> None:
    before = {p.pid for p in procs.chromium()}
    fds = procs.open_fds()
    env = BrowserEnv(CFG)
    try:
        assert env.reset(site + "/next").ok
        first = env.browser_pid
        assert first is not None and first in {p.pid for p in procs.chromium()}
        kill_renderers(env)
        obs = env.observe()
        assert obs.notes == (f"the page crashed; reloaded {site}/next in a new tab",)
        assert obs.title == "next"
        procs.kill(first)
        t0 = time.perf_counter()
        obs = env.observe()
        assert time.perf_counter() - t0 < LAUNCH_S
        assert obs.notes == (
            f"the browser process died; restarted the browser and reloaded {site}/next "
            "(cookies were lost)",
        )
        assert obs.title == "next" and env.browser_pid not in (None, first)
    finally:
        env.close()
    deadline = time.monotonic() + 5  # the last browser's children exit just after it
    while started_since(before) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started_since(before) == []
    assert not [p for p in procs.processes() if p.ppid == os.getpid() and p.zombie]
    assert procs.open_fds() <= fds


# ------------------------------------------------------------------ pages that misbehave


def test_page_whose_load_never_finishes(fenv: BrowserEnv, site: str, out_dir: Path) -> None:
    # a sub-resource that never completes: DOMContentLoaded is enough, nothing waits for load
    result, _, wall = run(
        fenv, out_dir, site + "/stalled-image", scripted(), [{"text_visible": "never arrives"}]
    )
    assert result.success and wall < CFG.navigation_timeout_s + 5
    # a document that stalls after its headers: captured as it is, noted, bounded
    model = scripted(Click(x=AT_BUTTON[0], y=AT_BUTTON[1]))
    result, log, wall = run(fenv, out_dir, site + "/to-stall", model, [{"url_matches": "/stall$"}])
    assert result.success, (result.stop_reason, result.detail)
    assert log.steps[1].notes == [
        f"the page was still loading after {CFG.navigation_timeout_s:.0f} s"
    ]
    assert log.steps[1].url == site + "/stall"
    assert wall < 2 * STEP_S


def test_start_page_that_never_loads_is_a_clear_env_error(
    fenv: BrowserEnv, site: str, out_dir: Path
) -> None:
    result, log, wall = run(fenv, out_dir, site + "/stall", scripted())
    assert result.stop_reason == "env_error" and log.steps == []
    assert result.detail.startswith(f"the start page failed: could not load {site}/stall: ")
    assert "Timeout" in result.detail
    assert wall < CFG.navigation_timeout_s + 5


@pytest.mark.parametrize("start", ["/alerts", "/alerts-on-load"])
def test_infinite_alert_loop_ends_stuck(
    fenv: BrowserEnv, site: str, out_dir: Path, start: str
) -> None:
    enter = KeyPress(keys="Enter")
    first: Step = Click(x=AT_BUTTON[0], y=AT_BUTTON[1]) if start == "/alerts" else enter
    model = scripted(first, *[enter] * 6)
    result, log, wall = run(fenv, out_dir, site + start, model, loop=LoopConfig(max_steps=10))
    assert result.stop_reason == "stuck", (result.stop_reason, result.detail)
    assert result.detail == f"{describe(enter)} repeated 4 times with no visible effect"
    assert all(rec.dialog is not None and rec.dialog.type == "alert" for rec in log.steps[1:])
    assert wall < CFG.navigation_timeout_s + 8 * 2


def test_beforeunload_prompt_is_shown_and_answered(
    fenv: BrowserEnv, site: str, out_dir: Path
) -> None:
    info = dialogs.layout(
        DialogInfo(type="beforeunload", message=""), CFG.viewport_w, CFG.viewport_h
    )
    leave = Click(x=info.ok[0] + info.ok[2] / 2, y=info.ok[1] + info.ok[3] / 2)
    # typing first gives the page the user activation Chromium requires before it asks
    model = scripted(
        Click(x=100, y=92), KeyPress(keys="a"), Click(x=AT_BUTTON[0], y=AT_BUTTON[1]), leave
    )
    result, log, wall = run(fenv, out_dir, site + "/leave", model, [{"url_matches": "/next$"}])
    assert result.success, (result.stop_reason, result.detail)
    shown = [rec for rec in log.steps if rec.dialog is not None]
    assert [rec.dialog.type for rec in shown if rec.dialog] == ["beforeunload"]
    assert "the beforeunload dialog was accepted" in log.steps[3].results[0].notes
    assert wall < 5 * STEP_S


def test_download_storm_is_capped_and_every_file_kept(
    fenv: BrowserEnv, site: str, out_dir: Path
) -> None:
    cfg = replace(CFG, max_downloads=5)
    model = scripted(Click(x=AT_BUTTON[0], y=AT_BUTTON[1]), Wait(seconds=1.0))
    result, log, wall = run(fenv, out_dir, site + "/downloads", model, cfg=cfg)
    assert result.success, (result.stop_reason, result.detail)
    files = sorted(p.name for p in (log.run_dir / "downloads").iterdir())
    assert len(files) == 5, files  # five distinct names: concurrent saves never overwrite
    notes = [n for rec in log.steps for n in rec.notes] + [
        n for rec in log.steps for r in rec.results for n in r.notes
    ]
    assert any("refused: 5 files were downloaded already" in n for n in notes), notes
    assert all(len(rec.notes) <= 8 for rec in log.steps)
    assert wall < 3 * STEP_S


def test_popup_storm_is_capped(fenv: BrowserEnv, site: str, out_dir: Path) -> None:
    cfg = replace(CFG, max_tabs=4)
    model = scripted(Click(x=AT_BUTTON[0], y=AT_BUTTON[1]))
    result, log, wall = run(
        fenv, out_dir, site + "/popups", model, [{"url_matches": r"/next\?\d+$"}], cfg=cfg
    )
    assert result.success, (result.stop_reason, result.detail)
    notes = [n for rec in log.steps for n in rec.notes] + list(log.steps[0].results[0].notes)
    assert any(
        n.startswith("the page opened more than 4 tabs; the extra tab was closed (x") for n in notes
    )
    assert all(
        len(rec.notes) <= 8 and len(rec.results[0].notes if rec.results else ()) <= 8
        for rec in log.steps
    )
    assert wall < 3 * STEP_S


# ------------------------------------------------------------------ soak


@pytest.mark.slow
def test_soak_accounts_for_every_episode_and_leaks_nothing(tmp_path: Path) -> None:
    """bench/soak.py in a process of its own, so that its process and descriptor counts are
    its own, and that it can adopt the orphans of killed browsers (``--subreaper``, as PID 1 in a
    container does): zombies among them would be counted. Seed 7 gives six faulted episodes: a browser kill mid-action (twice), a renderer
    crash, model errors and a slow page."""
    root = Path(__file__).resolve().parents[2]
    argv = [sys.executable, str(root / "bench" / "soak.py"), "--episodes", "6", "--seed", "7"]
    argv += ["--fault-rate", "1", "--subreaper", "--keep", str(tmp_path / "soak")]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-3000:]
    summary = json.loads(proc.stdout)
    assert summary["accounted"] == 6 and summary["unaccounted"] == [], summary
    assert summary["chromium_before"] == summary["chromium_after"] == 0, summary
    assert summary["zombies_after"] == 0 and summary["fds_after"] == summary["fds_before"]
    assert set(summary["by_fault"]) >= {"renderer_crash", "browser_kill", "model_error"}, summary
    assert summary["recoveries_logged"] >= 2, summary
    runs = sorted((tmp_path / "soak").iterdir())
    assert len(runs) == 6 and all(read_log(r).result is not None for r in runs)


@pytest.mark.slow
def test_frozen_browser_is_killed_and_relaunched(
    fenv: BrowserEnv, site: str, out_dir: Path
) -> None:
    """SIGSTOP: the browser process neither dies nor answers; its calls would only time out."""
    frozen: list[int] = []

    def freeze() -> Action:
        assert fenv.browser_pid is not None
        frozen.append(fenv.browser_pid)
        os.kill(fenv.browser_pid, signal.SIGSTOP)
        return Click(x=AT_BUTTON[0], y=AT_BUTTON[1])

    try:
        result, log, wall = run(
            fenv, out_dir, site + "/", scripted(freeze), [{"url_matches": "/$"}]
        )
    finally:
        for pid in frozen:  # killed by the recovery; a leftover is let go rather than kept frozen
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
    assert result.success, (result.stop_reason, result.detail)
    error = log.steps[0].results[0].error or ""
    assert "the browser stopped responding; restarted the browser and reloaded " + site in error
    assert gone(frozen[0]) and fenv.browser_pid not in (None, frozen[0])
    # the action's timeout, the page and browser probes, then a kill and a relaunch
    assert log.steps[0].timings["act_s"] < CFG.action_timeout_s + 4.0 + LAUNCH_S
    assert wall < STEP_S + LAUNCH_S + 5
