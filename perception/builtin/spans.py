"""Where a typed value comes from: spans of the goal's bytes, for the model's span head.

Contract:
- Byte offsets are into the prompt text the model reads (``data.compact_prompt``'s output,
  UTF-8): a span is ``(start, end)``, ``end`` exclusive, so ``end`` is the byte just after the
  value (a space, quote, full stop, newline) or the text's length.
- ``goal_end(text)`` -> where the goal ends: the offset of the first history line
  (``3. click(...) -> ok``, or the agent's ``Earlier steps:`` above them), or the text's
  length. Values are copied from the goal only, never from the history (which repeats what was
  typed before).
- ``candidate_spans(text)`` -> every span a ``type(`` value may be, in the goal part: each quoted
  span's inside (``"Agustina"``, ``'x y'``) and each run of 1 to ``MAX_WORDS`` consecutive words
  with the punctuation at its two ends left out (``(password aTTo4fexHw).`` -> ``aTTo4fexHw``),
  no longer than ``MAX_BYTES``, free of ``"`` and ``\\`` (they would need escaping), distinct.
  A word run never starts or ends with a function word (``with``, ``the``, ``into``...,
  ``FUNCTION_WORDS``): "Fill in Team name with 50101" offers "50101", not "with 50101"; a value
  that does start so ("The Hobbit") is one a goal quotes, and quoted spans are kept whole.
- ``value_spans(text, value)`` -> the training labels: every occurrence of ``value``'s bytes in
  the goal part that is not part of a longer word ("Go" in "Goal"), or every occurrence when
  all are (empty: the value is not copyable, the span head is not trained on it).
- ``in_case(value, case)``: a value in one of ``CASES`` (the case head's choice, applied).
- ``case_spans(text, value)`` -> with ``ModelConfig.span_case``, the labels of a value typed in
  other letter case than the goal writes it ("Type agustina in capital letters"): its spans
  and which of ``CASES`` (as written, upper, lower) turn each span into the value.
- ``whole_phrase(text, s, e)`` -> a span carried on to the end of its phrase of the goal (up
  to a function word, quote, bracket, punctuation or one of ``AFTER_VALUE``), for
  ``ModelConfig.whole_phrase``: the span head's end vote stopped after a first name.
- ``typed_value(target)`` -> the text of a ``type("...")`` answer's value (None: another action,
  or a value with escapes); ``typing_miss(answer, target)`` -> how an answer to a step that
  types went (``TYPING_MISSES``: exact, Enter, case, value, action).
- ``position_flags(text)`` -> two facts per byte of ``text`` for the span head's keys: the byte
  is part of an occurrence, in the goal, of a value an earlier step typed (the history's
  ``3. type(text='tara69', submit=False) -> ok`` lines, read by ``policy.typed_in``), and the
  byte lies inside a quoted span of the goal. Where a value starts is then "the quoted one not
  typed yet", which a key reading one byte at a time would otherwise have to work out from the
  causal states.
- ``page_flags(text, named, focus)`` -> ``N_PAGE_FLAGS`` facts per byte of ``text`` from the page
  (``ModelConfig.span_page``), for the goal part's words (whitespace-separated): the byte's word
  holds a goal token on the page (``named``: ``progress``'s goal tokens that count, on the
  page: a field's label, a button's caption; a value to type is not on the page until it is
  typed, and typed values do not count), the word holds one the latest click reached
  (``focus``: the label of the field just clicked), then the same two for the nearest word
  before it and the nearest word after it that is not a function word. A value's start then
  sees "the word before me is the label of the field in focus" ("Fill in Office with Lisbon",
  Office clicked), its end "the word after me is" ("Type "x" as the badge number"), and a
  label's own bytes "I am on the page" ("Fill in Website with ...", not "Website"). Two facts
  of the phrase follow: the word starts one (the goal's first word, one that opens with a quote
  or a bracket, one after a function word or after a word that ends in punctuation), the word
  ends one (the goal's last word, one that ends in punctuation, one before a function word or
  before a word that opens with a quote or a bracket):
  "Type Table fan in the box" ends a phrase at "fan", not at "Table"; "Write lima in the
  input field" not at "input".

Why: typing is copying, and the byte-by-byte copy head of a 3 M model drifts off its source
after a byte or two (held-out values came out as ``type("ne(")`` for "Lena" and ``"joooooe"``
for "project"). A span head (``GazeVLM``, ``ModelConfig.span_head``) scores a start and an end
over the prompt's positions instead, the way extractive QA models answer.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from typing import AnyStr

from perception.builtin.policy import typed_in
from perception.builtin.words import tokens

MAX_WORDS = 4
N_PAGE_FLAGS = 8
MAX_BYTES = 40

_HISTORY_LINE = re.compile(rb"(?:^|\n)(?:\d+\.\s|Earlier steps:)")
_QUOTED = re.compile(rb"\"([^\"\n]+)\"|'([^'\n]+)'")
_WORD = re.compile(rb"\S+")
_EDGE = b"\"'.,;:!?()[]{}<>"
_TYPED = re.compile(r'^type\("((?:[^"\\])*)"')
FUNCTION_WORDS = frozenset(
    b"a an the and or with to into in on of for as at by from using then".split()
)

# words that end a value's phrase though no function word: "Enter ivo now, then Go."
AFTER_VALUE = frozenset(
    ["now", "please", "here", "again", "below", "above", "instead", "too", "also", "first", "next"]
)


def goal_end(text: bytes) -> int:
    m = _HISTORY_LINE.search(text)
    return len(text) if m is None else m.start()


def _trim(text: bytes, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s] in _EDGE:
        s += 1
    while e > s and text[e - 1] in _EDGE:
        e -= 1
    return s, e


def _usable(text: bytes, s: int, e: int) -> bool:
    piece = text[s:e]
    return 0 < e - s <= MAX_BYTES and b'"' not in piece and b"\\" not in piece


def candidate_spans(text: bytes) -> list[tuple[int, int]]:
    goal = text[: goal_end(text)]
    out: dict[tuple[int, int], None] = {}
    for m in _QUOTED.finditer(goal):
        g = 1 if m.group(1) is not None else 2
        if _usable(goal, m.start(g), m.end(g)):
            out.setdefault((m.start(g), m.end(g)))
    for line_start, line in _lines(goal):
        words = [(line_start + m.start(), line_start + m.end()) for m in _WORD.finditer(line)]
        for n in range(1, MAX_WORDS + 1):
            for i in range(len(words) - n + 1):
                s, e = _trim(goal, words[i][0], words[i + n - 1][1])
                if _usable(goal, s, e) and not _function_edge(goal[s:e]):
                    out.setdefault((s, e))
    return list(out)


def _function_edge(piece: bytes) -> bool:
    words = piece.lower().split()
    return words[0] in FUNCTION_WORDS or words[-1] in FUNCTION_WORDS


def _lines(text: bytes) -> list[tuple[int, bytes]]:
    out, start = [], 0
    for line in text.split(b"\n"):
        out.append((start, line))
        start += len(line) + 1
    return out


def value_spans(text: bytes, value: bytes) -> list[tuple[int, int]]:
    if not value:
        return []
    goal = text[: goal_end(text)]
    found, i = [], goal.find(value)
    while i >= 0:
        found.append((i, i + len(value)))
        i = goal.find(value, i + 1)
    whole = [(s, e) for s, e in found if not _inside_word(goal, s, e)]
    return whole or found


CASES = ("as written", "upper", "lower")  # the span head's case choices (ModelConfig.span_case)


def in_case(value: AnyStr, case: str) -> AnyStr:
    """``value`` written in ``case``, one of ``CASES`` (bytes: ASCII letters only)."""
    return value.upper() if case == "upper" else value.lower() if case == "lower" else value


def case_fits(piece: bytes, value: bytes) -> tuple[bool, ...]:
    """Which of ``CASES`` turn the goal's ``piece`` into the typed ``value``."""
    return tuple(in_case(piece, c) == value for c in CASES)


