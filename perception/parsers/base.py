"""What every parser returns, and the dialect names.

Contract:
- A parser is a function ``(text, frame) -> Parsed | ParseError`` that never raises, whatever the
  string: bad text is data. ``ParseError.message`` is written for the model to read on its next
  turn ("click() needs two numbers, got 'click(12)'").
- ``Parsed.actions`` holds one or more Actions in viewport CSS px (some dialects put several
  actions in one reply, e.g. ShowUI's INPUT = click at a field then type). Coordinates are mapped
  through the ``Frame`` the text refers to; numbers that are NaN or infinite are a ParseError.
- ``thought`` keeps any reasoning the model wrote before its action, for logs and consoles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from actions.types import Action

Dialect = Literal["gaze", "uitars", "qwen_tool", "showui", "point"]
DIALECTS: tuple[Dialect, ...] = ("gaze", "uitars", "qwen_tool", "showui", "point")

# How far one "scroll down" moves when a dialect gives a direction without an amount (CSS px).
DEFAULT_SCROLL_PX = 500.0
# Longest slice of the raw text quoted back inside a ParseError message.
QUOTE_CHARS = 120


@dataclass(frozen=True)
class Parsed:
    actions: tuple[Action, ...]
    thought: str | None = None


@dataclass(frozen=True)
class ParseError:
    message: str

    def __str__(self) -> str:
        return self.message


ParseResult = Parsed | ParseError


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_unicode(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD. JSON and ``\\u`` escapes can produce them
    (``"\\ud800"``), and they can be neither typed, encoded as UTF-8, nor written to a log."""
    return _LONE_SURROGATE.sub("\ufffd", text)


def quote(text: str) -> str:
    """A short, single-line excerpt of model text for error messages."""
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= QUOTE_CHARS else flat[: QUOTE_CHARS - 1] + "…")
