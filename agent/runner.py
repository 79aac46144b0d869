"""Running a task: browser + model + loop + checks, recorded in a run folder.

Contract:
- ``run_task`` creates ``<out>/<task-id>-<timestamp>/``, writes ``meta.json`` before anything can
  fail, resets the environment at the task's start URL with the task's viewport, runs the episode,
  evaluates the success checks, and writes ``result.json``. It returns the ``RunResult``.
- Whatever happens (the start page fails to load, the browser dies, Ctrl-C), the run folder ends
  with every completed step in ``steps.jsonl``; on Ctrl-C ``result.json`` records
  ``interrupted`` before the interrupt propagates. When the run folder itself cannot be written
  (disk full, file size limit, no permission) the run stops: ``result.json`` records ``log_error``
  if it still can be written, and ``LogWriteError`` propagates for the CLI to report.
- ``success`` = the episode ended with ``done`` *and* every check passed.
- Safety: the browser reaches only the task's allowed hosts (``TaskSpec.browser_config`` with the
  real start URL), goals naming secrets get a hint on typing their placeholders, and every record
  (meta, steps, result, what ``on_step`` prints, the returned result) has secret values redacted.
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as pkg_version
from pathlib import Path

from actions.environment import BrowserConfig, Environment, open_start_page
from actions.safety import with_secret_hint
from actions.types import Observation
from agent.loop import Episode, Interrupted, LoopConfig, Sink, run_episode
from agent.policy import Policy
from agent.redact import redact_model
from agent.trajectory import (
    CheckRecord,
    LogWriteError,
    Recorder,
    RunMeta,
    RunResult,
    StepRecord,
    StopReason,
    Versions,
    now_iso,
    write_failure,
)
from tasks.checks import CheckResult, run_checks
from tasks.spec import TaskSpec


def _version(pkg: str) -> str | None:
    try:
        return pkg_version(pkg)
    except PackageNotFoundError:
        return None


def versions(browser_version: str | None = None) -> Versions:
    return Versions(
        gaze=_version("gaze-agent") or "dev",
        python=platform.python_version(),
        playwright=_version("playwright"),
        chromium=browser_version,
        torch=_version("torch"),
        transformers=_version("transformers"),
    )


class RunSink(Sink):
    """Sends the loop's records into a Recorder."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.model_calls = 0  # records handed over, written or not
        self.steps = 0  # action steps among them

    def episode_so_far(self, reason: StopReason, detail: str) -> Episode:
        """What the records say about an episode that ended by an exception."""
        return Episode(reason, detail, steps=self.steps, model_calls=self.model_calls)

    def save_screenshot(self, step: int, attempt: int, obs: Observation) -> str:
        return self.recorder.observation(step, attempt, obs)

    def record(self, rec: StepRecord) -> None:
        self.model_calls += 1
        self.steps = max(self.steps, rec.step + 1) if rec.actions else self.steps
        self.recorder.step(rec)


def new_run_dir(out: Path, task_id: str) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
    d = out / f"{task_id}-{stamp}"
    try:
        d.mkdir(parents=True, exist_ok=False)
    except OSError as e:
        raise write_failure(d, e) from None
    return d


def run_task(
    task: TaskSpec,
    *,
    start_url: str,
    env: Environment,
    policy: Policy,
    out: Path,
    browser: BrowserConfig | None = None,
    loop: LoopConfig | None = None,
    task_file: str | None = None,
    browser_version: str | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
) -> tuple[RunResult, Path]:
    """Run one task end to end; returns the result and the run folder."""
    loop = loop or LoopConfig(max_steps=task.max_steps)
    run_dir = new_run_dir(out, task.id)
    bcfg = task.browser_config(browser, downloads_dir=run_dir / "downloads", start_url=start_url)
    # secrets: the model reads placeholders (with a hint), logs and console never see a value
    redact = task.secrets.redact if task.secrets else None
    goals = [with_secret_hint(g) for g in task.goal_list]
    if on_step is not None and redact is not None:
        on_step = partial(_redacted_step, on_step, redact)
    meta = RunMeta(
        run_id=run_dir.name,
        started_at=now_iso(),
        task=task.model_dump(mode="json", by_alias=True),
        task_file=task_file,
        model=policy.name,
        profile=policy.profile.name,
        config={"loop": asdict(loop), "browser": {k: str(v) for k, v in asdict(bcfg).items()}},
        versions=versions(browser_version),
    )
    recorder = Recorder(run_dir, meta, redact=redact)
    t0 = time.perf_counter()
    episode = Episode(stop_reason="env_error")
    sink = RunSink(recorder)
    try:
        failure = open_start_page(env, start_url, bcfg)
        if failure is not None:
            episode.detail = failure
            checks = []
        else:
            episode = run_episode(goals, env, policy, config=loop, sink=sink, on_step=on_step)
            checks = run_checks(task.checks, env, episode.answer)
        result = _result(episode, checks, time.perf_counter() - t0)
    except LogWriteError as e:
        episode = sink.episode_so_far("log_error", str(e))
        with contextlib.suppress(LogWriteError):  # a full disk may not take result.json either
            recorder.finish(_result(episode, [], time.perf_counter() - t0))
        raise
    except KeyboardInterrupt as e:
        episode = e.episode if isinstance(e, Interrupted) else episode
        episode.stop_reason, episode.detail = "interrupted", "interrupted by the user (Ctrl-C)"
        recorder.finish(_result(episode, [], time.perf_counter() - t0))
        raise
    recorder.finish(result)
    return redact_model(result, redact), run_dir


def _redacted_step(
    on_step: Callable[[StepRecord], None], redact: Callable[[str], str], rec: StepRecord
) -> None:
    on_step(redact_model(rec, redact))


def _result(ep: Episode, checks: list[CheckResult], duration_s: float) -> RunResult:
    records = [CheckRecord(check=c.check, passed=c.passed, detail=c.detail) for c in checks]
    success = ep.stop_reason == "done" and bool(records) and all(c.passed for c in records)
    return episode_result(ep, records, duration_s, success=success)


def episode_result(
    ep: Episode, records: list[CheckRecord], duration_s: float, *, success: bool
) -> RunResult:
    """The ``result.json`` of an episode whose success the caller decided (``gaze run``: done and
    every check passed; benchmarks may score otherwise)."""
    return RunResult(
        success=success,
        stop_reason=ep.stop_reason,
        detail=ep.detail,
        answer=ep.answer,
        steps=ep.steps,
        model_calls=ep.model_calls,
        goals_completed=ep.goals_completed,
        checks=records,
        duration_s=round(duration_s, 3),
        model_latency_s=round(ep.model_latency_s, 4),
        prompt_tokens=ep.prompt_tokens,
        completion_tokens=ep.completion_tokens,
        finished_at=now_iso(),
    )