def case_spans(text: bytes, value: bytes) -> tuple[list[tuple[int, int]], tuple[bool, ...]]:
    """``value_spans`` when the value is in the goal as typed; else the goal's spans that are
    the value in other letter case ("agustina" typed as "AGUSTINA"). With them, which
    ``CASES`` fit every such span (all False: not copyable)."""
    found = value_spans(text, value)
    if not found and value:
        goal = text[: goal_end(text)]
        found = [
            (s, e)
            for s, e in value_spans(goal.lower(), value.lower())
            if any(case_fits(goal[s:e], value))
        ]
    if not found:
        return [], (False, False, False)
    fits = [case_fits(text[s:e], value) for s, e in found]
    return found, tuple(all(f[i] for f in fits) for i in range(len(CASES)))


def _inside_word(text: bytes, s: int, e: int) -> bool:
    """The span starts or ends in the middle of a word ("Go" in "Goal")."""
    return (s > 0 and text[s - 1 : s].isalnum()) or (e < len(text) and text[e : e + 1].isalnum())


def position_flags(text: bytes) -> list[tuple[float, float]]:
    end = goal_end(text)
    typed = [0.0] * len(text)
    for line in text[end:].decode("utf-8", errors="ignore").splitlines():
        value = typed_in(line)
        for s, e in value_spans(text, value.encode()) if value else ():
            typed[s:e] = [1.0] * (e - s)
    quoted = [0.0] * len(text)
    for m in _QUOTED.finditer(text[:end]):
        g = 1 if m.group(1) is not None else 2
        quoted[m.start(g) : m.end(g)] = [1.0] * (m.end(g) - m.start(g))
    return list(zip(typed, quoted, strict=True))


