"""``gaze bench``: sweeps over MiniWoB or the demo suite, comparing two sweeps, and grounding.

Forms (one parser, because a suite name such as ``miniwob:click-button`` is free text)::

    gaze bench SUITE --model M [--profile P] [--seeds 0-49] [--workers N] [--out DIR]
                     [--max-steps K] [--tasks a,b] [--batch-window-ms MS]
    gaze bench --compare A B
    gaze bench grounding DATASET --model M [--images DIR] [--convention auto|v2|pro] ...

Exit codes: 0 the sweep finished (whatever its success rate) or the comparison printed, 2 bad
input (suite, seeds, model, a folder holding a different sweep), 130 interrupted (what finished
is kept and summarised; the same command resumes). Progress goes to stderr, tables to stdout.
Heavy modules (Playwright) are imported inside the commands.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING

from agent.grounding import add_grounding_options, cmd_bench_grounding

if TYPE_CHECKING:
    from rich.table import Table

    from agent.sweep_summary import SweepSummary, TaskSummary

DEFAULT_SEEDS = "0-9"
_GROUNDING_ONLY = ("images", "limit", "report")
_SWEEP_ONLY = ("seeds", "out", "max_steps", "tasks", "batch_window_ms")


def _error(message: str) -> int:
    from agent.console import err

    err.print(f"error: {message}", highlight=False, markup=False)
    return 2


def default_out(suite: str, model: str) -> Path:
    """Deterministic, so that running the same command again resumes the same sweep."""
    name = Path(model.split("#")[-1].rstrip("/")).name or "model"
    return Path("sweeps") / re.sub(r"[^A-Za-z0-9._-]+", "-", f"{suite}-{name}")


def cmd_bench(args: argparse.Namespace) -> int:
    target: list[str] = args.target
    if args.compare:
        if target:
            return _error("--compare A B takes no suite")
        return cmd_compare(args)
    if not target:
        return _error("give a SUITE (miniwob, miniwob:clicktype, demo, ...), --compare A B, "
                      "or grounding DATASET; see gaze bench --help")  # fmt: skip
    if target[0] == "grounding":
        if len(target) != 2:
            return _error("usage: gaze bench grounding DATASET --model M")
        given = [f"--{o.replace('_', '-')}" for o in _SWEEP_ONLY if getattr(args, o) is not None]
        if given or args.workers != 1:
            return _error(f"{', '.join(given) or '--workers'} does not apply to grounding")
        args.dataset = target[1]
        return cmd_bench_grounding(args)
    if len(target) != 1:
        return _error(f"one suite at a time, got {' '.join(target)}")
    given = [f"--{o}" for o in _GROUNDING_ONLY if getattr(args, o)]
    if given or args.convention != "auto":
        return _error(f"{', '.join(given) or '--convention'} applies to gaze bench grounding only")
    return cmd_sweep(args, target[0])


def cmd_sweep(args: argparse.Namespace, suite_name: str) -> int:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from agent.cli import _browser_config
    from agent.console import err, out
    from agent.models import ModelSpecError, load_model
    from agent.runner import versions
    from agent.sweep import Finished, SweepError, SweepPlan, parse_seeds, run_sweep
    from agent.sweep_suites import SuiteError, resolve_suite
    from agent.trajectory import now_iso

    try:
        suite = resolve_suite(suite_name, args.tasks)
        seeds = parse_seeds(args.seeds or DEFAULT_SEEDS)
    except (SuiteError, ValueError) as e:
        return _error(str(e))
    if args.workers < 1:
        return _error("--workers must be at least 1")
    if args.max_steps is not None and args.max_steps < 1:
        return _error("--max-steps must be at least 1")
    try:
        model, profile = load_model(args.model, args.profile)
    except (ModelSpecError, KeyError) as e:
        return _error(str(e))
    if args.model.startswith("scripted:"):
        err.print("scripted model: replies come from a file, nothing looks at the page",
                  style="yellow", markup=False)  # fmt: skip
    out_dir = Path(args.out) if args.out else default_out(suite_name, args.model)
    plan = SweepPlan(
        suite=suite_name,
        kind=suite.kind,
        tasks=suite.tasks,
        seeds=seeds,
        model=args.model,
        profile=profile.name,
        max_steps=args.max_steps or suite.default_max_steps(),
        scoring=suite.scoring,
        versions=versions(),
        created_at=now_iso(),
    )
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
    )
    bar = progress.add_task(f"{suite_name} -> {out_dir}", total=None, rate="")

    def rate(finished: int, successes: int) -> str:
        return f"{successes}/{finished} ok ({successes / finished:.0%})" if finished else ""

    def on_start(finished: int, successes: int, planned: int) -> None:
        # started only now, so that a refused plan prints its error without a bar
        progress.start()
        progress.update(bar, total=planned, completed=finished, rate=rate(finished, successes))

    def on_episode(f: Finished) -> None:
        progress.update(bar, completed=f.finished, rate=rate(f.finished, f.successes))

    window_ms = 50.0 if args.batch_window_ms is None else args.batch_window_ms
    try:
        summary = run_sweep(
            plan, suite, out_dir, model=model, profile=profile, workers=args.workers,
            browser=_browser_config(args), batch_window_s=window_ms / 1000,
            on_start=on_start, on_episode=on_episode,
        )  # fmt: skip
    except SweepError as e:
        return _error(str(e))
    except KeyboardInterrupt:
        err.print(f"interrupted: what finished is in {out_dir}/summary.json; run the same "
                  "command again to resume", markup=False, highlight=False)  # fmt: skip
        return 130
    finally:
        progress.stop()
    out.print(summary_table(summary))
    err.print(f"summary: {out_dir / 'summary.json'} · report: gaze report {out_dir}",
              markup=False, highlight=False)  # fmt: skip
    return 0


def summary_table(s: SweepSummary) -> Table:
    from rich.table import Table

    table = Table(title=f"{s.suite} · {s.model} · {len(s.seeds)} seeds", caption=s.scoring)
    timed = s.overall.mean_timed_reward is not None
    for col in ("task", "success", "95% interval", "steps", "latency/call", *(["timed reward"] if timed else [])):  # fmt: skip
        table.add_column(col)
    for t in s.tasks:
        table.add_row(
            t.task,
            f"{t.success_rate:.0%} ({t.successes}/{t.episodes})",
            f"{t.ci95[0]:.0%}–{t.ci95[1]:.0%}",
            f"{t.mean_steps:.1f}",
            f"{t.latency_per_call_s * 1000:.0f} ms",
            *([f"{t.mean_timed_reward:.3f}" if t.mean_timed_reward is not None else "-"] if timed else []),
        )  # fmt: skip
    o = s.overall
    table.add_row(
        "overall",
        f"{o.mean_task_success:.0%} (pooled {o.pooled_success:.0%}, {o.successes}/{o.episodes})",
        f"{o.pooled_ci95[0]:.0%}–{o.pooled_ci95[1]:.0%}",
        f"{o.mean_steps:.1f}",
        f"{o.latency_per_call_s * 1000:.0f} ms",
        *([f"{o.mean_timed_reward:.3f}" if o.mean_timed_reward is not None else "-"] if timed else []),
        style="bold",
    )  # fmt: skip
    return table


def _load_summary(path: str) -> SweepSummary:
    from pydantic import ValidationError

    from agent.sweep import SUMMARY_FILE
    from agent.sweep_summary import SweepSummary

    p = Path(path)
    file = p / SUMMARY_FILE if p.is_dir() else p
    try:
        return SweepSummary.model_validate_json(file.read_bytes())
    except OSError as e:
        raise ValueError(f"{file}: cannot read ({e.strerror or e})") from None
    except ValidationError as e:
        raise ValueError(
            f"{file}: not a sweep summary ({e.errors(include_url=False)[0]['msg']})"
        ) from None


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.table import Table
    from rich.text import Text

    from agent.console import err, out
    from agent.sweep_summary import compare

    a_path, b_path = args.compare
    try:
        a, b = _load_summary(a_path), _load_summary(b_path)
    except ValueError as e:
        return _error(str(e))
    for what in ("suite", "seeds", "scoring", "max_steps"):
        if getattr(a, what) != getattr(b, what):
            err.print(f"note: the sweeps differ in {what}", style="yellow", markup=False)
    table = Table(title=f"A = {a_path} ({a.model})  vs  B = {b_path} ({b.model})")
    for col in ("task", "A success", "B success", "Δ (B − A)"):
        table.add_column(col)

    def cell(t: TaskSummary | None) -> str:
        if t is None or not t.episodes:
            return "-"
        return f"{t.success_rate:.0%} ({t.successes}/{t.episodes})"

    def delta(d: float | None) -> Text:
        if d is None:
            return Text("-")
        style = "green" if d > 0 else "red" if d < 0 else ""
        return Text(f"{d * 100:+.1f} pts", style=style)

    for row in compare(a, b):
        table.add_row(Text(row.task), cell(row.a), cell(row.b), delta(row.delta))
    oa, ob = a.overall, b.overall
    table.add_row(
        Text("overall (mean of tasks)", style="bold"),
        f"{oa.mean_task_success:.1%}",
        f"{ob.mean_task_success:.1%}",
        delta(round(ob.mean_task_success - oa.mean_task_success, 4)),
    )
    table.add_row(
        Text("overall (pooled)", style="bold"),
        f"{oa.pooled_success:.1%} ({oa.successes}/{oa.episodes})",
        f"{ob.pooled_success:.1%} ({ob.successes}/{ob.episodes})",
        delta(round(ob.pooled_success - oa.pooled_success, 4)),
    )
    out.print(table)
    return 0


def register_bench(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bench",
        help="benchmarks: gaze bench SUITE (sweep), --compare A B, grounding DATASET",
        description="Run a benchmark sweep (gaze bench SUITE), compare two sweeps "
        "(gaze bench --compare A B), or measure grounding (gaze bench grounding DATASET). "
        "Details: docs/BENCH.md.",
    )
    p.add_argument(
        "target", nargs="*", metavar="SUITE",
        help="miniwob, miniwob:SUBSET (all, click, clicktype, pix2act), miniwob:TASK, or demo; "
        "or: grounding DATASET",
    )  # fmt: skip
    p.add_argument("--model", help="model spec, as for gaze run")
    p.add_argument("--profile", help="model profile (default: from the model id)")
    s = p.add_argument_group("sweep (gaze bench SUITE)")
    s.add_argument("--seeds", help=f"seeds, e.g. 0-49 or 0-4,7 (default {DEFAULT_SEEDS}); demo "
                   "pages are not seeded: each seed is one more repetition")  # fmt: skip
    s.add_argument("--workers", type=int, default=1, help="parallel browsers (default 1)")
    s.add_argument(
        "--out", help="sweep folder; the same folder resumes (default: sweeps/SUITE-MODEL)"
    )
    s.add_argument("--max-steps", type=int, help="steps per episode (default: 10 for MiniWoB, "
                   "each demo task's own)")  # fmt: skip
    s.add_argument("--tasks", help="only these tasks of the suite, comma-separated")
    s.add_argument("--batch-window-ms", type=float,
                   help="how long a model request waits for others to batch with (default 50)")  # fmt: skip
    s.add_argument("--compare", nargs=2, metavar=("A", "B"),
                   help="print two sweeps' per-task success side by side with deltas")  # fmt: skip
    s.add_argument(
        "--headed", action="store_true", help="show the browser windows (needs a display)"
    )
    s.add_argument("--chromium", metavar="PATH", help="Chromium/Chrome binary (default: detect)")
    s.add_argument("--screenshot-format", choices=["png", "jpeg"], default="png")
    add_grounding_options(p.add_argument_group("grounding (gaze bench grounding DATASET)"))
    p.set_defaults(fn=cmd_bench)
