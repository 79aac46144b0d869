"""Sweeps on real headless Chromium: MiniWoB episodes on parallel workers with batched model calls,
rewards and the end of each episode, summary.json, resume after an interruption, the sweep report
in a browser, the demo suite through the same runner, and the ``gaze bench`` command.

The only fakes are models: a DOM-reading double (tests/wob.py) for MiniWoB and the reference
oracle (tests/oracle.py) for demo tasks. MiniWoB is used for evaluation only.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from actions.chromium import QUIET_ARGS, find_chromium, needs_no_sandbox
from actions.environment import Environment
from agent.cli import main
from agent.runner import versions
from agent.sweep import EPISODES, Job, SweepPlan, jobs, run_sweep, slot_dir
from agent.sweep_report import write_sweep_report
from agent.sweep_suites import Suite, resolve_suite
from agent.sweep_summary import SweepSummary
from agent.trajectory import RunResult, now_iso, read_log
from perception.model import Model
from perception.profiles import get_profile
from tasks.server import SiteServer
from tests.oracle import ReferenceOracle
from tests.wob import DomAnswers, dom_reader

ROOT = Path(__file__).resolve().parents[2]
TASKS = "click-button,click-link"
WRONG = Job("click-link", 2)  # the one episode the double answers wrongly


def plan_for(suite: Suite, seeds: list[int], max_steps: int | None = 4) -> SweepPlan:
    return SweepPlan(
        suite=suite.name, kind=suite.kind, tasks=suite.tasks, seeds=seeds, model="dom-reader",
        profile="gaze", max_steps=max_steps, scoring=suite.scoring, versions=versions(),
        created_at=now_iso(),
    )  # fmt: skip


def result_of(out: Path, job: Job) -> RunResult:
    return RunResult.model_validate_json((slot_dir(out, job) / "result.json").read_bytes())


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SweepSummary, DomAnswers]:
    """click-button and click-link x seeds 0-2 on 2 workers; one episode is answered wrongly."""
    out = tmp_path_factory.mktemp("sweep") / "s"
    answers = DomAnswers()
    suite = resolve_suite("miniwob:click", TASKS)
    summary = run_sweep(
        plan_for(suite, [0, 1, 2]), suite, out, model=answers, profile=get_profile("gaze"),
        workers=2, batch_window_s=0.5, episode_model=dom_reader(answers, wrong=lambda j: j == WRONG),
    )  # fmt: skip
    return out, summary, answers


def test_rewards_done_detection_and_summary(
    sweep: tuple[Path, SweepSummary, DomAnswers],
) -> None:
    out, summary, answers = sweep
    plan = SweepPlan.model_validate_json((out / "sweep.json").read_bytes())
    for job in jobs(plan):
        log = read_log(slot_dir(out, job))  # a normal Gaze task log
        r = log.result
        assert r is not None and log.warnings == []
        assert log.meta.task["seed"] == job.seed and log.meta.task["goal"]
        assert r.reward is not None and set(r.reward) == {"raw", "timed"}
        if job == WRONG:
            assert not r.success and r.reward["raw"] <= 0, r
            continue
        # the page said the episode was over right after the one right click: the loop stopped
        assert r.success and r.stop_reason == "task_ended" and r.steps == 1, r
        assert r.reward["raw"] == 1.0 and 0.9 < r.reward["timed"] <= 1.0
        assert r.checks[0].check == "raw_reward > 0" and r.checks[0].passed
    assert summary == SweepSummary.model_validate_json((out / "summary.json").read_bytes())
    assert summary.complete and summary.finished == summary.planned == 6
    assert summary.workers == 2 and summary.sessions == 1 and summary.seeds == [0, 1, 2]
    button, link = summary.tasks
    assert (button.task, button.episodes, button.successes) == ("click-button", 3, 3)
    assert (link.task, link.episodes, link.successes) == ("click-link", 3, 2)
    assert button.ci95[1] == 1.0 and 0.3 < button.ci95[0] < 0.5  # Wilson, n = 3
    assert button.stop_reasons == {"task_ended": 3} and button.mean_steps == 1.0
    assert button.mean_raw_reward == 1.0 and link.mean_raw_reward is not None
    assert link.mean_raw_reward < 1.0
    assert summary.overall.successes == 5 and summary.overall.pooled_success == round(5 / 6, 4)
    assert summary.overall.mean_task_success == round((1 + 2 / 3) / 2, 4)
    assert "raw reward > 0" in summary.scoring
    # one model call per step, all through the batcher, and the two workers did share batches
    calls = sum(result_of(out, j).model_calls for j in jobs(plan))
    assert sum(answers.batch_sizes) == calls and 2 in answers.batch_sizes, answers.batch_sizes
    assert not list((out / EPISODES).glob("*/*.partial"))


def test_resume_after_interruptions(tmp_path: Path) -> None:
    out = tmp_path / "s"
    seeds = [0, 1, 2]
    everything = {Job(t, s) for s in seeds for t in TASKS.split(",")}
    started: list[list[Job]] = [[], [], []]

    # 1: the model raises KeyboardInterrupt in a worker on its 3rd call (as Ctrl-C would)
    answers = DomAnswers(interrupt_at=3)
    suite = resolve_suite("miniwob:click", TASKS)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(
            plan_for(suite, seeds), suite, out, model=answers, profile=get_profile("gaze"),
            workers=2, episode_model=dom_reader(answers, attempts=started[0]),
        )  # fmt: skip
    first = SweepSummary.model_validate_json((out / "summary.json").read_bytes())
    done1 = {j for j in everything if (slot_dir(out, j) / "result.json").exists()}
    assert 0 < len(done1) < len(everything) and first.finished == len(done1)
    assert not first.complete
    stamps = {j: (slot_dir(out, j) / "result.json").stat().st_mtime_ns for j in done1}
    # a folder left by a kill mid-episode (no result.json) must be discarded and run again
    killed = sorted(everything - done1, key=lambda j: (j.seed, j.task))[-1]
    slot_dir(out, killed).mkdir(parents=True)
    (slot_dir(out, killed) / "steps.jsonl").write_text('{"step": 0, "trunc')

    # 2: Ctrl-C in the main thread after one more episode finished
    def stop_after_one(_: object) -> None:
        raise KeyboardInterrupt

    answers2 = DomAnswers()
    with pytest.raises(KeyboardInterrupt):
        run_sweep(
            plan_for(suite, seeds), suite, out, model=answers2, profile=get_profile("gaze"),
            episode_model=dom_reader(answers2, attempts=started[1]), on_episode=stop_after_one,
        )  # fmt: skip
    done2 = {j for j in everything if (slot_dir(out, j) / "result.json").exists()}
    assert len(done2) == len(done1) + 1 and done1 < done2

    # 3: runs to the end
    answers3 = DomAnswers()
    summary = run_sweep(
        plan_for(suite, seeds), suite, out, model=answers3, profile=get_profile("gaze"),
        workers=2, episode_model=dom_reader(answers3, attempts=started[2]),
    )  # fmt: skip
    assert set(started[2]).isdisjoint(done2) and set(started[2]) == everything - done2
    assert len(started[2]) == len(set(started[2]))  # each remaining episode ran once
    assert set(started[1]).isdisjoint(done1)
    for j in done1:  # finished episodes were not touched again
        assert (slot_dir(out, j) / "result.json").stat().st_mtime_ns == stamps[j]
    assert summary.complete and summary.finished == 6 and summary.overall.successes == 6
    assert summary.sessions == 3
    assert [t.episodes for t in summary.tasks] == [3, 3]
    assert not list((out / EPISODES).glob("*/*.partial"))
    assert read_log(slot_dir(out, killed)).result is not None


@pytest.fixture(scope="module")
def report(sweep: tuple[Path, SweepSummary, DomAnswers]) -> Iterator[tuple[str, Path]]:
    out = sweep[0]
    page = write_sweep_report(out)
    with SiteServer(out) as server:
        yield f"{server.base_url}/{page.name}", out


def test_report_in_chromium(report: tuple[str, Path]) -> None:
    url, _ = report
    errors: list[str] = []
    args = [*QUIET_ARGS, *(["--no-sandbox"] if needs_no_sandbox() else [])]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=find_chromium(None, pw.chromium.executable_path), args=args
        )
        page = browser.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)  # fmt: skip
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load resource" not in m.text else None)  # fmt: skip
        page.goto(url)
        rows = lambda: page.eval_on_selector_all(  # noqa: E731
            "#tasks tbody tr", "rows => rows.map(r => r.dataset.task)"
        )
        assert rows() == ["click-button", "click-link"]
        assert page.locator("svg g.bar").count() == 2
        page.click("#tasks th:has-text('success')")  # ascending: 2/3 before 3/3
        assert rows() == ["click-link", "click-button"]
        page.click("#tasks th:has-text('success')")
        assert rows() == ["click-button", "click-link"]
        page.click("#tasks th:has-text('task')")
        assert rows() == ["click-button", "click-link"]
        assert page.locator("td.seeds a.bad").count() == 1  # the wrong episode
        page.click("tr[data-task='click-link'] td.seeds a.ok >> nth=0")
        page.wait_for_load_state()
        assert page.url.endswith("/episodes/click-link/seed-0/report.html")
        shots = page.eval_on_selector_all(
            ".step img", "imgs => imgs.map(i => [i.src.slice(0, 11), i.naturalWidth])"
        )
        assert shots and all(s == ["data:image/", 160] for s in shots), shots
        browser.close()
    assert errors == []


def test_demo_suite_through_the_runner(tmp_path: Path) -> None:
    suite = resolve_suite("demo", "new_tab,login,confirm_dialog")
    assert suite.tasks == ["confirm_dialog", "login", "new_tab"]  # the suite's order
    specs = suite.specs

    def oracle(shared: Model, job: Job, env: Environment) -> Model:
        return ReferenceOracle(specs[job.task][0], env, "gaze")

    summary = run_sweep(
        plan_for(suite, [0], max_steps=None), suite, tmp_path / "demo", model=DomAnswers(),
        profile=get_profile("gaze"), workers=2, episode_model=oracle,
    )  # fmt: skip
    assert summary.complete and summary.overall.successes == 3, summary.tasks
    for t in summary.tasks:
        assert t.stop_reasons == {"done": 1} and t.mean_raw_reward is None
        log = read_log(slot_dir(tmp_path / "demo", Job(t.task, 0)))
        assert log.result is not None and log.result.success and log.meta.task["id"] == t.task


def gaze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, timeout=120,
        cwd=ROOT,
    )  # fmt: skip


def test_gaze_bench_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    replies = tmp_path / "r.txt"
    replies.write_text("\n---\n".join(["click(5, 205)"] * 40), encoding="utf-8")
    model, out = f"scripted:{replies}", tmp_path / "sweep"
    r = gaze("bench", "miniwob:click-button", "--seeds", "0-1", "--model", model,
             "--out", str(out), "--max-steps", "2")  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] == 2 and summary["tasks"][0]["task"] == "click-button"
    assert summary["max_steps"] == 2 and summary["tasks"][0]["successes"] == 0
    assert "click-button" in r.stdout and "summary.json" in r.stderr
    # the rest needs no browser: in process
    capsys.readouterr()
    args = ["bench", "miniwob:click-button", "--model", model, "--out", str(out)]
    assert main([*args, "--seeds", "0-2"]) == 2
    err = capsys.readouterr().err
    assert "different sweep" in err and "seeds" in err
    assert main(["bench", "--compare", str(out), str(out)]) == 0
    assert "click-button" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    assert (out / "report.html").is_file()
    assert (out / "episodes/click-button/seed-1/report.html").is_file()


def _done(results: Path) -> list[Path]:
    """Finished episodes' results: a ``seed-N.partial`` folder (an episode being written, renamed
    once complete) holds a result.json for a moment too, and the kill may land in that moment."""
    return [p for p in results.glob("seed-*/result.json") if not p.parent.name.endswith(".partial")]


def test_gaze_bench_resumes_exactly_after_sigkill(tmp_path: Path) -> None:
    """`kill -9` mid-sweep: the rerun keeps every finished episode untouched, discards the one that
    was running, runs each remaining episode once, and the summary accounts for all of them."""
    replies = tmp_path / "r.txt"
    replies.write_text("\n---\n".join(["click(5, 205)"] * 200), encoding="utf-8")  # misses
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "agent.cli", "bench", "miniwob:click-button", "--seeds", "0-5",
           "--model", f"scripted:{replies}", "--out", str(out), "--max-steps", "3"]  # fmt: skip
    results = out / "episodes" / "click-button"
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(_done(results)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline, "no episodes finished"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the browser it left behind
        if proc.stderr:
            proc.stderr.close()
    finished = {p.parent.name: p.stat().st_mtime_ns for p in _done(results)}
    assert 2 <= len(finished) < 6
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    for name, stamp in finished.items():  # untouched
        assert (results / name / "result.json").stat().st_mtime_ns == stamp
    assert sorted(p.name for p in results.iterdir()) == [f"seed-{s}" for s in range(6)]
    for s in range(6):
        log = read_log(results / f"seed-{s}")
        assert log.result is not None and log.result.stop_reason != "interrupted"
        assert not log.warnings, log.warnings  # the killed episode was run again from scratch
    summary = SweepSummary.model_validate_json((out / "summary.json").read_bytes())
    assert summary.complete and summary.finished == 6 and summary.sessions == 2
