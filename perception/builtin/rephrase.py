"""Training augmentation: the same goal in other everyday words.

Contract:
- ``rephrase(prompt, rng)`` -> the prompt with its ``Goal:`` line said another way, everything
  else (history lines, other lines) unchanged. Each rule below fires on a match with its own
  probability; it swaps a phrasing for an equivalent one and never touches what the goal is
  about: the values to type and the labels to click keep their bytes (quotes may be added
  around a login's user name and password, never removed), so the sample's answer and the span
  head's labels (``perception.builtin.spans``) still hold.
- Pure text; ``rng`` is the only randomness.

Why: the data engine's goals come from a few templates per kind ("Type X into the box and click
Go", "Sign in as X with the password Y"). A 3 M model keys on the verb: the shipped run 15 put
94% of its pointer on a bare field for "Type "Agustina" into the text field and click Submit"
and 4% for "Enter "Agustina" into the text field and press Submit" (same screen: it clicked
Submit). People say "enter", "input", "fill in", "1st", "log in using ..."; rewriting goals at
training time teaches the model those words without rendering or reading a single new page.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from perception.builtin.spans import in_case

Rule = tuple[re.Pattern[str], float, Callable[[re.Match[str], random.Random], str]]


def _pick(*options: str) -> Callable[[re.Match[str], random.Random], str]:
    """Replace the match with one of ``options`` (``{1}``, ``{2}``: the match's groups)."""

    def sub(m: re.Match[str], rng: random.Random) -> str:
        return rng.choice(options).format(m.group(0), *m.groups())

    return sub


def _login(*options: str) -> Callable[[re.Match[str], random.Random], str]:
    """A login goal's user (group 1) and password (group 2) in another sentence, both quoted or
    neither."""

    def sub(m: re.Match[str], rng: random.Random) -> str:
        q = '"' if rng.random() < 0.5 else ""
        return rng.choice(options).format(u=f"{q}{m.group(1)}{q}", p=f"{q}{m.group(2)}{q}")

    return sub


_LOGIN_SAID = (
    "Enter the username {u} and the password {p}, then sign in.",
    "Enter username {u} and password {p} to log in.",
    "Log in as {u} using the password {p}.",
    "Type the user name {u} and the password {p} into the form and sign in.",
    "Sign in: username {u}, password {p}.",
)

RULES: tuple[Rule, ...] = (
    # how a login is asked for (goals.py's three sentences)
    (re.compile(r"^Sign in as (\S+) with the password (\S+)\.$"), 0.6, _login(*_LOGIN_SAID)),
    (re.compile(r"^Log in with username (\S+) and password (\S+)\.$"), 0.6, _login(*_LOGIN_SAID)),
    (
        re.compile(r"^Use the account (\S+) \(password (\S+)\) to sign in\.$"),
        0.6,
        _login(*_LOGIN_SAID),
    ),
    # "Fill the box with X and ..." -> "Enter X in the box and ..." (not "Fill in A with X": a form)
    (
        re.compile(r"^Fill (?!in )(.+?) with (.+?) and "),
        0.5,
        _pick("Enter {2} in {1} and ", "Input {2} into {1} and "),
    ),
    # the typing verb
    (
        re.compile(r"^(?:Type|Put|Write) (?!the cursor)"),
        0.6,
        _pick("Enter ", "Enter ", "Input ", "Key in ", "Type "),
    ),
    (re.compile(r"^Fill in "), 0.4, _pick("Complete ", "Fill out ")),
    # the button verb ("press Enter" is a key, not a button: left alone)
    (re.compile(r"\b(?:click|press|hit)(?= (?!Enter\b)\S)"), 0.5, _pick("click", "press", "hit")),
    # ordinals
    (
        re.compile(r"\bthe (first|second|third) "),
        0.4,
        lambda m, rng: f"the {dict(first='1st', second='2nd', third='3rd')[m.group(1)]} ",
    ),
    # putting the cursor in a field
    (re.compile(r"^Click inside "), 0.6, _pick("Focus on ", "Click in ", "Focus ")),
)


def _goal(line: str, rng: random.Random) -> str:
    for pattern, rate, sub in RULES:
        pieces, at = [], 0
        for m in pattern.finditer(line):
            pieces += [line[at : m.start()], sub(m, rng) if rng.random() < rate else m.group(0)]
            at = m.end()
        line = "".join([*pieces, line[at:]])
    return line


def rephrase(prompt: str, rng: random.Random) -> str:
    lines = prompt.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("Goal: "):
            lines[i] = "Goal: " + _goal(line.removeprefix("Goal: "), rng)
    return "\n".join(lines)


CASE_SAID = {
    "upper": ("in capital letters", "in upper case", "in uppercase", "all in capitals",
              "in all capital letters", "in upper-case letters"),
    "lower": ("in lower case", "in lowercase", "in small letters", "all in lower case",
              "in all lower-case letters", "in lower-case letters"),
}  # fmt: skip
_TYPE_CALL = re.compile(r'^type\("([^"\\]+)"(.*)$', re.S)


def recase(prompt: str, target: str, rng: random.Random) -> tuple[str, str] | None:
    """A typing step made into one that asks for other letter case: the value in the goal is
    followed by "in capital letters" (or "in lower case", ...), written in some case, and the
    answer types it in the case asked for: ``('Goal: Type "paris" in upper case ...',
    'type("PARIS")')``. None when the step does not type, when its value is not in the goal
    exactly once as a whole word, when it has no letters, or when the history typed it already
    (the screen and the history would then disagree with the new goal). Only the goal line
    and the answer change; for ``ModelConfig.span_case`` training (``--recase``)."""
    m = _TYPE_CALL.match(target)
    lines = prompt.split("\n")
    if m is None or not lines[0].startswith("Goal: "):
        return None
    value, rest = m.group(1), m.group(2)
    if any(f"'{value}'" in line or f'"{value}"' in line for line in lines[1:]):
        return None
    goal = lines[0]
    hits = list(re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", goal))
    if len(hits) != 1 or value.upper() == value.lower():
        return None
    # either case, whatever the value's own: most values are written in small letters, and a
    # case chosen to differ from the value's asked for capitals 9 times in 10, so the head
    # learned "letters" and "all" as words for upper case (run 35 of docs/BUILTIN.md)
    case = rng.choice(("upper", "lower"))
    typed = in_case(value, case)
    shown = rng.choice(
        [v for v in (value, value.lower(), value.upper(), value.title()) if v != typed]
    )
    s, e = hits[0].span()
    if e < len(goal) and goal[e] in "\"'" and s > 0 and goal[s - 1] == goal[e]:
        e += 1  # after the closing quote
    said = goal[:s] + shown + goal[hits[0].end() : e] + " " + rng.choice(CASE_SAID[case]) + goal[e:]
    return "\n".join([said, *lines[1:]]), f'type("{typed}"{rest}'
