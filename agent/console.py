"""Console output: the only place that prints. Rich tables and per-step lines.

Contract: functions here format records for people; they never change them. ``Console`` output goes
to stderr for progress and stdout for results (tables, JSON), so ``gaze ... > file`` keeps results.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from actions.types import describe
from agent.trajectory import LoadedLog, RunResult, StepRecord

out = Console(soft_wrap=True)  # messages stay on one line when piped; tables still fit
err = Console(stderr=True, soft_wrap=True)


def step_line(rec: StepRecord) -> Text:
    t = Text()
    t.append(f"  step {rec.step + 1:>2}", style="bold")
    if rec.attempt:
        t.append(f" retry {rec.attempt}", style="yellow")
    t.append("  ")
    if rec.model_error:
        t.append(f"model error: {rec.model_error}", style="red")
    elif rec.parse_error:
        t.append(f"unparseable: {rec.parse_error}", style="yellow")
    else:
        for i, a in enumerate(rec.actions):
            res = rec.results[i] if i < len(rec.results) else None
            t.append(describe(a), style="cyan")
            if res is not None and not res.ok:
                t.append(f"  ✗ {res.error}", style="red")
            t.append("  ")
    model_s = rec.timings.get("model_s")
    if model_s is not None:
        t.append(f"  model {model_s * 1000:.0f} ms", style="dim")
    if rec.completion_tokens:
        t.append(f" · {rec.prompt_tokens}+{rec.completion_tokens} tok", style="dim")
    if rec.thought:
        t.append("\n         " + " ".join(rec.thought.split())[:160], style="italic dim")
    return t


def print_step(rec: StepRecord) -> None:
    err.print(step_line(rec))


def summary_table(rows: list[tuple[str, RunResult, str]]) -> Table:
    table = Table(title="Gaze run summary")
    for col in ("task", "result", "stopped", "steps", "model s", "log"):
        table.add_column(col)
    for task_id, r, run_dir in rows:
        table.add_row(
            task_id,
            Text("pass", style="green") if r.success else Text("FAIL", style="red"),
            Text(f"{r.stop_reason} {r.detail}"[:60]),  # the detail quotes model text
            str(r.steps),
            f"{r.model_latency_s:.2f}",
            run_dir,
        )
    return table


def log_table(log: LoadedLog) -> Table:
    task_id = str(log.meta.task.get("id", "?"))
    # every cell is Text: log contents (model replies, URLs) must not be read as rich markup
    table = Table(title=Text(f"{task_id} · model {log.meta.model} · profile {log.meta.profile}"))
    for col in ("step", "url", "model text", "action(s)", "result", "ms"):
        table.add_column(col, overflow="fold")
    for rec in log.steps:
        acts = "; ".join(describe(a) for a in rec.actions) or "-"
        if rec.parse_error:
            res = Text(f"parse error: {rec.parse_error}", style="yellow")
        elif rec.model_error:
            res = Text(f"model error: {rec.model_error}", style="red")
        else:
            res = Text(
                "; ".join("ok" if r.ok else f"✗ {r.error}" for r in rec.results) or "-",
                style="green" if all(r.ok for r in rec.results) else "red",
            )
        total = sum(rec.timings.values()) * 1000
        table.add_row(
            f"{rec.step + 1}" + (f".{rec.attempt}" if rec.attempt else ""),
            Text(rec.url[-40:]),
            Text((rec.model_text or "")[:200]),
            Text(acts),
            res,
            f"{total:.0f}",
        )
    return table
