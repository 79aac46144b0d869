"""Constrained decoding: while the built-in model answers an agent, every answer is one action call.

Contract:
- ``ActionGrammar(verbs)`` with the dialect's action names (``perception.parsers`` ACTIONS of the
  gaze dialect). ``start()`` gives a fresh per-answer state; ``allowed(state)`` the token ids that
  may come next (a bool mask over the vocabulary); ``advance(state, token)`` the state after it.
- Shape enforced: a verb from the list and ``(``; then anything (``<point>`` only outside quoted
  strings; quotes and backslash escapes tracked, parentheses counted outside quotes) until the
  call's closing ``)``; then ``<eos>``. ``<eos>`` is not allowed before that.
- It only removes answers that could never parse: which action, where and what text stay the
  model's choice. Alignment questions (free-text answers) are decoded without it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from perception.builtin.tokenizer import EOS, N_BYTES, POINT, VOCAB_SIZE

_QUOTE, _ESC, _OPEN, _CLOSE = ord('"'), ord("\\"), ord("("), ord(")")


@dataclass(frozen=True)
class State:
    head: bytes = b""  # the verb so far (until its "(")
    in_args: bool = False
    depth: int = 0
    quoted: bool = False
    escaped: bool = False
    closed: bool = False


class ActionGrammar:
    def __init__(self, verbs: Iterable[str]) -> None:
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
            return self._args if s.quoted else self._args_point
        mask = torch.zeros(VOCAB_SIZE, dtype=torch.bool)
        n = len(s.head)
        for call in self.calls:
            if call.startswith(s.head) and len(call) > n:
                mask[call[n]] = True
        return mask

    def advance(self, s: State, token: int) -> State:
        if s.closed or token >= N_BYTES:
            return s
        if not s.in_args:
            head = s.head + bytes([token])
            return State(head=head, in_args=True, depth=1) if head in self.calls else State(head)
        if s.quoted:
            if s.escaped:
                return replace(s, escaped=False)
            if token == _ESC:
                return replace(s, escaped=True)
            return replace(s, quoted=token != _QUOTE)
        if token == _QUOTE:
            return replace(s, quoted=True)
        if token == _OPEN:
            return replace(s, depth=s.depth + 1)
        if token == _CLOSE:
            depth = s.depth - 1
            return replace(s, depth=depth, closed=depth == 0)
        return s
