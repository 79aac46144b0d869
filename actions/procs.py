"""Process bookkeeping from ``/proc``: which Chromium processes are ours, and reaping dead ones.

Contract:
- ``processes()`` is a snapshot of every readable process (pid, parent, state, short name,
  command line); ``descendants(root)`` the processes below ``root``; ``chromium(root)`` the
  Chromium processes below ``root`` (this Python process by default), zombies included, so that
  tests and the soak can count browser processes before and after and see a leak.
- ``renderers(browser_pid)`` are the renderer processes of one browser (``--type=renderer``).
- ``reap_zombies()`` collects the exit status of *dead Chromium children of this process* with
  ``waitpid(pid, WNOHANG)`` on those pids only. They exist when a browser is killed and its
  orphans are re-parented to us (Python running as PID 1 in a container, or as a subreaper);
  ``waitpid(-1)`` is never used, so no one else's child status is stolen.
- ``kill(pid)`` sends SIGKILL and ignores a process that is already gone.
- ``open_fds()`` counts this process's open file descriptors.
- ``become_subreaper()`` makes orphaned descendants re-parent to this process instead of to PID 1
  (Linux ``PR_SET_CHILD_SUBREAPER``), which is how a container's PID 1 sees a killed browser's
  children; the soak uses it to prove those are reaped.

Off Linux (no ``/proc``) the snapshots are empty and the counts 0. Nothing here starts processes.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

_PROC = Path("/proc")
# short names (``comm``, at most 15 characters) of Chromium's processes: the browser, its zygotes,
# renderers and utilities, Chrome for Testing, the headless shell and the crash handler
_CHROMIUM = re.compile(r"^(chromium|chrome|headless_shell|chrome_crashpad)")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str  # R, S, D, Z (zombie), T ...
    name: str  # the kernel's short name
    cmdline: tuple[str, ...]  # empty for zombies and kernel threads

    @property
    def zombie(self) -> bool:
        return self.state == "Z"

    @property
    def is_chromium(self) -> bool:
        return bool(_CHROMIUM.match(self.name))


def _read(pid: int) -> Proc | None:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
        raw = (_PROC / str(pid) / "cmdline").read_bytes()
    except OSError:  # gone meanwhile, or not ours to read
        return None
    # "pid (name) state ppid ...": the name may hold spaces and parentheses, so split at the last ')'
    close = stat.rfind(")")
    fields = stat[close + 2 :].split()
    if close < 0 or len(fields) < 2:
        return None
    cmd = tuple(a.decode(errors="replace") for a in raw.split(b"\0") if a)
    name = stat[stat.find("(") + 1 : close]
    return Proc(pid=pid, ppid=int(fields[1]), state=fields[0], name=name, cmdline=cmd)


def processes() -> list[Proc]:
    """Every process we can read, in no particular order; empty without ``/proc``."""
    if not _PROC.is_dir():
        return []
    procs = (_read(int(p.name)) for p in _PROC.iterdir() if p.name.isdigit())
    return [p for p in procs if p is not None]


def descendants(root: int, snapshot: list[Proc] | None = None) -> list[Proc]:
    """The processes below ``root`` (children, their children ...), not ``root`` itself."""
    children: dict[int, list[Proc]] = {}
    for p in processes() if snapshot is None else snapshot:
        children.setdefault(p.ppid, []).append(p)
    out: list[Proc] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child.pid)
    return out


def chromium(root: int | None = None) -> list[Proc]:
    """Chromium processes below ``root`` (default: this process), zombies included."""
    return [p for p in descendants(os.getpid() if root is None else root) if p.is_chromium]


def renderers(browser_pid: int) -> list[Proc]:
    """The live renderer processes of the browser whose process id is ``browser_pid``."""
    # Chromium rewrites its children's argv into one space-joined string: match substrings
    return [
        p
        for p in descendants(browser_pid)
        if not p.zombie and "--type=renderer" in " ".join(p.cmdline)
    ]


def kill(pid: int) -> bool:
    """SIGKILL ``pid``; False when it no longer existed."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return False
    return True


def reap_zombies(wait_s: float = 0.0) -> int:
    """Collect dead Chromium children of this process (see the module contract); how many.
    With ``wait_s``, keep at it while live Chromium children remain (orphans of a browser that
    just closed exit a moment after it), up to that many seconds."""
    me = os.getpid()
    reaped = 0
    deadline = time.monotonic() + wait_s
    while True:
        alive = False
        for p in processes():
            if p.ppid != me or not p.is_chromium:
                continue
            alive = alive or not p.zombie
            if p.zombie:
                with contextlib.suppress(ChildProcessError):  # someone else collected it first
                    pid, _ = os.waitpid(p.pid, os.WNOHANG)
                    reaped += pid == p.pid
        if not alive or time.monotonic() >= deadline:
            return reaped
        time.sleep(0.05)


def open_fds() -> int:
    """How many file descriptors this process holds open; 0 without ``/proc``."""
    try:
        return len(os.listdir(_PROC / "self" / "fd"))
    except OSError:
        return 0


def become_subreaper() -> bool:
    """Orphans below this process re-parent to it from now on (Linux only); True if it worked."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(36, 1, 0, 0, 0)) == 0  # 36 = PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False
