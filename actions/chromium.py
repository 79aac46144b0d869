"""Finding a Chromium to drive: prefer what is installed, never download.

Contract: ``find_chromium(explicit)`` returns the path of a runnable Chromium or None, in this order:
an explicit path (must exist), ``$GAZE_CHROMIUM``, Playwright's own downloaded browser when present,
then the system's ``chromium`` / ``chromium-browser`` / ``google-chrome`` on PATH. ``None`` means
"let Playwright decide" and will fail with Playwright's message if it has no browser either;
``install_hint()`` says how to get one.

Launch flags live here too: quiet ones (on a closed network Chromium otherwise keeps calling home)
and deterministic ones (no smooth scrolling).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

QUIET_ARGS = (
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-features=Translate,MediaRouter,OptimizationHints",
    # wheel scrolls land at once instead of animating for ~150 ms: the next screenshot shows
    # where the scroll ended, and two runs of the same actions see the same pages
    "--disable-smooth-scrolling",
)

SYSTEM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ChromiumNotFound(RuntimeError):
    pass


def find_chromium(explicit: str | None = None, playwright_path: str | None = None) -> str | None:
    """Path to a Chromium binary, or None when nothing is installed (see ``install_hint``)."""
    if explicit:
        if not Path(explicit).exists():
            raise ChromiumNotFound(f"no Chromium at {explicit!r}")
        return explicit
    env = os.environ.get("GAZE_CHROMIUM")
    if env:
        if not Path(env).exists():
            raise ChromiumNotFound(f"GAZE_CHROMIUM={env!r} does not exist")
        return env
    if playwright_path and Path(playwright_path).exists():
        return playwright_path
    for name in SYSTEM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def needs_no_sandbox() -> bool:
    """Chromium's sandbox cannot start as root (containers, CI); it must be turned off there."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def install_hint() -> str:
    return (
        "No Chromium found. Install one of: `playwright install chromium` (downloads Playwright's "
        "build), `apt-get install chromium` (Debian/Ubuntu), or point GAZE_CHROMIUM / --chromium "
        "at a Chromium or Chrome binary."
    )