def page_flags(
    text: bytes, named: AbstractSet[str], focus: AbstractSet[str]
) -> list[tuple[float, ...]]:
    """See the module contract: (own, before, after) x (named, focus), then (starts, ends) a
    phrase, per byte; zeros outside the goal's words."""
    found = list(_WORD.finditer(text[: goal_end(text)]))
    function = [m.group().strip(_EDGE).lower() in FUNCTION_WORDS for m in found]
    phrase: list[tuple[float, float]] = []
    for i, m in enumerate(found):
        w = m.group()
        starts = i == 0 or w[0] in _EDGE or function[i - 1] or found[i - 1].group()[-1] in _EDGE
        ends = (
            i == len(found) - 1
            or w[-1] in _EDGE
            or function[i + 1]
            or found[i + 1].group()[0] in _EDGE
        )
        phrase.append((float(starts), float(ends)))
    facts: list[tuple[float, float] | None] = []  # None: a function word
    for m, is_function in zip(found, function, strict=True):
        toks = tokens(m.group().decode("utf-8", errors="replace"))
        facts.append(
            None
            if is_function
            else (float(any(t in named for t in toks)), float(any(t in focus for t in toks)))
        )
    before = _nearest_before(facts)
    after = _nearest_before(facts[::-1])[::-1]
    out: list[tuple[float, ...]] = [(0.0,) * N_PAGE_FLAGS] * len(text)
    for m, f, b, a, ph in zip(found, facts, before, after, phrase, strict=True):
        out[m.start() : m.end()] = [(*(f or (0.0, 0.0)), *b, *a, *ph)] * (m.end() - m.start())
    return out


def whole_phrase(text: bytes, s: int, e: int) -> tuple[int, int]:
    """The span ``(s, e)`` of the goal part of ``text`` carried on to the end of its phrase:
    while the word it ends with ends no phrase (``page_flags``' notion: the next word is no
    function word, opens with no quote or bracket, and the word ends with no punctuation) the
    next word joins, up to ``MAX_WORDS`` words, unless it is one of ``AFTER_VALUE`` ("now",
    "please"). A quoted span's inside, or one that already ends a phrase, comes back as it is:
    "Samir" of "with Samir Varga and" -> "Samir Varga"."""
    goal = text[: goal_end(text)]
    if s > 0 and goal[s - 1 : s] in (b'"', b"'"):
        return s, e
    words = [(m.start(), m.end()) for m in _WORD.finditer(goal)]
    ends = [i for i, (a, b) in enumerate(words) if a < e <= b]
    if not ends:
        return s, e
    i, n = ends[0], len(goal[s:e].split())
    while n < MAX_WORDS and i + 1 < len(words):
        here, after = goal[words[i][0] : words[i][1]], goal[words[i + 1][0] : words[i + 1][1]]
        if (
            e < words[i][1]  # the span ends inside its last word (punctuation trimmed off)
            or here[-1] in _EDGE
            or after[0] in _EDGE
            or after.strip(_EDGE).lower() in FUNCTION_WORDS
            or after.strip(_EDGE).decode("utf-8", "ignore").lower() in AFTER_VALUE
        ):
            break
        i, n = i + 1, n + 1
        e = _trim(goal, words[i][0], words[i][1])[1]
    return s, e


def _nearest_before(facts: list[tuple[float, float] | None]) -> list[tuple[float, float]]:
    """Per item, the nearest earlier item that is not None (zeros when there is none)."""
    out: list[tuple[float, float]] = []
    last = (0.0, 0.0)
    for f in facts:
        out.append(last)
        last = f or last
    return out


def typed_value(target: str) -> bytes | None:
    m = _TYPED.match(target)
    return m.group(1).encode() if m and m.group(1) else None


TYPING_MISSES = ("exact", "Enter", "case", "value", "action")


def typing_miss(answer: str, target: str) -> str:
    """How an answer to a step that types (``target``: ``type("...")``) went, one of
    ``TYPING_MISSES``: exactly right; the value right and the submit flag wrong; the value in
    the wrong letter case; another value; another action (or a value with escapes)."""
    if answer.strip() == target.strip():
        return "exact"
    got, want = typed_value(answer.strip()), typed_value(target.strip())
    if got is None or want is None:
        return "action"
    if got == want:
        return "Enter"
    return "case" if got.lower() == want.lower() else "value"
