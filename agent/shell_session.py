"""The recorded side of ``gaze shell``: one task log for a whole session, a guard for risky
actions, and a Ctrl-C watcher that keeps the browser alive.

Contract:
- ``SessionLog`` owns a normal run folder (see ``agent.trajectory``). ``meta.json`` is written at
  once and rewritten atomically whenever the goal list (the instructions typed so far), the model or
  the final-URL check changes, so ``read_log``, ``gaze replay`` and ``gaze report`` work on the
  folder at any moment. Step numbers and screenshot names keep increasing across instructions;
  ``goal_index`` says which instruction a step served (manual slash actions take the latest one).
- The task's only check is ``url_matches`` on the page the session is on when it is saved; pages
  of the bundled sites are matched without the server's port, which changes between runs.
- ``risk`` asks the live page whether an action would type into a password field or submit a
  form holding a card number; it says nothing about anything else.
- ``CtrlC`` turns the terminal's interrupt key into a SIGINT for this process only: a key typed in
  a terminal normally signals the whole process group, and that would kill Chromium and the
  Playwright driver along with the instruction.

It prints nothing: ``agent.shell`` is the console.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import termios
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from actions.environment import EnvError, Environment
from actions.types import Action, ActionResult, Click, Observation, Type
from agent.loop import Sink
from agent.runner import versions
from agent.trajectory import (
    CheckRecord,
    Recorder,
    RunMeta,
    RunResult,
    StepRecord,
    StopReason,
    _write_json,
    now_iso,
    observed_step,
)

# termios settings as tcgetattr returns them
TermAttrs = list[int | list[bytes | int]]

PLACEHOLDER_GOAL = "(no instruction yet: manual actions only)"


def url_pattern(url: str, site_base: str | None) -> str:
    """A regex for ``url``; pages of the bundled server match whatever its port is."""
    if site_base and url.startswith(site_base + "/"):
        host = re.escape(site_base.rsplit(":", 1)[0])
        return f"^{host}:\\d+{re.escape(url[len(site_base) :])}$"
    return f"^{re.escape(url)}$"


class SessionLog(Sink):
    """A run folder fed by both the agent loop (as its Sink) and manual slash actions."""

    def __init__(
        self,
        run_dir: Path,
        *,
        start: str,
        model: str,
        profile: str,
        site_base: str | None,
        browser_version: str | None,
    ) -> None:
        self.run_dir, self.start, self.site_base = run_dir, start, site_base
        self.goals: list[str] = []
        self.models: list[str] = [model]
        self.profile = profile
        self.final_url = ""
        self.next_step = 0  # session-wide number of the next step
        self.base = 0  # offset of the running episode's step numbers
        self.records: list[StepRecord] = []
        self.started = now_iso()
        self._versions = versions(browser_version)
        self.recorder = Recorder(run_dir, self._meta())
        self.on_record: Callable[[StepRecord], None] | None = None  # the console's printer

    # ------------------------------------------------------------ meta

    def _task(self) -> dict[str, object]:
        check = url_pattern(self.final_url, self.site_base) if self.final_url else "."
        return {
            "id": "shell",
            "description": "an interactive gaze shell session; each goal is one typed instruction",
            "start": self.start,
            "goals": list(self.goals) or [PLACEHOLDER_GOAL],
            "max_steps": 500,
            "checks": [{"url_matches": check}],
        }

    def _meta(self) -> RunMeta:
        return RunMeta(
            run_id=self.run_dir.name,
            started_at=self.started,
            task=self._task(),
            model=self.models[-1],
            profile=self.profile,
            config={"shell": {"models": self.models}},
            versions=self._versions,
        )

    def write_meta(self) -> None:
        _write_json(self.run_dir / "meta.json", self._meta().model_dump(mode="json"))

    def add_goal(self, instruction: str) -> int:
        self.goals.append(instruction)
        self.write_meta()
        return len(self.goals) - 1

    def set_model(self, name: str, profile: str) -> None:
        self.models.append(name)
        self.profile = profile
        self.write_meta()

    @property
    def goal_index(self) -> int:
        return max(len(self.goals) - 1, 0)

    # ------------------------------------------------------------ steps

    def begin_episode(self) -> None:
        self.base = self.next_step

    def save_screenshot(self, step: int, attempt: int, obs: Observation) -> str:
        return self.recorder.observation(self.base + step, attempt, obs)

    def record(self, rec: StepRecord) -> None:
        rec = rec.model_copy(update={"step": self.base + rec.step, "goal_index": self.goal_index})
        self._append(rec)

    def _append(self, rec: StepRecord) -> None:
        self.recorder.step(rec)
        self.records.append(rec)
        self.next_step = max(self.next_step, rec.step + 1)
        if self.on_record is not None:
            self.on_record(rec)

    def manual(
        self, obs: Observation, action: Action, result: ActionResult, act_s: float
    ) -> StepRecord:
        """Record a slash command's action as a step with no model text."""
        self.base = self.next_step
        shot = self.save_screenshot(0, 0, obs)
        rec = observed_step(
            obs, step=self.next_step, screenshot=shot, goal_index=self.goal_index
        ).model_copy(update={"actions": [action], "results": [result], "timings": {"act_s": act_s}})
        self._append(rec)
        return rec

    # ------------------------------------------------------------ result

    def result(
        self, env: Environment, stop_reason: StopReason, detail: str, goals_done: int
    ) -> RunResult:
        """Write meta.json (with the final-URL check) and result.json for the session so far."""
        with contextlib.suppress(EnvError):
            self.final_url = env.url
        self.write_meta()
        ok = bool(self.final_url)
        check = CheckRecord(
            check="url_matches",
            passed=ok,
            detail=f"session ended at {self.final_url!r}" if ok else "no page open",
        )
        steps = [r for r in self.records if r.actions]
        calls = [r for r in self.records if r.model_text is not None or r.model_error]
        result = RunResult(
            success=stop_reason == "done" and ok,
            stop_reason=stop_reason,
            detail=detail,
            steps=len(steps),
            model_calls=len(calls),
            goals_completed=goals_done,
            checks=[check],
            duration_s=0.0,
            prompt_tokens=sum(r.prompt_tokens for r in self.records),
            completion_tokens=sum(r.completion_tokens for r in self.records),
            finished_at=now_iso(),
        )
        _write_json(self.run_dir / "result.json", result.model_dump(mode="json"))
        return result

    def close(self) -> None:
        self.recorder.close()


