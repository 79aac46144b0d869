"""A benchmark sweep: every (task, seed) episode of a suite, run by parallel workers, resumable.

A sweep folder::

    sweep.json                       SweepPlan: suite, tasks, seeds, model spec, profile, max_steps,
                                     scoring rule, versions (written once; a resume must match it)
    summary.json                     SweepSummary (agent.sweep_summary), rewritten after each episode
    episodes/<task>/seed-<n>/        one normal Gaze run folder per finished episode
    episodes/<task>/seed-<n>.partial/  an episode in progress (or interrupted / killed)
    report.html                      written by `gaze report SWEEP` (agent.sweep_report)

Contract:
- ``open_sweep(out, plan)`` creates the folder and ``sweep.json``, or checks that an existing
  ``sweep.json`` holds the same plan (``SweepError`` naming each difference otherwise). An episode
  is finished when ``seed-<n>/result.json`` is valid and not ``interrupted``; everything else
  (``*.partial`` folders, a ``seed-<n>`` without a valid result) is deleted and run again, so an
  episode killed at any moment is re-run from scratch and a finished one never runs twice.
- ``run_sweep`` runs the pending episodes on ``workers`` threads, each with its own browser
  (Playwright runs on each BrowserEnv's own loop thread, so several live in one process). All
  workers share one model through ``agent.batching.Batcher``: requests from different episodes go
  out as one ``generate`` batch. An episode is written in ``seed-<n>.partial/`` and renamed to
  ``seed-<n>/`` once its result is final.
- ``episode_model(shared, job, env)``, when given, picks the model for one episode; test and
  benchmark doubles use it to see their worker's page. Real models leave it unset.
- Ctrl-C in the main thread (or a ``KeyboardInterrupt`` raised in a worker, e.g. by a model): no
  new episode starts, running ones stop at their next model call with an ``interrupted`` result
  (re-run on resume), ``summary.json`` is written for what finished, and ``KeyboardInterrupt``
  propagates. A second Ctrl-C stops waiting for the workers.
- ``on_start(finished, successes, planned)`` once the folder is opened, then ``on_episode`` after
  each finished episode, both in the calling thread (for progress bars).

Library code: nothing here prints.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from actions.environment import BrowserConfig, Environment
from agent.batching import Batcher
from agent.policy import ModelPolicy
from agent.sweep_suites import Suite, SuiteKind, Worker
from agent.sweep_summary import EpisodeRow, SweepSummary, summarise
from agent.trajectory import RunResult, Versions, first_error, now_iso
from perception.model import Completion, Model, ModelRequest
from perception.profiles import Profile

log = logging.getLogger(__name__)

PLAN_VERSION = 1
PLAN_FILE, SUMMARY_FILE, EPISODES = "sweep.json", "summary.json", "episodes"
_SAFE = re.compile(r"^[A-Za-z0-9._-]+$")
_COMPARED = ("suite", "kind", "tasks", "seeds", "model", "profile", "max_steps", "scoring")


class SweepError(ValueError):
    """Bad input for a sweep: an unusable folder, or a plan that differs from the folder's."""


class SweepStopped(KeyboardInterrupt):
    """Raised in a worker's model call once the sweep is stopping."""


