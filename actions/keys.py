"""Key names: turn the many ways models spell keys into Playwright's spelling.

Contract: ``normalize_combo("ctrl c")`` -> ``"Control+c"``; ``normalize_combo("Return")`` ->
``"Enter"``. Separators '+', '-', and spaces are accepted between keys (a lone '+' or '-' is a key).
Unknown key names raise ``ValueError`` with a message listing what is accepted, so parsers can turn
it into a ParseError the model can read. Pure string work; no Playwright import.
"""

from __future__ import annotations

import re

MODIFIERS = {
    "ctrl": "Control",
    "control": "Control",
    "cmd": "Meta",
    "command": "Meta",
    "meta": "Meta",
    "win": "Meta",
    "super": "Meta",
    "alt": "Alt",
    "option": "Alt",
    "opt": "Alt",
    "shift": "Shift",
}

NAMED = {
    "enter": "Enter",
    "return": "Enter",
    "tab": "Tab",
    "esc": "Escape",
    "escape": "Escape",
    "space": "Space",
    "spacebar": "Space",
    "backspace": "Backspace",
    "delete": "Delete",
    "del": "Delete",
    "insert": "Insert",
    "home": "Home",
    "end": "End",
    "pageup": "PageUp",
    "page_up": "PageUp",
    "pgup": "PageUp",
    "pagedown": "PageDown",
    "page_down": "PageDown",
    "pgdn": "PageDown",
    "up": "ArrowUp",
    "down": "ArrowDown",
    "left": "ArrowLeft",
    "right": "ArrowRight",
    "arrowup": "ArrowUp",
    "arrowdown": "ArrowDown",
    "arrowleft": "ArrowLeft",
    "arrowright": "ArrowRight",
    "capslock": "CapsLock",
}
NAMED.update({f"f{i}": f"F{i}" for i in range(1, 13)})

_SPLIT = re.compile(r"(?<=[^\s+\-])\s*[+\- ]\s*(?=\S)")


def _key(token: str) -> str:
    low = token.lower()
    if low in MODIFIERS:
        return MODIFIERS[low]
    if low in NAMED:
        return NAMED[low]
    if len(token) == 1 and token.isprintable():
        return token
    raise ValueError(
        f"unknown key {token!r}: use a single character, a modifier (ctrl, alt, shift, meta) or "
        f"one of {', '.join(sorted(set(NAMED.values())))}"
    )


def normalize_combo(combo: str) -> str:
    """Playwright key combo (``Control+Shift+t``) for a model's spelling (``ctrl shift t``)."""
    text = combo.strip()
    if not text:
        raise ValueError("empty key name")
    if text in {"+", "-"}:
        return text
    tokens = [t for t in _SPLIT.split(text) if t]
    keys = [_key(t) for t in tokens]
    *mods, _last = keys
    for m in mods:
        if m not in MODIFIERS.values():
            raise ValueError(f"{m!r} is not a modifier; write combinations like 'ctrl+a'")
    return "+".join(keys)
