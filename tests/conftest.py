"""Shared fixtures. Tests never reach a model hub or a remote URL."""

from __future__ import annotations

import os
import signal

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# A shell starts a background job (`cmd &`) with SIGINT ignored, and children inherit that: the
# Ctrl-C tests' `gaze run` / `gaze shell` would then never see their SIGINT. Restore Python's
# handler, so the suite behaves the same in the foreground and in the background.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
