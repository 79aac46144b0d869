"""``gaze shell``: a REPL over one live browser that persists across instructions.

Contract:
- A line that is not a slash command is an instruction: the agent loop runs it on the current
  page with the session's model, printing each step as it is recorded. Ctrl-C stops the running
  instruction (never the browser or the session) and the prompt comes back.
- Slash commands act on the same browser (``/goto /back /click /type /key /scroll``, recorded as
  steps with no model text), or inspect and manage the session (``/shot /model /history /save
  /replay /report /help /quit``). Bad input gets one line of error and the prompt back.
- Before the agent types into a password field or submits a card-number form it asks ``y/N``
  (``--yes`` answers yes); a declined action is not executed and the instruction stops. When the
  model asks the user, the question is printed and ``/resume`` runs the instruction again.
- The whole session is one task log (``agent.shell_session.SessionLog``): ``gaze replay`` and
  ``gaze report`` work on it; ``result.json`` is written on ``/save``, ``/report`` and at the end.

Only this module and ``agent.console`` print. The recording lives in ``agent.shell_session``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.text import Text

from actions.environment import BrowserConfig, EnvError, Environment
from actions.keys import normalize_combo
from actions.types import Action, Back, Click, KeyPress, Navigate, Observation, Scroll, Type
from agent.console import step_line
from agent.loop import LoopConfig, run_episode
from agent.policy import ModelPolicy
from agent.shell_session import CtrlC, SessionLog, quiet_terminal_signals, risk
from agent.trajectory import LogWriteError, StepRecord, StopReason

if TYPE_CHECKING:
    from tasks.server import SiteServer

DEFAULT_URL = "site:demo/index.html"
URL_RE = re.compile(r"^(https?://[^\s/]+\S*|site:[A-Za-z0-9_\-]+/\S*)$")

COMMANDS: dict[str, tuple[str, str]] = {  # name -> (arguments, what it does)
    "/goto": ("URL", "load a URL (http(s)://... or site:demo/PAGE)"),
    "/back": ("", "go back one page"),
    "/click": ("X Y", "click at viewport CSS px"),
    "/type": ("TEXT", "type text into the focused element"),
    "/key": ("COMBO", "press a key or combination (Enter, ctrl+a)"),
    "/scroll": ("[up|down]", "scroll at the viewport centre (default down)"),
    "/shot": ("[FILE]", "save the current screenshot (default: the session folder)"),
    "/model": ("[SPEC]", "show the model, or switch to SPEC"),
    "/history": ("", "list the steps so far"),
    "/resume": ("", "run the instruction the model paused on again"),
    "/save": ("[DIR]", "write result.json; with DIR, copy the session log there"),
    "/replay": ("LOG", "re-execute a run log in a fresh browser and re-check it"),
    "/report": ("", "write report.html of this session"),
    "/help": ("", "this list"),
    "/quit": ("", "end the session (also Ctrl-D)"),
}


class UsageError(ValueError):
    """Bad input to a command: printed as one line, and the prompt comes back."""


class Shell:
    """The session's state and one method per command."""

    def __init__(
        self,
        *,
        console: Console,
        env: Environment,
        server: SiteServer,
        log: SessionLog,
        bcfg: BrowserConfig,
        policy: ModelPolicy | None,
        profile: str | None,
        yes: bool,
        max_steps: int,
        read_line: Callable[[str], str],
    ) -> None:
        self.console, self.env, self.server, self.log, self.bcfg = console, env, server, log, bcfg
        self.policy, self.profile, self.yes, self.max_steps = policy, profile, yes, max_steps
        self.exit_code = 0  # 2 once the session log could not be written
        self.read_line = read_line
        self.ctrlc: CtrlC | None = None
        self.paused: str | None = None  # the instruction the model asked the user about
        self.last_stop: StopReason = "done"
        self.last_detail = ""
        self.goals_done = 0
        self.shots = 0
        log.on_record = self.print_step

    # ------------------------------------------------------------ output

    def print_step(self, rec: StepRecord) -> None:
        self.console.print(step_line(rec))

    def error(self, message: str) -> None:
        first = message.splitlines()[0] if message else ""
        self.console.print(Text.assemble(("error: ", "red"), first))

    def latest(self) -> None:
        """Headless sessions: where to look at the page now."""
        if not self.bcfg.headless:
            return
        try:
            obs = self.env.observe()
        except EnvError:
            return
        path = self.log.run_dir / f"latest.{'jpg' if obs.encoded_format == 'jpeg' else 'png'}"
        _write_shot(obs, path)
        self.console.print(f"[dim]screen: {path}[/dim]")

    # ------------------------------------------------------------ the loop

    def run(self) -> int:
        while True:
            try:
                line = self.read_line("gaze> ")
            except KeyboardInterrupt:  # Ctrl-C at the prompt clears the line
                continue
            except EOFError:
                self.console.print()
                break
            if not self.handle(line.strip()):
                break
        self.finish()
        return self.exit_code

    def handle(self, line: str) -> bool:
        """Run one line; False when the session should end."""
        if not line:
            return True
        try:
            if not line.startswith("/"):
                self.instruct(line)
                return True
            name, _, rest = line.partition(" ")
            if name in ("/quit", "/exit"):
                return False
            if name not in COMMANDS:
                raise UsageError(f"unknown command {name} (type /help for the list)")
            getattr(self, "cmd_" + name[1:])(rest.strip())
        except UsageError as e:
            self.error(str(e))
        except EnvError as e:
            self.error(f"the browser failed: {e}")
        except LogWriteError as e:  # acting on without a record would break the log's promise
            self.error(f"cannot write the session log, ending the session: {e}")
            self.exit_code = 2
            return False
        except KeyboardInterrupt:
            self.console.print("[yellow]interrupted[/yellow]")
        except Exception as e:  # a bug must not end a session that holds a live browser
            self.error(f"{type(e).__name__}: {e}")
        return True

    def finish(self) -> None:
        try:
            result = self.log.result(self.env, self.last_stop, self.last_detail, self.goals_done)
        except LogWriteError as e:
            self.error(f"cannot write the session log: {e}")
            self.exit_code = 2
            return
        finally:
            self.log.close()
        self.console.print(
            f"session log: {self.log.run_dir} ({result.steps} steps; "
            f"`gaze replay {self.log.run_dir}` re-executes it)"
        )

    # ------------------------------------------------------------ instructions

    def instruct(self, text: str, *, again: bool = False) -> None:
        if self.policy is None:
            raise UsageError(
                "no model to follow instructions: start with --model SPEC or type /model SPEC "
                "(e.g. /model scripted:FILE); slash commands work without one"
            )
        if not again:
            self.log.add_goal(text)
        self.paused = None
        self.log.begin_episode()
        self.console.print(f"[dim]» {text} (Ctrl-C stops)[/dim]")
        cc = CtrlC(sys.stdin.fileno())
        try:
            with cc:
                self.ctrlc = cc
                ep = run_episode(
                    [text],
                    self.env,
                    self.policy,
                    config=LoopConfig(max_steps=self.max_steps),
                    sink=self.log,
                    guard=self.guard,
                )
        except KeyboardInterrupt:
            cc.__exit__(None, None, None)
            self.last_stop, self.last_detail = "interrupted", "Ctrl-C"
            self.console.print("[yellow]interrupted: instruction stopped; the browser is kept[/]")
            self.latest()
            return
        finally:
            self.ctrlc = None
        self.last_stop, self.last_detail = ep.stop_reason, ep.detail
        if ep.stop_reason == "done":
            self.goals_done += 1
            self.console.print(f"[green]done[/green] {ep.answer or ''}".rstrip())
        elif ep.stop_reason == "asked_user" and ep.detail.startswith("declined:"):
            self.console.print(f"[yellow]instruction stopped:[/yellow] {ep.detail}")
        elif ep.stop_reason == "asked_user":
            self.paused = text
            self.console.print(f"[bold]the model asks:[/bold] {ep.detail}")
            self.console.print(
                "act in the browser (or with slash commands), then type /resume; "
                "or type the next instruction"
            )
        else:
            self.console.print(f"[yellow]stopped: {ep.stop_reason}[/yellow] {ep.detail}")
        self.latest()

    def guard(self, action: Action, obs: Observation) -> str | None:
        what = risk(self.env, action)
        if what is None:
            return None
        if self.yes:
            self.console.print(f"[dim]about to {what}: allowed by --yes[/dim]")
            return None
        question = f"The agent is about to {what}. Allow? [y/N] "
        try:
            if self.ctrlc is not None:
                with self.ctrlc.paused():
                    answer = self.read_line(question)
            else:
                answer = self.read_line(question)
        except EOFError:
            answer = ""
        if answer.strip().lower() in ("y", "yes"):
            return None
        return f"declined: {what}"

    # ------------------------------------------------------------ page actions

    def act(self, action: Action) -> None:
        obs = self.env.observe()
        t0 = time.perf_counter()
        cc = CtrlC(sys.stdin.fileno())
        try:
            with cc:
                result = self.env.act(action)
        except KeyboardInterrupt:
            cc.__exit__(None, None, None)
            raise
        self.log.manual(obs, action, result, time.perf_counter() - t0)
        if not result.ok:
            self.error(result.error or "the action failed")
        self.latest()

    def cmd_goto(self, arg: str) -> None:
        if not arg or " " in arg:
            raise UsageError("usage: /goto URL")
        if not URL_RE.match(arg):
            raise UsageError(f"not a URL: {arg!r} (give http(s)://HOST/PATH or site:demo/PAGE)")
        self.act(Navigate(url=self.server.resolve_start(arg)))

    def cmd_back(self, arg: str) -> None:
        _no_args("/back", arg)
        self.act(Back())

    def cmd_click(self, arg: str) -> None:
        parts = arg.split()
        try:
            x, y = (float(p) for p in parts)
        except ValueError:
            raise UsageError("usage: /click X Y (viewport CSS px)") from None
        self.act(Click(x=x, y=y))

    def cmd_type(self, arg: str) -> None:
        if not arg:
            raise UsageError("usage: /type TEXT")
        self.act(Type(text=arg))

    def cmd_key(self, arg: str) -> None:
        try:
            combo = normalize_combo(arg)
        except ValueError as e:
            raise UsageError(f"usage: /key COMBO ({e})") from None
        self.act(KeyPress(keys=combo))

    def cmd_scroll(self, arg: str) -> None:
        if arg not in ("", "up", "down"):
            raise UsageError("usage: /scroll [up|down]")
        w, h = self.bcfg.viewport_w, self.bcfg.viewport_h
        dy = -0.6 * h if arg == "up" else 0.6 * h
        self.act(Scroll(x=w // 2, y=h // 2, dy=round(dy)))

    # ------------------------------------------------------------ session commands

    def cmd_shot(self, arg: str) -> None:
        obs = self.env.observe()
        if arg:
            path = Path(arg)
        else:
            self.shots += 1
            ext = "jpg" if obs.encoded_format == "jpeg" else "png"
            path = self.log.run_dir / "shots" / f"shot-{self.shots:03d}.{ext}"
            path.parent.mkdir(exist_ok=True)
        try:
            _write_shot(obs, path)
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot write {path}: {e}") from None
        self.console.print(f"saved {path}")

    def cmd_model(self, arg: str) -> None:
        from agent.models import ModelSpecError, load_model

        if not arg:
            if self.policy is None:
                self.console.print("no model (switch with /model SPEC)")
            else:
                self.console.print(f"model {self.policy.name} · profile {self.policy.profile.name}")
            return
        try:
            model, profile = load_model(arg, self.profile)
        except (ModelSpecError, KeyError) as e:
            raise UsageError(str(e)) from None
        self.policy = ModelPolicy(model, profile)
        self.log.set_model(model.name, profile.name)
        self.console.print(f"model {model.name} · profile {profile.name}")

    def cmd_history(self, arg: str) -> None:
        _no_args("/history", arg)
        if not self.log.records:
            self.console.print("no steps yet")
        goals = self.log.goals
        shown = -1
        for rec in self.log.records:
            if goals and rec.goal_index != shown:
                shown = rec.goal_index
                self.console.print(f"[bold]» {goals[shown]}[/bold]")
            self.print_step(rec)

    def cmd_resume(self, arg: str) -> None:
        _no_args("/resume", arg)
        if self.paused is None:
            raise UsageError("nothing to resume: the model has not asked anything")
        self.instruct(self.paused, again=True)

    def cmd_save(self, arg: str) -> None:
        self.log.result(self.env, self.last_stop, self.last_detail, self.goals_done)
        if not arg:
            self.console.print(f"session log: {self.log.run_dir}")
            return
        dest = Path(arg)
        if dest.exists():
            raise UsageError(f"{dest} exists; give a new folder name")
        try:
            shutil.copytree(self.log.run_dir, dest, ignore=shutil.ignore_patterns("history.txt"))
        except OSError as e:
            raise UsageError(f"cannot write {dest}: {e}") from None
        self.console.print(f"saved the session log to {dest}")

    def cmd_replay(self, arg: str) -> None:
        from actions.browser import BrowserEnv
        from agent.replay import replay_log
        from agent.trajectory import LogError, read_log

        if not arg:
            raise UsageError("usage: /replay LOG")
        try:
            log = read_log(arg)
        except LogError as e:
            raise UsageError(str(e)) from None
        start = self.server.resolve_start(str(log.meta.task.get("start", "")))
        with BrowserEnv(self.bcfg) as fresh:
            res = replay_log(log, fresh, start_url=start, browser=self.bcfg)
        for d in res.divergences:
            self.console.print(f"[yellow]divergence:[/yellow] {d}")
        if res.error:
            self.error(res.error)
        for c in res.checks:
            self.console.print(f"{'✓' if c.passed else '✗'} {c.detail}")
        verdict = "[green]success[/]" if res.success else "[red]failure[/]"
        self.console.print(f"replayed {res.actions} actions: {verdict}")

    def cmd_report(self, arg: str) -> None:
        from agent.report import render_report
        from agent.trajectory import read_log

        _no_args("/report", arg)
        self.log.result(self.env, self.last_stop, self.last_detail, self.goals_done)
        target = self.log.run_dir / "report.html"
        target.write_text(render_report(read_log(self.log.run_dir)), encoding="utf-8")
        self.console.print(f"wrote {target}")

    def cmd_help(self, arg: str) -> None:
        self.console.print("Type an instruction for the agent, or a command:")
        for name, (args, what) in COMMANDS.items():
            self.console.print(f"  {(name + ' ' + args).strip():<20} {what}", markup=False)
        self.console.print("Ctrl-C stops a running instruction; Ctrl-D or /quit ends the session.")


def _no_args(name: str, arg: str) -> None:
    if arg:
        raise UsageError(f"{name} takes no arguments")


def _write_shot(obs: Observation, path: Path) -> None:
    if obs.encoded is not None:
        path.write_bytes(obs.encoded)
    else:
        obs.screenshot.convert("RGB").save(path)


def line_reader(history: Path) -> Callable[[str], str]:
    """prompt_toolkit (completion, history) on a terminal; plain ``input`` otherwise."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return input
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory

    session: PromptSession[str] = PromptSession(
        history=FileHistory(str(history)),
        completer=WordCompleter([*COMMANDS, "/exit"], WORD=True),
    )
    return session.prompt


def cmd_shell(args: argparse.Namespace) -> int:
    from actions.browser import BrowserEnv
    from agent.cli import _browser_config
    from agent.models import ModelSpecError, load_model
    from agent.runner import new_run_dir
    from tasks.server import SiteServer

    console = Console(highlight=False, soft_wrap=True)
    if not URL_RE.match(args.url):
        console.print(
            f"[red]error:[/red] not a URL: {args.url!r} (http(s)://... or site:NAME/PAGE)"
        )
        return 2
    policy = None
    if args.model:
        try:
            model, profile = load_model(args.model, args.profile)
        except (ModelSpecError, KeyError) as e:
            console.print(f"[red]error:[/red] {e}")
            return 2
        policy = ModelPolicy(model, profile)
        if args.model.startswith("scripted:"):
            console.print(
                "[yellow]scripted model: replies come from a file, nothing looks at it[/]"
            )
    try:
        run_dir = new_run_dir(Path(args.out), "shell")
    except OSError as e:
        console.print(Text.assemble(("error: ", "red"), f"cannot create the session log: {e}"))
        return 2
    bcfg = replace(_browser_config(args), downloads_dir=run_dir / "downloads")
    saved = quiet_terminal_signals(sys.stdin.fileno())
    try:
        with SiteServer() as server, BrowserEnv(bcfg) as env:
            started = env.reset(server.resolve_start(args.url), bcfg)
            log = SessionLog(
                run_dir,
                start=args.url,
                model=policy.name if policy else "none",
                profile=policy.profile.name if policy else "none",
                site_base=server.base_url,
                browser_version=env.browser_version,
            )
            shell = Shell(
                console=console,
                env=env,
                server=server,
                log=log,
                bcfg=bcfg,
                policy=policy,
                profile=args.profile,
                yes=args.yes,
                max_steps=args.max_steps,
                read_line=line_reader(run_dir / "history.txt"),
            )
            if not started.ok:
                shell.error(started.error or "the start page failed")
            console.print(f"gaze shell on {env.url} · log {run_dir} · /help lists commands")
            shell.latest()
            return shell.run()
    finally:
        if saved is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSANOW, saved)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``gaze shell`` to the CLI's subcommands."""
    from agent.cli import _browser_flags, _int_in

    p = sub.add_parser("shell", help="an interactive session over one live browser")
    p.add_argument(
        "url", nargs="?", default=DEFAULT_URL, help=f"start page (default: {DEFAULT_URL})"
    )
    p.add_argument(
        "--model",
        help="a model folder, openai:http://HOST:PORT/v1#NAME, hf:ORG/NAME, or scripted:FILE",
    )
    p.add_argument("--profile", help="model profile (default: from the model id)")
    p.add_argument("--yes", action="store_true", help="allow risky actions without asking")
    p.add_argument(
        "--max-steps",
        type=_int_in(1, 500),
        default=15,
        help="steps per instruction (1-500, default 15)",
    )
    p.add_argument("--out", default="runs", help="folder for the session log (default: runs/)")
    _browser_flags(p)
    p.set_defaults(fn=cmd_shell)
