"""What a sweep measured: per-task and overall success with 95% intervals, steps, latency, reward.

Contract:
- ``EpisodeRow`` is one finished episode (task, seed and its ``RunResult``); ``summarise(rows, ...)``
  turns rows into a ``SweepSummary`` (a frozen pydantic model, written as ``summary.json``). It
  is pure: no files, no clock.
- Per task: episodes, successes, success rate with a Wilson 95% interval, mean steps, mean model
  latency per model call (one call = one step, plus retries of unparseable replies), stop
  reasons, and for MiniWoB the mean raw and timed reward. Overall: the mean of the per-task
  success rates (every task weighs the same) and the pooled rate over all episodes with its
  interval.
- ``compare(a, b)`` lines two summaries up task by task (tasks missing on one side are kept) with
  the difference of success rates, B minus A.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from agent.trajectory import RunResult, Versions

SUMMARY_VERSION = 1
Z95 = 1.959964  # two-sided 95% normal quantile


class _Rec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class EpisodeRow:
    task: str
    seed: int
    result: RunResult


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; (0, 1) when there are no trials."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


class TaskSummary(_Rec):
    task: str
    episodes: int
    successes: int
    success_rate: float
    ci95: tuple[float, float]  # Wilson interval of success_rate
    mean_steps: float
    latency_per_call_s: float  # model latency summed over the task's episodes / model calls
    mean_raw_reward: float | None = None  # MiniWoB: reward without the time penalty
    mean_timed_reward: float | None = None  # MiniWoB: its own time-discounted reward
    stop_reasons: dict[str, int]


class OverallSummary(_Rec):
    tasks: int
    episodes: int
    successes: int
    mean_task_success: float  # mean of the per-task success rates
    pooled_success: float  # successes / episodes
    pooled_ci95: tuple[float, float]
    mean_steps: float
    latency_per_call_s: float
    mean_timed_reward: float | None = None


class SweepSummary(_Rec):
    format_version: int = SUMMARY_VERSION
    suite: str
    model: str
    profile: str
    seeds: list[int]
    max_steps: int | None
    scoring: str
    versions: Versions
    workers: int
    wall_s: float  # this invocation (a resumed sweep adds a session)
    sessions: int  # invocations that contributed episodes
    planned: int  # episodes in the plan
    finished: int  # episodes with a final result
    complete: bool
    written_at: str
    tasks: list[TaskSummary]
    overall: OverallSummary


def _mean(values: Sequence[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _task_summary(task: str, rows: Sequence[EpisodeRow]) -> TaskSummary:
    n = len(rows)
    k = sum(r.result.success for r in rows)
    lo, hi = wilson(k, n)
    calls = sum(r.result.model_calls for r in rows)
    latency = sum(r.result.model_latency_s for r in rows)
    rewards = [r.result.reward for r in rows if r.result.reward is not None]
    raw = [w["raw"] for w in rewards if "raw" in w]
    timed = [w["timed"] for w in rewards if "timed" in w]
    return TaskSummary(
        task=task,
        episodes=n,
        successes=k,
        success_rate=round(k / n, 4) if n else 0.0,
        ci95=(round(lo, 4), round(hi, 4)),
        mean_steps=_mean([r.result.steps for r in rows]),
        latency_per_call_s=round(latency / calls, 4) if calls else 0.0,
        mean_raw_reward=_mean(raw) if raw else None,
        mean_timed_reward=_mean(timed) if timed else None,
        stop_reasons=dict(sorted(Counter(r.result.stop_reason for r in rows).items())),
    )


def summarise(
    rows: Sequence[EpisodeRow],
    *,
    tasks: Sequence[str],
    suite: str,
    model: str,
    profile: str,
    seeds: Sequence[int],
    max_steps: int | None,
    scoring: str,
    versions: Versions,
    workers: int,
    wall_s: float,
    sessions: int,
    written_at: str,
) -> SweepSummary:
    """Summarise finished episodes; ``tasks`` fixes the row order (tasks with no episode yet are
    listed with zero episodes)."""
    by_task: dict[str, list[EpisodeRow]] = defaultdict(list)
    for r in rows:
        by_task[r.task].append(r)
    per_task = [_task_summary(t, by_task.get(t, [])) for t in tasks]
    n = len(rows)
    k = sum(r.result.success for r in rows)
    lo, hi = wilson(k, n)
    tried = [t for t in per_task if t.episodes]
    calls = sum(r.result.model_calls for r in rows)
    timed = [t.mean_timed_reward for t in tried if t.mean_timed_reward is not None]
    overall = OverallSummary(
        tasks=len(per_task),
        episodes=n,
        successes=k,
        mean_task_success=_mean([t.successes / t.episodes for t in tried]),
        pooled_success=round(k / n, 4) if n else 0.0,
        pooled_ci95=(round(lo, 4), round(hi, 4)),
        mean_steps=_mean([r.result.steps for r in rows]),
        latency_per_call_s=round(sum(r.result.model_latency_s for r in rows) / calls, 4)
        if calls
        else 0.0,
        mean_timed_reward=_mean(timed) if timed else None,
    )
    planned = len(tasks) * len(seeds)
    return SweepSummary(
        suite=suite,
        model=model,
        profile=profile,
        seeds=list(seeds),
        max_steps=max_steps,
        scoring=scoring,
        versions=versions,
        workers=workers,
        wall_s=round(wall_s, 3),
        sessions=sessions,
        planned=planned,
        finished=n,
        complete=n >= planned,
        written_at=written_at,
        tasks=per_task,
        overall=overall,
    )


@dataclass(frozen=True)
class CompareRow:
    task: str  # "overall" for the last row (mean of per-task success)
    a: TaskSummary | None
    b: TaskSummary | None

    @property
    def delta(self) -> float | None:
        if self.a is None or self.b is None or not self.a.episodes or not self.b.episodes:
            return None
        return round(self.b.success_rate - self.a.success_rate, 4)


def compare(a: SweepSummary, b: SweepSummary) -> list[CompareRow]:
    """Per-task rows in A's order, then tasks only B has."""
    a_tasks = {t.task: t for t in a.tasks}
    b_tasks = {t.task: t for t in b.tasks}
    names = [t.task for t in a.tasks] + [t.task for t in b.tasks if t.task not in a_tasks]
    return [CompareRow(n, a_tasks.get(n), b_tasks.get(n)) for n in names]
