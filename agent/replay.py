"""Replay: re-execute a run's recorded actions on a fresh browser, without any model.

Contract: ``replay_log(log, env, start_url)`` resets the environment to the task's start URL with
the recorded viewport, executes every action the run executed (in order, attempts that did not
parse contribute nothing), re-evaluates the task's checks with the recorded ``done`` answer, and
returns a ``ReplayResult``. It reports divergence (an action that succeeded in the run but fails in
the replay, or the reverse) instead of stopping at it. Actions are replayed in viewport CSS px, so
a replay is exact whatever model or profile made the run. Logs hold secrets only as
``${{ secrets.NAME }}`` placeholders: the replay reads their values again from ``GAZE_SECRET_NAME``
(an unset one is an error before anything runs) and types them as the run did.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from actions.environment import BrowserConfig, EnvError, Environment, open_start_page
from actions.safety import SecretError, Secrets, secret_names
from actions.types import Done, Type, describe
from agent.trajectory import LoadedLog
from tasks.checks import CheckResult, run_checks
from tasks.spec import TaskSpec


@dataclass
class ReplayResult:
    success: bool
    actions: int = 0
    divergences: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None


def _secrets_named(task: TaskSpec, log: LoadedLog) -> list[str]:
    """The secrets the run's goals and typed texts name (placeholders, as the log records them)."""
    texts = [
        *task.goal_list,
        *(a.text for r in log.steps for a in r.actions if isinstance(a, Type)),
    ]
    return list(dict.fromkeys(n for t in texts for n in secret_names(t)))


def replay_log(
    log: LoadedLog, env: Environment, *, start_url: str, browser: BrowserConfig | None = None
) -> ReplayResult:
    task = TaskSpec.model_validate(log.meta.task)
    out = ReplayResult(success=False)
    try:  # the log holds placeholders only; typing them needs the values again
        task = task.with_secrets(Secrets.from_env(_secrets_named(task, log), os.environ))
    except SecretError as e:
        out.error = f"cannot replay: {e}"
        return out
    out.error = open_start_page(env, start_url, task.browser_config(browser, start_url=start_url))
    if out.error is not None:
        return out
    answer: str | None = None
    for rec in log.steps:
        for i, action in enumerate(rec.actions):
            if isinstance(action, Done):
                answer = action.answer
                continue
            if i >= len(rec.results):  # not executed in the run (terminal or after a failure)
                continue
            try:
                result = env.act(action)
            except EnvError as e:
                out.error = f"step {rec.step + 1}: the browser failed: {e}"
                return out
            out.actions += 1
            recorded = rec.results[i]
            if result.ok != recorded.ok:
                out.divergences.append(
                    f"step {rec.step + 1}: {describe(action)} "
                    f"{'succeeded' if result.ok else 'failed'} on replay "
                    f"but {'succeeded' if recorded.ok else 'failed'} in the run"
                    + (f" ({result.error})" if result.error else "")
                )
    out.checks = run_checks(task.checks, env, answer)
    out.success = bool(out.checks) and all(c.passed for c in out.checks) and not out.divergences
    return out
