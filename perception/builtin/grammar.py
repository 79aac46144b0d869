"""Constrained decoding: while the built-in model answers an agent, every answer is one action call.

Contract:
- ``ActionGrammar(verbs)`` with the dialect's action names (``perception.parsers`` ACTIONS of the
  gaze dialect). ``start()`` gives a fresh per-answer state; ``allowed(state)`` the token ids that
  may come next (a bool mask over the vocabulary); ``advance(state, token)`` the state after it.
- Shape enforced: a verb from the list and ``(``; then anything (``<point>`` only outside quoted
  strings; quotes and backslash escapes tracked, parentheses counted outside quotes) until the
  call's closing ``)``; then ``<eos>``. ``<eos>`` is not allowed before that.
- Per verb (``ARITY``): how many points and quoted strings it takes. A call cannot close before
  it has them (``scroll(`` needs its point and a quoted direction, ``drag(`` two points,
  ``type(`` its text) and takes none beyond them (``type(`` no point, ``done(`` one answer);
  a scroll direction is one of up/down/left/right, a key one of ``KEY_NAMES``; strings are not
  empty; a verb that takes text and no point opens its string at once; outside strings only
  points, numbers, separators and keyword flags (``, submit=true``), no nested parentheses;
  arguments are separated by commas, and plain ones only as many as the verb takes (scroll's
  amount, type's submit flag, wait's seconds): a number, or exactly ``submit=true`` /
  ``submit=false`` for type, so neither ``scroll(x, y, "down", 10, 10)`` nor
  ``type("a", submit=t=t=tue)`` can be written.
  With ``answer_points`` (``ModelConfig.answer_pointer``), ``done(`` takes one point (the
  word that says the answer, ``perception.builtin.answers``) or one answer string, not both.
  With ``scroll_amounts=False`` (``ModelConfig.scroll_amount`` off) ``scroll(`` takes no amount:
  the model was trained without them (``without_scroll_amount``) and the executor's default
  distance applies.
  Verbs not in ``ARITY`` take up to two points and close freely. Outside strings a space never
  follows a space (an answer cannot pad itself past its token budget).
- It only removes answers that could never parse: which action, where and what text stay the
  model's choice. Alignment questions (free-text answers) are decoded without it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from perception.builtin.tokenizer import EOS, N_BYTES, POINT, VOCAB_SIZE

_QUOTE, _ESC, _OPEN, _CLOSE = ord('"'), ord("\\"), ord("("), ord(")")


@dataclass(frozen=True)
class Arity:
    points: tuple[int, int]  # fewest and most <point> tokens
    strings: tuple[int, int] = (0, 0)  # fewest and most quoted strings
    choices: tuple[bytes, ...] = ()  # when set: what a quoted string may say
    extras: int = 0  # most plain arguments: a number (300), or one of ``flags``
    flags: tuple[bytes, ...] = ()  # when set: what a plain argument may say
    most: int = 9  # most arguments in all (points, strings and plain ones together)


_POINT1 = Arity((1, 1))
_TEXT1 = Arity((0, 0), strings=(1, 1))
# what key( may say: the keys a page's forms, lists and dialogs answer to, spelled as the data
# engine writes them (``actions.keys`` reads every one); a byte-by-byte key name drifted:
# run 89 wrote key("crone(") and key(") sctrl+a")
KEY_NAMES: tuple[bytes, ...] = tuple(
    k.encode()
    for k in (
        "Enter", "Escape", "Tab", "shift+Tab", "Backspace", "Delete", "space", "Home", "End",
        "PageUp", "PageDown", "ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight",
        "ctrl+a", "ctrl+c", "ctrl+v", "ctrl+x", "ctrl+z",
    )
)  # fmt: skip
ARITY: dict[str, Arity] = {
    "click": _POINT1,
    "double_click": _POINT1,
    "right_click": _POINT1,
    "hover": _POINT1,
    "scroll": Arity((1, 1), strings=(1, 1), choices=(b"up", b"down", b"left", b"right"), extras=1),
    "drag": Arity((2, 2)),
    "type": Arity((0, 0), strings=(1, 1), extras=1, flags=(b"submit=true", b"submit=false")),
    "key": Arity((0, 0), strings=(1, 1), choices=KEY_NAMES),
    "navigate": _TEXT1,
    "done": Arity((0, 0), strings=(0, 1)),
    "back": Arity((0, 0)),
    "wait": Arity((0, 0), extras=1),
}
# with answer_points (ModelConfig.answer_pointer): done's answer is a word the pointer chose,
# done(<point>), or a quoted string, not both
_DONE_POINT = Arity((0, 1), strings=(0, 1), most=1)
_ANY = Arity((0, 2), strings=(0, 9))
# with scroll_amounts=False (ModelConfig.scroll_amount off): a point and a direction, no amount
_SCROLL_BARE = replace(ARITY["scroll"], extras=0)
_SCROLL_AMOUNT = re.compile(r'^(\s*scroll\([^()"]*"[a-z]+")\s*,\s*[0-9.]+\s*\)', re.MULTILINE)


def without_scroll_amount(target: str) -> str:
    """``scroll(x, y, "down", 560)`` -> ``scroll(x, y, "down")``; any other answer unchanged.
    The training target of a model that writes no scroll amounts (``ModelConfig.scroll_amount``
    off): the data engine's distance (70% of the visible height of what it scrolls) cannot be
    read from a 224 px tile, so the model learns where and which way, and the executor's default
    distance applies at run time."""
    return _SCROLL_AMOUNT.sub(r"\1)", target)


_COMMA, _SPACE = ord(","), ord(" ")


@dataclass(frozen=True)
class State:
    head: bytes = b""  # the verb so far (until its "(")
    arity: Arity = _ANY
    points: int = 0
    strings: int = 0
    text: bytes = b""  # the open quoted string (escapes included) or plain value so far
    in_args: bool = False
    depth: int = 0
    quoted: bool = False
    escaped: bool = False
    closed: bool = False
    extras: int = 0
    # the argument being written: "" (none yet), "point", "string", "extra" (a plain value) or
    # "end" (a plain value a space has ended)
    arg: str = ""
    gap: bool = False  # the last token was a space outside strings


class ActionGrammar:
    def __init__(
        self, verbs: Iterable[str], *, answer_points: bool = False, scroll_amounts: bool = True
    ) -> None:
        self.arity = {**ARITY, **({"done": _DONE_POINT} if answer_points else {})}
        if not scroll_amounts:
            self.arity["scroll"] = _SCROLL_BARE
        self.calls = tuple(sorted(f"{v}(".encode() for v in verbs))
        self._args = torch.zeros(VOCAB_SIZE, dtype=torch.bool)
        self._args[:N_BYTES] = True
        self._args_point = self._args.clone()
        self._args_point[POINT] = True
        self._eos = torch.zeros(VOCAB_SIZE, dtype=torch.bool)
        self._eos[EOS] = True

    def start(self) -> State:
        return State()

    def allowed(self, s: State) -> Tensor:
        if s.closed:
            return self._eos
        if s.in_args:
            if s.quoted:
                if s.arity.choices:
                    return self._choice(s)
                if s.text:
                    return self._args
                mask = self._args.clone()
                mask[_QUOTE] = False  # no empty strings
                return mask
            a = s.arity
            if a is _ANY:
                return self._args_point if s.points < a.points[1] else self._args
            if a.points[1] == 0 and s.strings < a.strings[0]:
                mask = torch.zeros(VOCAB_SIZE, dtype=torch.bool)
                mask[_QUOTE] = True  # type(, key(, navigate( open their string at once
                return mask
            return self._outside_mask(s, a)
        mask = torch.zeros(VOCAB_SIZE, dtype=torch.bool)
        n = len(s.head)
        for call in self.calls:
            if call.startswith(s.head) and len(call) > n:
                mask[call[n]] = True
        return mask

    def _outside_mask(self, s: State, a: Arity) -> Tensor:
        """Between a known verb's arguments: each argument is one point, one quoted string or
        one plain value (a number, or one of the verb's flags), separated by commas, as many of
        each as the verb takes."""
        mask = torch.zeros(VOCAB_SIZE, dtype=torch.bool)
        mask[_SPACE] = not s.gap  # one space at a time: "x, y", never "x,      y"
        given = s.points + s.strings + s.extras
        more = given < a.most and (
            s.points < a.points[1] or s.strings < a.strings[1] or s.extras < a.extras
        )
        started = given > 0
        done = bool(s.arg)  # after a point, a string or a plain value
        if s.arg == "extra":  # inside a plain value: it goes on, or it is complete
            if a.flags:
                n = len(s.text)
                for f in a.flags:
                    if f.startswith(s.text) and len(f) > n:
                        mask[f[n]] = True
                done = s.text in a.flags
            else:
                mask[list(b"0123456789")] = True
                mask[ord(".")] = b"." not in s.text
                done = s.text[-1:].isdigit()
            mask[_SPACE] = done and not s.gap
        elif not s.arg:  # at an argument's start
            mask[POINT] = s.points < a.points[1] and given < a.most
            mask[_QUOTE] = s.strings < a.strings[1] and given < a.most
            if s.extras < a.extras and given < a.most:
                mask[sorted({f[0] for f in a.flags}) if a.flags else list(b"0123456789")] = True
        mask[_COMMA] = done and more
        mask[_CLOSE] = (
            s.points >= a.points[0] and s.strings >= a.strings[0] and (done or not started)
        )
        return mask

    def _choice(self, s: State) -> Tensor:
        """Inside a quoted string that must be one of the verb's choices."""
        mask = torch.zeros(VOCAB_SIZE, dtype=torch.bool)
        n = len(s.text)
        for c in s.arity.choices:
            if c.startswith(s.text):
                mask[c[n] if len(c) > n else _QUOTE] = True
        return mask

    def advance(self, s: State, token: int) -> State:
        out = self._advance(s, token)
        if s.in_args and not s.quoted and out.gap != (token == _SPACE):
            out = replace(out, gap=token == _SPACE)
        return out

    def _advance(self, s: State, token: int) -> State:
        if s.closed:
            return s
        if token == POINT and s.in_args and not s.quoted:
            return replace(s, points=s.points + 1, arg="point")
        if token >= N_BYTES:
            return s
        if not s.in_args:
            head = s.head + bytes([token])
            if head in self.calls:
                arity = self.arity.get(head[:-1].decode(), _ANY)
                return State(head=head, arity=arity, in_args=True, depth=1)
            return State(head)
        if s.quoted:
            text = s.text + bytes([token])
            if s.escaped:
                return replace(s, escaped=False, text=text)
            if token == _ESC:
                return replace(s, escaped=True, text=text)
            if token == _QUOTE:
                return replace(s, quoted=False, strings=s.strings + 1, text=b"", arg="string")
            return replace(s, text=text)
        if token == _QUOTE:
            return replace(s, quoted=True)
        if token == _OPEN:
            return replace(s, depth=s.depth + 1)
        if token == _CLOSE:
            depth = s.depth - 1
            return replace(s, depth=depth, closed=depth == 0)
        if token == _COMMA:
            return replace(s, arg="", text=b"")
        if token == _SPACE:  # a space ends a plain argument ("10 1" is not a number)
            return replace(s, arg="end") if s.arg == "extra" else s
        if not s.arg:
            return replace(s, extras=s.extras + 1, arg="extra", text=bytes([token]))
        if s.arg == "extra":
            return replace(s, text=s.text + bytes([token]))
        return s
