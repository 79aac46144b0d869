"""Parsers from model text to Actions and formatters back, one module per output dialect.

Contract:
- ``parse(text, frame, dialect)`` never raises for any string: it returns ``Parsed`` (Actions in
  viewport CSS px, mapped through ``frame``) or a ``ParseError`` written for the model to read.
  Lone surrogates (``"\\ud800"`` escapes) in the text or in decoded strings become U+FFFD.
- ``format_action(action, frame, dialect)`` is the inverse, the text a model of that family would
  have written (``parse(format_action(a)) == a`` up to rounding); it raises ValueError for actions
  the dialect cannot express.
- ``action_space(dialect)`` is the action-space section of that dialect's prompt, and
  ``dialect_actions(dialect)`` the Action kinds that section offers (all its parser produces).

The dialect modules are pure Python (re, json, ast), so importing this package stays cheap. It
does not decide a coordinate space: ``Frame.space``, set by the model profile, does.
"""

from __future__ import annotations

from typing import Protocol, assert_never

from actions.types import Action
from perception.frames import Frame
from perception.parsers import gaze, point, qwen_tool, showui, uitars
from perception.parsers.base import Dialect, Parsed, ParseResult, valid_unicode

__all__ = ["action_space", "dialect_actions", "format_action", "parse"]


class DialectModule(Protocol):
    """What every dialect module provides."""

    ACTION_SPACE: str
    ACTIONS: frozenset[str]  # Action kinds the dialect offers

    def parse(self, text: str, frame: Frame) -> ParseResult: ...

    def format(self, action: Action, frame: Frame) -> str: ...


def dialect_module(dialect: Dialect) -> DialectModule:
    match dialect:
        case "gaze":
            return gaze
        case "uitars":
            return uitars
        case "qwen_tool":
            return qwen_tool
        case "showui":
            return showui
        case "point":
            return point
        case _:
            assert_never(dialect)


def parse(text: str, frame: Frame, dialect: Dialect) -> ParseResult:
    """Model text -> ``Parsed`` Actions in viewport CSS px, or a ``ParseError``; never raises."""
    result = dialect_module(dialect).parse(valid_unicode(text), frame)
    if not isinstance(result, Parsed):
        return result
    return Parsed(tuple(_valid_strings(a) for a in result.actions), result.thought)


def _valid_strings(action: Action) -> Action:
    """``action`` with any string field that decoded to a lone surrogate made valid."""
    data = action.model_dump()
    clean = {k: valid_unicode(v) if isinstance(v, str) else v for k, v in data.items()}
    return action if clean == data else type(action).model_validate(clean)


def format_action(action: Action, frame: Frame, dialect: Dialect) -> str:
    """The text a model of ``dialect`` writes for ``action`` (ValueError if it cannot)."""
    return dialect_module(dialect).format(action, frame)


def action_space(dialect: Dialect) -> str:
    """The action-space section of the prompt for ``dialect``."""
    return dialect_module(dialect).ACTION_SPACE


def dialect_actions(dialect: Dialect) -> frozenset[str]:
    """The Action kinds (``click``, ``navigate``...) ``dialect``'s prompt offers."""
    return dialect_module(dialect).ACTIONS
