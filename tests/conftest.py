"""Shared fixtures. Tests never reach a model hub or a remote URL."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