class SweepPlan(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: int = PLAN_VERSION
    suite: str  # as given: miniwob:clicktype, demo, ...
    kind: SuiteKind
    tasks: list[str]
    seeds: list[int]
    model: str  # the model spec as given (--model)
    profile: str
    max_steps: int | None  # None: each demo task's own max_steps
    scoring: str
    versions: Versions  # when the sweep was created (a resume with other versions is logged)
    created_at: str

    def differences(self, other: SweepPlan) -> list[str]:
        return [
            f"{f}: {getattr(self, f)!r} in the folder, {getattr(other, f)!r} now"
            for f in _COMPARED
            if getattr(self, f) != getattr(other, f)
        ]


@dataclass(frozen=True)
class Job:
    task: str
    seed: int


@dataclass(frozen=True)
class Finished:
    """One episode that reached a final result, with the sweep's running totals."""

    job: Job
    result: RunResult
    run_dir: Path
    finished: int  # episodes finished in the sweep so far (earlier sessions included)
    successes: int
    planned: int


EpisodeModel = Callable[[Model, Job, Environment], Model]


def parse_seeds(text: str) -> list[int]:
    """``0-4,7`` -> [0, 1, 2, 3, 4, 7] (sorted, without repeats); ValueError for anything else."""
    seeds: set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise ValueError(f"bad seed list {text!r}: use numbers and ranges like 0-49 or 0-4,7")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ValueError(f"bad seed range {part.strip()!r}: the end is below the start")
        seeds.update(range(lo, hi + 1))
    return sorted(seeds)


def slot_dir(out: Path, job: Job) -> Path:
    return out / EPISODES / job.task / f"seed-{job.seed}"


def _partial(slot: Path) -> Path:
    return slot.with_name(slot.name + ".partial")


def jobs(plan: SweepPlan) -> list[Job]:
    """Seed-major order, so an interrupted sweep has covered every task about equally."""
    return [Job(t, s) for s in plan.seeds for t in plan.tasks]


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def load_plan(out: Path) -> SweepPlan:
    path = out / PLAN_FILE
    try:
        return SweepPlan.model_validate_json(path.read_bytes())
    except OSError as e:
        raise SweepError(f"{out} is not a sweep folder ({PLAN_FILE}: {e.strerror or e})") from None
    except ValidationError as e:
        raise SweepError(f"{path}: {first_error(e)}") from None


def finished_result(slot: Path) -> RunResult | None:
    """The episode's final result, or None when it has none (missing, corrupt, interrupted)."""
    try:
        result = RunResult.model_validate_json((slot / "result.json").read_bytes())
    except (OSError, ValidationError):
        return None
    return None if result.stop_reason == "interrupted" else result


def scan(out: Path, plan: SweepPlan) -> tuple[list[EpisodeRow], list[Job]]:
    """Finished episodes (as summary rows) and the jobs still to run; reads, never deletes."""
    done, pending = [], []
    for job in jobs(plan):
        result = finished_result(slot_dir(out, job))
        if result is None:
            pending.append(job)
        else:
            done.append(EpisodeRow(job.task, job.seed, result))
    return done, pending


def open_sweep(out: Path, plan: SweepPlan) -> tuple[list[EpisodeRow], list[Job]]:
    """Create or resume the sweep in ``out``; see the module contract."""
    for t in plan.tasks:
        if not _SAFE.match(t):
            raise SweepError(f"task name {t!r} cannot name a folder")
    if (out / PLAN_FILE).exists():
        old = load_plan(out)
        diffs = old.differences(plan)
        if diffs:
            raise SweepError(
                f"{out} holds a different sweep ({'; '.join(diffs)}); "
                "give another --out, or the same settings to resume it"
            )
        if old.versions != plan.versions:
            log.warning("resuming a sweep made with %s, now %s", old.versions, plan.versions)
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise SweepError(f"{out} exists and is not a sweep folder (no {PLAN_FILE})")
    else:
        out.mkdir(parents=True, exist_ok=True)
        _write_json(out / PLAN_FILE, plan.model_dump(mode="json"))
    done, pending = scan(out, plan)
    for job in pending:
        for stale in (slot_dir(out, job), _partial(slot_dir(out, job))):
            if stale.exists():
                log.info("discarding unfinished episode %s", stale)
                shutil.rmtree(stale)
    return done, pending


def previous_sessions(out: Path) -> int:
    try:
        return SweepSummary.model_validate_json((out / SUMMARY_FILE).read_bytes()).sessions
    except (OSError, ValidationError):
        return 0


class _Stoppable:
    """The model as one episode sees it: refuses to start a call once the sweep is stopping."""

    def __init__(self, model: Model, stop: threading.Event) -> None:
        self.model, self.stop, self.name = model, stop, model.name

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        if self.stop.is_set():
            raise SweepStopped("the sweep is stopping")
        return self.model.generate(requests)


@dataclass
class _Failed:
    error: BaseException


class _WorkerExit:
    pass


class _Pool:
    """The worker threads of one session and the queue they report on."""

    def __init__(
        self,
        plan: SweepPlan,
        suite: Suite,
        out: Path,
        batcher: Batcher,
        profile: Profile,
        browser: BrowserConfig,
        episode_model: EpisodeModel | None,
    ) -> None:
        self.plan, self.suite, self.out, self.batcher = plan, suite, out, batcher
        self.profile, self.browser, self.episode_model = profile, browser, episode_model
        self.stop = threading.Event()
        self.interrupted = threading.Event()
        self.reports: queue.Queue[tuple[Job, RunResult, Path] | _Failed | _WorkerExit] = (
            queue.Queue()
        )
        self._jobs: list[Job] = []
        self._lock = threading.Lock()

    def start(self, pending: list[Job], workers: int) -> list[threading.Thread]:
        self._jobs = list(pending)
        threads = [
            threading.Thread(target=self._work, name=f"gaze-sweep-{i}", daemon=True)
            for i in range(workers)
        ]
        for _ in threads:  # all registered before any asks, so the first batch waits for them
            self.batcher.join()
        for t in threads:
            t.start()
        return threads

    def _next(self) -> Job | None:
        with self._lock:
            return self._jobs.pop(0) if self._jobs and not self.stop.is_set() else None

    def _work(self) -> None:
        worker: Worker | None = None
        try:
            worker = self.suite.worker(self.browser)
            while (job := self._next()) is not None:
                result, run_dir = self._episode(worker, job)
                self.reports.put((job, result, run_dir))
                if result.stop_reason == "env_error":  # start over with a fresh browser
                    worker.close()
                    worker = None
                    worker = self.suite.worker(self.browser)
        except KeyboardInterrupt:
            self.interrupted.set()
            self.stop.set()
        except BaseException as e:  # a bug or a broken machine: stop the sweep and say why
            self.reports.put(_Failed(e))
            self.stop.set()
        finally:
            self.batcher.leave()
            if worker is not None:
                try:
                    worker.close()
                except Exception as e:
                    log.warning("closing a worker's browser: %s", e)
            self.reports.put(_WorkerExit())

    def _episode(self, worker: Worker, job: Job) -> tuple[RunResult, Path]:
        slot = slot_dir(self.out, job)
        work = _partial(slot)
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        shared: Model = self.batcher
        model = self.episode_model(shared, job, worker.env) if self.episode_model else shared
        policy = ModelPolicy(_Stoppable(model, self.stop), self.profile)
        result, run_dir = worker.run(job.task, job.seed, policy, work, self.plan.max_steps)
        if slot.exists():
            shutil.rmtree(slot)
        os.replace(run_dir, slot)
        if work.exists():
            shutil.rmtree(work)
        return result, slot


def run_sweep(
    plan: SweepPlan,
    suite: Suite,
    out: Path,
    *,
    model: Model,
    profile: Profile,
    workers: int = 1,
    browser: BrowserConfig | None = None,
    batch_window_s: float = 0.05,
    episode_model: EpisodeModel | None = None,
    on_start: Callable[[int, int, int], None] | None = None,
    on_episode: Callable[[Finished], None] | None = None,
) -> SweepSummary:
    """Run (or resume) the sweep in ``out`` and return its summary; see the module contract."""
    if workers < 1:
        raise SweepError("--workers must be at least 1")
    t0 = time.perf_counter()
    rows, pending = open_sweep(out, plan)
    sessions = max(1, previous_sessions(out) + (1 if pending else 0))
    planned = len(jobs(plan))
    if on_start is not None:
        on_start(len(rows), sum(r.result.success for r in rows), planned)
    batcher = Batcher(model, window_s=batch_window_s)

    def write() -> SweepSummary:
        summary = summarise(
            rows, tasks=plan.tasks, suite=plan.suite, model=plan.model, profile=plan.profile,
            seeds=plan.seeds, max_steps=plan.max_steps, scoring=plan.scoring,
            versions=plan.versions, workers=workers, wall_s=time.perf_counter() - t0,
            sessions=sessions, written_at=now_iso(),
        )  # fmt: skip
        _write_json(out / SUMMARY_FILE, summary.model_dump(mode="json"))
        return summary

    if not pending:
        return write()
    failure: BaseException | None = None
    with suite:
        pool = _Pool(plan, suite, out, batcher, profile, browser or BrowserConfig(), episode_model)
        alive = len(pool.start(pending, min(workers, len(pending))))
        abandon = False
        while alive and not abandon:
            try:
                item = pool.reports.get(timeout=0.5)
                if isinstance(item, _WorkerExit):
                    alive -= 1
                elif isinstance(item, _Failed):
                    failure = failure or item.error
                else:
                    job, result, run_dir = item
                    rows.append(EpisodeRow(job.task, job.seed, result))
                    write()
                    if on_episode is not None:
                        k = sum(r.result.success for r in rows)
                        on_episode(Finished(job, result, run_dir, len(rows), k, planned))
            except queue.Empty:
                continue
            except KeyboardInterrupt:
                abandon = pool.stop.is_set()  # a second Ctrl-C: stop waiting for the workers
                pool.interrupted.set()
                pool.stop.set()
            except Exception as e:  # on_episode or the summary failed: stop, then raise it
                failure = failure or e
                pool.stop.set()
    summary = write()
    if failure is not None:
        raise failure
    if pool.interrupted.is_set():
        raise KeyboardInterrupt("the sweep was interrupted")
    return summary