# ---------------------------------------------------------------- risky actions

_RISK_JS = """([kind, x, y, submit]) => {
  const cardForm = (form) => !!form && [...form.querySelectorAll('input')].some((i) =>
    (i.getAttribute('autocomplete') || '').includes('cc-number') ||
    /card|cc-?num/i.test((i.name || '') + ' ' + (i.id || '')));
  if (kind === 'type') {
    const el = document.activeElement;
    if (el && el.tagName === 'INPUT' && el.type === 'password') return 'password';
    if (submit && el && cardForm(el.form)) return 'payment';
    return null;
  }
  const hit = document.elementFromPoint(x, y);
  const btn = hit && hit.closest('button, input[type=submit], input[type=image]');
  if (!btn || !btn.form) return null;
  if (btn.tagName === 'BUTTON' && (btn.getAttribute('type') || 'submit') !== 'submit') return null;
  return cardForm(btn.form) ? 'payment' : null;
}"""

RISKS = {
    "password": "type into a password field",
    "payment": "submit a form that holds a card number",
}


def risk(env: Environment, action: Action) -> str | None:
    """What is risky about ``action`` on the live page (a phrase from RISKS), or None."""
    match action:
        case Type(submit=submit):
            arg: list[object] = ["type", 0, 0, submit]
        case Click(x=x, y=y):
            arg = ["click", x, y, False]
        case _:
            return None
    try:
        found = env.evaluate(_RISK_JS, arg)  # type: ignore[arg-type]
    except EnvError:
        return None  # a page that cannot answer (a dialog is open) holds no form to protect
    return RISKS.get(found) if isinstance(found, str) else None


# ---------------------------------------------------------------- Ctrl-C


class CtrlC:
    """While active, the terminal sends no signals; a Ctrl-C byte read from it interrupts the main
    thread (KeyboardInterrupt) of this process only. Other keys typed meanwhile are discarded.
    ``paused()`` hands the terminal back for a question. Does nothing when stdin is no terminal."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.tty = os.isatty(fd)
        self._saved: TermAttrs | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._main = threading.main_thread().ident

    def _raw(self) -> None:
        attrs = termios.tcgetattr(self.fd)
        self._saved = list(attrs)
        attrs[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG)
        attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 1, 0
        termios.tcsetattr(self.fd, termios.TCSANOW, attrs)

    def _restore(self) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSANOW, self._saved)
            self._saved = None

    def _watch(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                ready, _, _ = select.select([self.fd], [], [], 0.05)
                data = os.read(self.fd, 1024) if ready else b""
            if b"\x03" in data and self._main is not None:
                signal.pthread_kill(self._main, signal.SIGINT)

    def __enter__(self) -> CtrlC:
        if self.tty:
            self._raw()
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, name="gaze-ctrl-c", daemon=True)
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=1)
            self._thread = None
        self._restore()

    @contextlib.contextmanager
    def paused(self):  # type: ignore[no-untyped-def]
        """The terminal as it was before ``__enter__``, for the duration of a question."""
        if self._thread is None:
            yield
            return
        with self._lock:
            self._restore()
            try:
                yield
            finally:
                self._raw()


def quiet_terminal_signals(fd: int) -> TermAttrs | None:
    """Stop the terminal from signalling the process group (see the module contract) and from
    editing lines itself (the prompt does); returns the settings to restore, or None when ``fd``
    is no terminal."""
    if not os.isatty(fd):
        return None
    attrs = termios.tcgetattr(fd)
    saved: TermAttrs = list(attrs)
    # Non-canonical too, so keys typed before the prompt reads them (Ctrl-D included) stay
    # bytes for it instead of being consumed by the line discipline.
    attrs[3] &= ~(termios.ISIG | termios.ICANON | termios.ECHO)
    attrs[6][termios.VMIN], attrs[6][termios.VTIME] = 1, 0
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    return saved
