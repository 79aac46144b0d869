"""Python-like calls in model text: ``click(start_box='(1,2)')``, ``type("hi", submit=true)``.

Contract:
- ``find_calls(text, call_pattern(names))`` finds every call of a known name left to right, reading
  its arguments (numbers, quoted strings with the usual escapes, true/false/None, and unquoted
  ``(...)``/``[...]`` groups kept as raw text) and skipping over them, so a call written inside
  another's string argument is not found. A call that cannot be read becomes a ``ParseError`` in
  its place, saying why and quoting it.
- Linear time on any input and never raises: every pattern can only start where its token starts,
  and after a failed call the search resumes where reading stopped.
- ``thought_before`` and ``no_action`` are the small pieces of reply handling both call dialects
  (Gaze and UI-TARS) share.

It does not know what any call means: the dialect modules bind arguments and build Actions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from perception.parsers.base import ParseError, quote
from perception.parsers.point import number


@dataclass(frozen=True)
class Group:
    """An unquoted bracketed argument, kept as raw text: ``(1,2)`` in ``click(start_box=(1,2))``."""

    text: str


Value = str | float | bool | None | Group


@dataclass(frozen=True)
class Call:
    name: str  # lower-cased
    args: tuple[Value, ...]
    kwargs: Mapping[str, Value]  # keys lower-cased
    source: str  # the call's text, for error messages
    start: int  # offset of the call in the reply


@dataclass(frozen=True)
class _Fail:
    reason: str
    pos: int  # how far the text was read; the search for the next call resumes there


# Every pattern can only start where its token starts (lookbehinds), so searches stay linear.
_ANY_CALL = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\(")
_WS = re.compile(r"\s*")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?(?![\w.])")
_KEYWORD = re.compile(r"([A-Za-z_]\w*)\s*=(?!=)")
_WORD = re.compile(r"[A-Za-z_]\w*")
# A string ends at the first matching quote followed by ',' or ')', so unescaped inner quotes
# ('It's here') are read literally, as models write them.
_STRING = {
    q: re.compile(rf"{q}((?:[^{q}\\]|\\.|{q}(?!\s*[,)]))*){q}(?=\s*[,)])", re.S) for q in "'\""
}
_BRACKETS = re.compile(r"[()\[\]]")
_MAX_GROUP = 300  # an unquoted (...) argument is a point or a box, never longer
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.S)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_WORDS: dict[str, Value] = {"true": True, "false": False, "none": None, "null": None}


def _unescape(s: str) -> str:
    def one(m: re.Match[str]) -> str:
        e = m.group(1)
        return chr(int(e[1:], 16)) if len(e) == 5 else _ESCAPES.get(e, m.group())

    return _ESCAPE.sub(one, s)


def _skip(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    return m.end() if m is not None else pos


def _value(text: str, pos: int, dead: dict[str, int]) -> tuple[Value, int] | _Fail:
    """One argument. ``dead[q]``: a string opened by quote q at or after it never ends (once one
    string runs off the end, every later one with the same quote does too; this keeps the scan
    linear)."""
    c = text[pos : pos + 1]
    if c in ("'", '"'):
        m = _STRING[c].match(text, pos) if pos < dead.get(c, len(text) + 1) else None
        if m is None:
            dead[c] = min(pos, dead.get(c, pos))
            return _Fail("unterminated string", len(text))
        return _unescape(m.group(1)), m.end()
    if c in ("(", "["):
        depth = 0
        for b in _BRACKETS.finditer(text, pos, pos + _MAX_GROUP):
            depth += 1 if b.group() in "([" else -1
            if depth == 0:
                return Group(text[pos : b.end()]), b.end()
        return _Fail(f"unclosed {c!r}", min(len(text), pos + _MAX_GROUP))
    if (m := _NUMBER.match(text, pos)) is not None:
        n = number(m.group(), "a number")
        return _Fail(n.message, m.end()) if isinstance(n, ParseError) else (n, m.end())
    if (m := _WORD.match(text, pos)) is not None and m.group().lower() in _WORDS:
        return _WORDS[m.group().lower()], m.end()
    return _Fail(f"expected a number or a quoted string, got {c or 'the end of the text'!r}", pos)


def _arguments(
    text: str, pos: int, dead: dict[str, int]
) -> tuple[list[Value], dict[str, Value], int] | _Fail:
    """The arguments after an opening parenthesis -> (args, kwargs, end after ')')."""
    args: list[Value] = []
    kwargs: dict[str, Value] = {}
    pos = _skip(text, pos)
    while not text.startswith(")", pos):
        key = None
        if (m := _KEYWORD.match(text, pos)) is not None:
            key = m.group(1).lower()
            pos = _skip(text, m.end())
        got = _value(text, pos, dead)
        if isinstance(got, _Fail):
            return got
        value, pos = got
        if key is None and kwargs:
            return _Fail("a positional argument after a keyword argument", pos)
        if key is None:
            args.append(value)
        elif key in kwargs:
            return _Fail(f"{key}= is given twice", pos)
        else:
            kwargs[key] = value
        pos = _skip(text, pos)
        c = text[pos : pos + 1]
        if c == ",":
            pos = _skip(text, pos + 1)
        elif c != ")":
            return _Fail(f"expected ',' or ')' after an argument, got {c or 'the end'!r}", pos)
    return args, kwargs, pos + 1


def call_pattern(names: Iterable[str]) -> re.Pattern[str]:
    """A pattern that finds ``name(`` for the given names, any case, 'name (' included."""
    alternatives = "|".join(sorted((re.escape(n) for n in names), key=len, reverse=True))
    return re.compile(rf"(?<![\w.])({alternatives})[ \t]*\(", re.I)


def find_calls(text: str, pattern: re.Pattern[str], start: int = 0) -> list[Call | ParseError]:
    """Every call of a known name from ``start``, left to right; none is found inside another's
    arguments. A call that cannot be read becomes a ParseError in its place, except when a space
    separates the name from '(': "wait (a bit)" in prose is not a call."""
    found: list[Call | ParseError] = []
    dead: dict[str, int] = {}
    pos = start
    while (m := pattern.search(text, pos)) is not None:
        name = m.group(1).lower()
        got = _arguments(text, m.end(), dead)
        if isinstance(got, _Fail) and m.end(1) + 1 < m.end():
            pos = m.end(1)
        elif isinstance(got, _Fail):
            line_end = text.find("\n", m.end(), m.end() + 200)
            excerpt = text[m.start() : line_end if line_end >= 0 else m.end() + 200]
            found.append(ParseError(f"{name}(): {got.reason} in {quote(excerpt)}"))
            pos = max(got.pos, m.end())
        else:
            args, kwargs, end = got
            found.append(Call(name, tuple(args), kwargs, text[m.start() : end], m.start()))
            pos = end
    return found


def no_action(text: str, names: Iterable[str], example: str) -> ParseError:
    """The error for a reply without any known call."""
    known = ", ".join(names)
    m = _ANY_CALL.search(text)
    if m is not None:
        return ParseError(f"{m.group(1)}() is not an action; use one of: {known}")
    return ParseError(
        f"no action found in {quote(text)}; end your reply with an action like {example}"
    )


def thought_before(text: str) -> str | None:
    """The reasoning before an action: without 'Thought:', a trailing 'Action:' or code fences."""
    t = text.strip()
    last_line = t.rfind("\n") + 1
    if t.startswith("```", last_line):
        t = t[:last_line].rstrip()
    t = t.rstrip("`* \t\n")
    if t[-1:] == ":" and t[:-1].rstrip(" *").lower().endswith("action"):
        t = t[:-1].rstrip(" *")[:-6].rstrip("* \t\n")
    if (m := re.match(r"[\s*]*thought[\s*]*:[\s*]*", t, re.I)) is not None:
        t = t[m.end() :]
    t = t.strip()
    return t or None
