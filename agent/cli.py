"""The ``gaze`` command line.

Commands: run, check, replay, show, report, schema, tasks, serve. Exit codes: 0 success, 1 a task
(or replay, or check) failed, 2 bad input (arguments, task files, logs, model spec) or a run log
that cannot be written (disk full, file size limit, unwritable --out). Heavy modules
(Playwright) are imported inside the commands so ``gaze --help`` stays fast.

Task arguments may be files, folders, a bundled suite name (``demo``) or a bundled task
(``demo/login``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from tasks.loader import SUITES_ROOT, TaskFileError, discover, load_task


def _task_paths(args: list[str]) -> list[Path]:
    out: list[Path] = []
    for a in args:
        p = Path(a)
        if p.exists():
            out.append(p)
        elif (SUITES_ROOT / a).is_dir():
            out.append(SUITES_ROOT / a)
        elif (SUITES_ROOT / f"{a}.yaml").is_file():
            out.append(SUITES_ROOT / f"{a}.yaml")
        else:
            raise TaskFileError(a, None, None, "no such file, folder or bundled suite")
    return discover(out)


def _load_tasks(args: list[str]):  # type: ignore[no-untyped-def]
    from agent.console import err

    paths = _task_paths(args)
    if not paths:
        raise TaskFileError(" ".join(args), None, None, "no task files (*.yaml) found")
    tasks, errors = [], []
    for p in paths:
        try:
            tasks.append((load_task(p), str(p)))
        except TaskFileError as e:
            errors.append(e)
    for problem in errors:
        err.print(f"error: {problem}", style="red", highlight=False, markup=False)
    if errors:
        raise SystemExit(2)
    return tasks


def _usage_error(message: str) -> NoReturn:
    """A bad argument found after parsing: one line on stderr, exit code 2 (as argparse does)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def _host_pattern(text: str) -> str:
    """An argparse type: a host pattern of the allow-list (``actions.safety.HostPattern``)."""
    from actions.safety import HostPattern

    try:
        HostPattern.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _int_in(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer from ``low`` to ``high``, else a usage error naming them."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return parse


def _browser_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from actions.environment import BrowserConfig

    if args.headed and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        _usage_error("--headed needs a display (DISPLAY or WAYLAND_DISPLAY is not set)")
    if args.chromium and not Path(args.chromium).is_file():
        _usage_error(f"--chromium {args.chromium}: no such file")
    # `gaze run --allow-domain HOST`: hosts every task may reach besides its own allow-list
    allowed = tuple(getattr(args, "allow_domain", None) or ()) or None
    return BrowserConfig(
        headless=not args.headed,
        executable=args.chromium,
        screenshot_format=args.screenshot_format,
        allowed_domains=allowed,
    )


def cmd_run(args: argparse.Namespace) -> int:
    from actions.browser import BrowserEnv
    from agent.console import err, out, print_step, summary_table
    from agent.loop import LoopConfig
    from agent.models import ModelSpecError, load_model
    from agent.policy import ModelPolicy
    from agent.runner import run_task
    from tasks.server import SiteServer

    tasks = _load_tasks(args.tasks)
    try:
        model, profile = load_model(args.model, args.profile)
    except (ModelSpecError, KeyError) as e:
        err.print(f"error: {e}", style="red", highlight=False, markup=False)
        return 2
    if args.model and args.model.startswith("scripted:"):
        err.print("[yellow]scripted model: replies come from a file, nothing looks at the page[/]")
    policy = ModelPolicy(model, profile)
    bcfg = _browser_config(args)
    rows = []
    with SiteServer() as server, BrowserEnv(bcfg) as env:
        for task, path in tasks:
            err.print(f"{task.id}: {' / '.join(task.goal_list)}", highlight=False, markup=False)
            loop = LoopConfig(max_steps=args.max_steps or task.max_steps)
            result, run_dir = run_task(
                task,
                start_url=server.resolve_start(task.start),
                env=env,
                policy=policy,
                out=Path(args.out),
                browser=bcfg,
                loop=loop,
                task_file=path,
                browser_version=env.browser_version,
                on_step=print_step,
            )
            rows.append((task.id, result, str(run_dir)))
    out.print(summary_table(rows))
    return 0 if all(r.success for _, r, _ in rows) else 1


def cmd_check(args: argparse.Namespace) -> int:

    from actions.browser import BrowserEnv
    from agent.console import err, out
    from tasks.reference import run_reference
    from tasks.server import SiteServer

    tasks = _load_tasks(args.tasks)
    bcfg = _browser_config(args)
    failed = 0
    with SiteServer() as server, BrowserEnv(bcfg) as env:
        for task, _path in tasks:
            res = run_reference(
                task, env, server.resolve_start(task.start), task.browser_config(bcfg)
            )
            mark = "[green]pass[/]" if res.ok else "[red]FAIL[/]"
            out.print(f"{mark} {task.id} ({len(res.actions)} actions)", highlight=False)
            if not res.ok:
                failed += 1
                if res.error:
                    err.print(f"    {res.error}", highlight=False, markup=False)
                for c in res.checks:
                    if not c.passed:
                        err.print(f"    check failed: {c.detail}", highlight=False, markup=False)
    return 1 if failed else 0


def _read(path: str):  # type: ignore[no-untyped-def]
    from agent.console import err
    from agent.trajectory import LogError, read_log

    try:
        log = read_log(path)
    except LogError as e:  # the message quotes paths and log text: no markup
        err.print(f"error: {e}", style="red", highlight=False, markup=False)
        raise SystemExit(2) from None
    for w in log.warnings:
        err.print(f"warning: {w}", style="yellow", highlight=False, markup=False)
    return log


def cmd_replay(args: argparse.Namespace) -> int:
    from rich.text import Text

    from actions.browser import BrowserEnv
    from agent.console import err, out
    from agent.replay import replay_log
    from tasks.server import SiteServer

    log = _read(args.log)
    start = str(log.meta.task.get("start", ""))
    bcfg = _browser_config(args)
    with SiteServer() as server, BrowserEnv(bcfg) as env:
        res = replay_log(log, env, start_url=server.resolve_start(start), browser=bcfg)
    for d in res.divergences:
        err.print(f"divergence: {d}", style="yellow", highlight=False, markup=False)
    if res.error:
        err.print(f"error: {res.error}", style="red", highlight=False, markup=False)
    for c in res.checks:
        mark = Text("✓", style="green") if c.passed else Text("✗", style="red")
        out.print(mark, Text(c.detail), highlight=False)
    out.print(
        f"replayed {res.actions} actions: {'[green]success[/]' if res.success else '[red]failure[/]'}"
    )
    return 0 if res.success else 1


def cmd_show(args: argparse.Namespace) -> int:
    from agent.console import log_table, out

    log = _read(args.log)
    out.print(log_table(log))
    r = log.result
    if r is not None:
        out.print(
            f"{'success' if r.success else 'failure'} · stopped: {r.stop_reason} {r.detail} · "
            f"{r.steps} steps · {r.duration_s:.1f} s",
            highlight=False,
            markup=False,  # the detail quotes model and page text
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from agent.console import err, out
    from agent.report import render_report
    from agent.sweep import SweepError
    from agent.sweep_report import is_sweep, write_sweep_report

    if is_sweep(Path(args.log)):  # a sweep folder (gaze bench): its page and its episodes' pages
        try:
            page = write_sweep_report(Path(args.log), Path(args.output) if args.output else None)
        except SweepError as e:
            err.print(f"error: {e}", highlight=False, markup=False)
            return 2
        out.print(f"wrote {page}", highlight=False)
        return 0
    log = _read(args.log)
    target = Path(args.output) if args.output else Path(args.log) / "report.html"
    try:
        target.write_text(render_report(log), encoding="utf-8")
    except OSError as e:
        _usage_error(f"cannot write {target}: {e.strerror or e}")
    out.print(f"wrote {target}", highlight=False)
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from rich.table import Table

    from agent.console import out
    from perception.profiles import PROFILES

    table = Table(
        title="Model profiles (pick with --profile; chosen automatically from the model id)"
    )
    for col in ("profile", "dialect", "coordinates", "images", "history", "matches", "notes"):
        table.add_column(col, overflow="fold")
    for p in PROFILES.values():
        img = p.image
        if img.mode == "smart_resize":
            size = f"smart_resize /{img.factor}, {img.min_pixels}-{img.max_pixels} px"
        elif img.mode == "max_side":
            size = f"longest side <= {img.max_side}"
        else:
            size = img.mode
        table.add_row(
            p.name,
            p.dialect,
            p.space,
            size,
            str(p.history_images),
            ", ".join((*p.match_ids, *p.model_types)),
            p.notes,
        )
    out.print(table)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    from tasks.spec import task_json_schema

    sys.stdout.write(json.dumps(task_json_schema(), indent=2) + "\n")
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    from agent.console import out

    for task, path in _load_tasks(args.tasks or ["demo"]):
        ref = f"{len(task.reference)} ref steps" if task.reference else "no reference"
        out.print(
            f"{task.id:<24} {' / '.join(task.goal_list)[:70]:<72} {ref}  {path}",
            highlight=False,
            markup=False,
        )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import time

    from agent.console import out
    from tasks.server import SiteServer

    try:
        server = SiteServer(port=args.port)
    except OSError as e:
        _usage_error(f"--port {args.port}: {e.strerror or e}")
    with server:
        out.print(f"serving bundled sites at {server.base_url}/demo/index.html (Ctrl-C stops)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


def _browser_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--headed", action="store_true", help="show the browser window (needs a display)"
    )
    p.add_argument("--chromium", metavar="PATH", help="Chromium/Chrome binary (default: detect)")
    p.add_argument("--screenshot-format", choices=["png", "jpeg"], default="png")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="gaze", description="A browser agent that acts on what it sees."
    )
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="run tasks with a model; exit 0 only if all succeed")
    p.add_argument(
        "tasks", nargs="+", help="task files, folders, or bundled suites (demo, demo/login)"
    )
    p.add_argument(
        "--model",
        help="a model folder, openai:http://HOST:PORT/v1#NAME, hf:ORG/NAME, or scripted:FILE",
    )
    p.add_argument("--profile", help="model profile (default: from the model id)")
    p.add_argument(
        "--max-steps", type=_int_in(1, 500), help="override each task's max_steps (1-500)"
    )
    p.add_argument("--out", default="runs", help="folder for run logs (default: runs/)")
    p.add_argument(
        "--allow-domain",
        action="append",
        type=_host_pattern,
        metavar="HOST",
        help="also let the browser reach HOST (example.com, *.example.com, 127.0.0.1:8123, or * "
        "for any); repeatable. By default a task reaches only its allowed_domains and its start "
        "page's host",
    )
    _browser_flags(p)
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("check", help="run tasks' reference solutions and checks (no model)")
    p.add_argument("tasks", nargs="+")
    _browser_flags(p)
    p.set_defaults(fn=cmd_check)

    p = sub.add_parser("replay", help="re-execute a run's actions on a fresh browser and re-check")
    p.add_argument("log", help="run folder")
    _browser_flags(p)
    p.set_defaults(fn=cmd_replay)

    p = sub.add_parser("show", help="print a run as a table")
    p.add_argument("log")
    p.set_defaults(fn=cmd_show)

    p = sub.add_parser("report", help="write a self-contained HTML report of a run or a sweep")
    p.add_argument("log", help="a run folder, or a sweep folder (gaze bench)")
    p.add_argument("-o", "--output", help="file to write (default: LOG/report.html)")
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser("models", help="list model profiles (dialect, coordinate space, image size)")
    p.set_defaults(fn=cmd_models)

    p = sub.add_parser("schema", help="print the task-file JSON schema")
    p.set_defaults(fn=cmd_schema)

    p = sub.add_parser("tasks", help="list (and validate) tasks")
    p.add_argument("tasks", nargs="*")
    p.set_defaults(fn=cmd_tasks)

    p = sub.add_parser("serve", help="serve the bundled demo sites on 127.0.0.1")
    p.add_argument("--port", type=_int_in(0, 65535), default=8765, help="0 picks a free port")
    p.set_defaults(fn=cmd_serve)

    from agent.locate import register as _register_locate
    from agent.shell import register as _register_shell
    from agent.sweep_cli import register_bench as _register_bench
    from agent.train_cli import register as _register_train

    _register_locate(sub)
    _register_bench(sub)
    _register_shell(sub)
    _register_train(sub)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from agent.trajectory import LogWriteError  # after parsing: `gaze --help` stays light

    try:
        return int(args.fn(args))
    except TaskFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except LogWriteError as e:  # disk full, file size limit, unwritable --out: the run stops
        print(f"error: cannot write the run log: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
