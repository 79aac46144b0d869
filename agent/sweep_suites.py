"""The suites a sweep can run, and how one worker runs one episode of each into a run folder.

Contract:
- ``resolve_suite(name, only)`` turns ``miniwob``, ``miniwob:SUBSET`` (all, click, clicktype,
  pix2act), ``miniwob:TASK`` or ``demo`` (the bundled task suite), optionally narrowed to the
  task names in ``only``, into a ``Suite``; a bad name is a ``SuiteError`` that lists the valid ones.
- ``Suite`` is a context manager that serves its pages on 127.0.0.1 while open. ``worker(config)``
  gives one worker its own browser; ``Worker.run(task, seed, policy, work, max_steps)`` runs one episode
  and writes a normal Gaze run folder (meta.json, steps.jsonl, screenshots/, result.json) inside
  the empty folder ``work``, returning the result and the run folder. Ctrl-C (or anything that
  raises ``KeyboardInterrupt`` in the worker) leaves an ``interrupted`` result and propagates.
- MiniWoB: ``MiniWoBEnv.start(task, seed)``, the utterance is the goal, the loop stops when the
  page says the episode is over, success = raw reward > 0 (episode timer raised); the result's
  ``reward`` holds ``raw`` and ``timed`` (MiniWoB's own time-discounted reward) and one check
  records them. Demo: ``run_task`` exactly as ``gaze run`` does it; the pages are not seeded, so
  each seed is one more repetition of the task.

It decides nothing about which episodes to run or where their folders go: that is ``agent.sweep``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Protocol

from actions.browser import BrowserEnv
from actions.environment import BrowserConfig, EnvError, Environment
from agent.loop import Episode, Interrupted, LoopConfig, run_episode
from agent.policy import Policy
from agent.runner import RunSink, run_task, versions
from agent.trajectory import CheckRecord, Recorder, RunMeta, RunResult, now_iso
from tasks import miniwob
from tasks.loader import TaskFileError, bundled_suite, discover, load_task
from tasks.server import SiteServer
from tasks.spec import TaskSpec

SuiteKind = Literal["miniwob", "demo"]
MINIWOB_SCORING = (
    "success = MiniWoB raw reward > 0, episode timer raised to "
    f"{miniwob.EPISODE_MAX_TIME_MS // 1000} s (BrowserGym's rule); also reported: MiniWoB's own "
    "time-discounted reward"
)
DEMO_SCORING = "success = the model said done and every check of the task passed"
MINIWOB_MAX_STEPS = 10  # when --max-steps is not given; a demo task uses its own max_steps


class SuiteError(ValueError):
    pass


class Worker(Protocol):
    env: Environment  # what the episode's model double (if any) may look at

    def run(
        self, task: str, seed: int, policy: Policy, work: Path, max_steps: int | None
    ) -> tuple[RunResult, Path]: ...

    def close(self) -> None: ...


@dataclass
class Suite:
    name: str  # as given on the command line
    kind: SuiteKind
    tasks: list[str]
    scoring: str
    specs: dict[str, tuple[TaskSpec, Path]]  # demo: task id -> spec and file
    server: SiteServer | None = None

    def default_max_steps(self) -> int | None:
        return MINIWOB_MAX_STEPS if self.kind == "miniwob" else None

    def __enter__(self) -> Suite:
        root = miniwob.html_root() if self.kind == "miniwob" else None
        self.server = SiteServer(root) if root is not None else SiteServer()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None

    def worker(self, config: BrowserConfig) -> Worker:
        if self.server is None:
            raise RuntimeError("open the suite (with suite: ...) before starting workers")
        if self.kind == "miniwob":
            return WobWorker(self.server.base_url, config)
        return DemoWorker(self.server, config, self.specs)


def _split(only: str | None) -> list[str]:
    return [t.strip() for t in (only or "").split(",") if t.strip()]


def _narrow(tasks: list[str], only: list[str], what: str) -> list[str]:
    if not only:
        return tasks
    unknown = [t for t in only if t not in tasks]
    if unknown:
        raise SuiteError(
            f"--tasks: {', '.join(unknown)} not in {what}; its tasks: {', '.join(tasks)}"
        )
    return [t for t in tasks if t in only]


def resolve_suite(name: str, only: str | None = None) -> Suite:
    """``name`` and the comma-separated ``only`` -> the Suite; SuiteError says what is valid."""
    picked = _split(only)
    if name == "demo":
        specs: dict[str, tuple[TaskSpec, Path]] = {}
        for path in discover([bundled_suite("demo")]):
            try:
                spec = load_task(path)
            except TaskFileError as e:
                raise SuiteError(str(e)) from None
            specs[spec.id] = (spec, path)
        tasks = _narrow(list(specs), picked, "the demo suite")
        return Suite(name, "demo", tasks, DEMO_SCORING, {t: specs[t] for t in tasks})
    if name == "miniwob" or name.startswith("miniwob:"):
        part = name.partition(":")[2] or "all"
        try:
            names = miniwob.task_names()
        except FileNotFoundError as e:
            raise SuiteError(str(e)) from None
        if part in miniwob.SUBSET_NAMES:
            tasks = miniwob.subset(part)
        elif part in names:
            tasks = [part]
        else:
            raise SuiteError(
                f"unknown MiniWoB subset or task {part!r}; subsets: "
                f"{', '.join(miniwob.SUBSET_NAMES)}, or one of the {len(names)} task names"
            )
        return Suite(name, "miniwob", _narrow(tasks, picked, name), MINIWOB_SCORING, {})
    raise SuiteError(
        f"unknown suite {name!r}: miniwob, miniwob:SUBSET ({', '.join(miniwob.SUBSET_NAMES)}), "
        "miniwob:TASK, or demo"
    )


def _finish(ep: Episode, t0: float, **extra: object) -> RunResult:
    return RunResult.model_validate(
        {
            "success": False,
            "stop_reason": ep.stop_reason,
            "detail": ep.detail,
            "answer": ep.answer,
            "steps": ep.steps,
            "model_calls": ep.model_calls,
            "goals_completed": ep.goals_completed,
            "duration_s": round(time.perf_counter() - t0, 3),
            "model_latency_s": round(ep.model_latency_s, 4),
            "prompt_tokens": ep.prompt_tokens,
            "completion_tokens": ep.completion_tokens,
            "finished_at": now_iso(),
            **extra,
        }
    )


class WobWorker:
    """One browser running MiniWoB episodes (see the module contract)."""

    def __init__(self, base_url: str, config: BrowserConfig) -> None:
        self.browser = BrowserEnv(config)
        self.wob = miniwob.MiniWoBEnv(self.browser, base_url, config)
        self.env: Environment = self.wob

    def run(
        self, task: str, seed: int, policy: Policy, work: Path, max_steps: int | None
    ) -> tuple[RunResult, Path]:
        t0 = time.perf_counter()
        loop = LoopConfig(max_steps=max_steps or MINIWOB_MAX_STEPS)
        url = f"{self.wob.base_url}/miniwob/{task}.html"
        try:
            goal, failure = self.wob.start(task, seed), None
        except EnvError as e:
            goal, failure = "", f"the MiniWoB episode did not start: {e}"
        meta = RunMeta(
            run_id=f"{task}-seed-{seed}",
            started_at=now_iso(),
            task={
                "id": task,
                "suite": "miniwob",
                "seed": seed,
                "start": url,
                "goal": goal,
                "viewport": {"width": miniwob.TASK_W, "height": miniwob.TASK_H},
            },
            model=policy.name,
            profile=policy.profile.name,
            config={"loop": asdict(loop), "scoring": MINIWOB_SCORING},
            versions=versions(self.browser.browser_version),
        )
        recorder = Recorder(work, meta)
        if failure is not None:
            return self._record(recorder, _finish(Episode("env_error", failure), t0)), work
        try:  # the recorder is closed on every way out (finish closes it too)
            return self._episode(goal, policy, loop, recorder, t0), work
        finally:
            recorder.close()

    def _episode(
        self, goal: str, policy: Policy, loop: LoopConfig, recorder: Recorder, t0: float
    ) -> RunResult:
        ep = Episode(stop_reason="env_error")
        try:
            ep = run_episode(
                [goal], self.wob, policy, config=loop, sink=RunSink(recorder),
                stop_check=self.wob.ended,
            )  # fmt: skip
            status = self.wob.status()
        except KeyboardInterrupt as e:
            ep = e.episode if isinstance(e, Interrupted) else ep
            ep.stop_reason, ep.detail = "interrupted", "interrupted (Ctrl-C or the sweep stopped)"
            recorder.finish(_finish(ep, t0))
            raise
        except EnvError as e:  # the page could not be read after the episode
            ep.stop_reason, ep.detail = "env_error", f"MiniWoB status unreadable: {e}"
            return self._record(recorder, _finish(ep, t0))
        success = status.done and status.raw_reward > 0
        check = CheckRecord(
            check="raw_reward > 0",
            passed=success,
            detail=f"raw reward {status.raw_reward:g}, timed reward {status.reward:g}"
            + (f" ({status.reason})" if status.reason else "")
            + ("" if status.done else "; the episode had not ended"),
        )
        result = _finish(
            ep, t0, success=success, checks=[check],
            reward={"raw": status.raw_reward, "timed": status.reward},
        )  # fmt: skip
        return self._record(recorder, result)

    @staticmethod
    def _record(recorder: Recorder, result: RunResult) -> RunResult:
        recorder.finish(result)
        return result

    def close(self) -> None:
        self.browser.close()


class DemoWorker:
    """One browser running bundled demo tasks through ``run_task``, as ``gaze run`` does."""

    def __init__(
        self, server: SiteServer, config: BrowserConfig, specs: dict[str, tuple[TaskSpec, Path]]
    ) -> None:
        self.server, self.config, self.specs = server, config, specs
        self.browser = BrowserEnv(config)
        self.env: Environment = self.browser

    def run(
        self, task: str, seed: int, policy: Policy, work: Path, max_steps: int | None
    ) -> tuple[RunResult, Path]:
        spec, path = self.specs[task]
        return run_task(
            spec,
            start_url=self.server.resolve_start(spec.start),
            env=self.browser,
            policy=policy,
            out=work,
            browser=self.config,
            loop=LoopConfig(max_steps=max_steps or spec.max_steps),
            task_file=str(path),
            browser_version=self.browser.browser_version,
        )

    def close(self) -> None:
        self.browser.close()
