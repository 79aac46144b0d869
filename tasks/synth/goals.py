"""Multi-step goals on generated pages: the instruction, a scripted plan, and a DOM success check.

Contract:
- ``plan_goal(kind, page, rng)`` turns a page that contains the widget the goal needs
  (``GOAL_WIDGETS``) into a ``Goal``: the instruction a person would give, the ``intents`` that
  achieve it (click an element by gid, type, press a key, bring an element into view, finish), and
  a ``Check`` the page runtime can evaluate afterwards. It returns None when the page cannot host
  the goal. Scroll goals depend on where things ended up, so ``plan_scroll`` takes the rendered
  page's candidates instead.
- Plans speak of elements by gid only; where they are on screen is decided at each step by
  ``tasks.synth.demos`` from a fresh annotation.

Goal phrasings are template text, shared by both splits; the labels and values in them come from
the page (and so from the split's vocabulary).
"""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Literal

from tasks.synth.pages import Item, Page, Widget, WidgetKind
from tasks.synth.vocab import Vocab, vocab

GoalKind = Literal[
    "login", "checkboxes", "tabs", "scroll", "dialog", "search", "radios", "menu", "form", "answer",
    "entry", "focus", "sequence",
]  # fmt: skip
GOAL_KINDS: tuple[GoalKind, ...] = (
    "login", "checkboxes", "tabs", "scroll", "dialog", "search", "radios", "menu", "form", "answer",
    "entry", "focus", "sequence",
)  # fmt: skip
# The widget a goal's page must contain (scroll goals: a scrolling list or a long page).
GOAL_WIDGETS: dict[GoalKind, tuple[WidgetKind, ...]] = {
    "login": ("login",),
    "checkboxes": ("checkboxes", "toggles"),
    "tabs": ("tabs",),
    "scroll": ("scroll_list",),
    "dialog": ("dialog",),
    "search": ("search",),
    "radios": ("radios",),
    "menu": ("menu",),
    "form": ("form",),
    "answer": ("table", "cards"),
    "entry": ("entry",),
    "focus": ("entry", "form"),
    "sequence": ("buttons",),
}


@dataclass(frozen=True)
class ClickOn:
    gid: str


@dataclass(frozen=True)
class Reveal:
    """Scroll until the element is in view, without clicking it."""

    gid: str


@dataclass(frozen=True)
class TypeText:
    text: str
    submit: bool = False


@dataclass(frozen=True)
class PressKey:
    keys: str  # gaze spelling, e.g. "ctrl+a", "Escape"


Intent = ClickOn | Reveal | TypeText | PressKey


@dataclass(frozen=True)
class Check:
    """What must hold afterwards; every field that is set must hold (see ``CHECK_JS``)."""

    clicked: str | None = None  # this gid was clicked
    selected: str | None = None  # this gid has aria-selected="true"
    hidden: str | None = None  # this gid is no longer visible
    form: str | None = None  # the last submission of this form ...
    pairs: tuple[tuple[str, str], ...] = ()  # ... contains these (name, value) pairs
    only: str | None = None  # ... and no other values under this name
    near: tuple[str, str] | None = None  # (gid, text): the element's row or card shows text
    focused: str | None = None  # this gid has the keyboard focus
    sequence: tuple[str, ...] = ()  # these gids were clicked in this order (others in between)

    def as_arg(self) -> dict[str, object]:
        return asdict(self)


CHECK_JS = """(c) => {
  const S = window.__synth, q = (g) => document.querySelector('[data-gid="' + g + '"]');
  if (c.clicked && !S.clicks.includes(c.clicked)) return false;
  if (c.selected && q(c.selected).getAttribute('aria-selected') !== 'true') return false;
  if (c.hidden && q(c.hidden).checkVisibility()) return false;
  if (c.form) {
    const sub = S.submits.filter(s => s.form === c.form).pop();
    if (!sub) return false;
    for (const [k, v] of c.pairs) if (!sub.data.some(([a, b]) => a === k && b === v)) return false;
    if (c.only) {
      const got = sub.data.filter(([a]) => a === c.only).map(([, b]) => b).sort();
      const want = c.pairs.filter(([a]) => a === c.only).map(([, b]) => b).sort();
      if (JSON.stringify(got) !== JSON.stringify(want)) return false;
    }
  }
  if (c.near) {
    const e = q(c.near[0]), box = e && e.closest('tr, .card');
    if (!box || !box.textContent.includes(c.near[1])) return false;
  }
  if (c.focused && document.activeElement !== q(c.focused)) return false;
  let i = 0;
  for (const g of S.clicks) if (i < c.sequence.length && g === c.sequence[i]) i++;
  return i === c.sequence.length;
}"""


@dataclass(frozen=True)
class Goal:
    kind: GoalKind
    text: str
    intents: tuple[Intent, ...]
    check: Check
    answer: str | None = None  # what done() says
    target: str | None = None  # gid of the element the goal is about, for scroll goals


def _q(rng: random.Random, label: str) -> str:
    """A UI label as a person writes it in an instruction: quoted or not."""
    return f'"{label}"' if rng.random() < 0.6 else label


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _phrase(v: Vocab, rng: random.Random) -> str:
    """A value of two words, as people type them: a full name, a product, a brand and a noun
    ("Samir Varga", "Smart watch", "Harbor studio"); sometimes in lower case."""
    kind = rng.randrange(3)
    if kind == 0:
        text = f"{rng.choice(v.first_names)} {rng.choice(v.last_names)}"
    elif kind == 1:
        text = rng.choice([p for p in v.products if " " in p] or list(v.products))
    else:
        text = f"{rng.choice(v.brands)} {rng.choice(v.nouns)}"
    return text.lower() if rng.random() < 0.25 else text


def _maybe_phrase(value: str, v: Vocab, rng: random.Random, phrases: float) -> str:
    """``value``, or with probability ``phrases`` a phrase instead (no draw when it is 0, so
    the goals of a seed made without phrases stay as they were)."""
    return _phrase(v, rng) if phrases and rng.random() < phrases else value


def _password(rng: random.Random) -> str:
    chars = string.ascii_letters + string.digits
    n = rng.randint(2, 5) if rng.random() < 0.3 else rng.randint(6, 10)
    return "".join(rng.choice(chars) for _ in range(n))


def _login(page: Page, rng: random.Random) -> Goal | None:
    """Sign in (user name, password); on a sign-up form (a ``confirm`` slot) the password goes
    in twice, and half the time the goal is only that ("... in both password fields")."""
    w = page.widget("login")
    if w is None:
        return None
    name = rng.choice(vocab(page.spec.split).first_names).lower()
    user = name + str(rng.randint(1, 99)) if rng.random() < 0.7 else name
    pw = _password(rng)
    slots = w.slots
    confirm = slots.get("confirm")
    submit = _q(rng, slots["submit"].label)
    u_label, p_label = slots["user"].label.lower(), slots["password"].label.lower()
    if confirm is not None and rng.random() < 0.5:
        c_label = _q(rng, confirm.label)
        text = rng.choice(
            (
                f'Enter the password "{pw}" in both password fields and press {submit}.',
                f'Type "{pw}" into {_q(rng, slots["password"].label)} and {c_label}, then click '
                f"{submit}.",
                f"Set the {p_label} to {_q(rng, pw)} (type it twice) and submit with {submit}.",
            )
        )
        intents: list[Intent] = [
            ClickOn(slots["password"].gid),
            TypeText(pw),
            ClickOn(confirm.gid),
            TypeText(pw),
            ClickOn(slots["submit"].gid),
        ]
        check = Check(form=w.gid, pairs=(("password", pw), ("confirm", pw)))
        return Goal("login", text, tuple(intents), check)
    no_button = (
        f"Sign in as {user} with the password {pw}.",
        f"Log in with username {user} and password {pw}.",
        f"Use the account {user} (password {pw}) to sign in.",
        f'Sign in with the {u_label} "{user}" and the {p_label} "{pw}".',
    )
    texts = (
        *no_button,
        f'Log in as "{user}" using the {p_label} "{pw}", then press {submit}.',
        f'Type "{user}" as the {u_label} and "{pw}" as the {p_label}, then click {submit}.',
        f'Fill in {u_label} "{user}" and {p_label} "{pw}" and press {submit}.',
    )
    k = rng.randrange(len(texts))  # the draw rng.choice(texts) made before generator version 5
    text = texts[k]
    if confirm is not None:
        text += rng.choice((" The password goes in both password boxes.", " Type it twice."))
    # Enter may submit only a goal that names no button ("then press Login" means the button);
    # the draw is made either way, so a seed's goals stay as they were
    enter = rng.random() < 0.5 and confirm is None and k < len(no_button)
    intents = [ClickOn(slots["user"].gid), TypeText(user), ClickOn(slots["password"].gid)]
    intents.append(TypeText(pw, submit=enter))
    pairs = [("user", user), ("password", pw)]
    if confirm is not None:
        intents += [ClickOn(confirm.gid), TypeText(pw)]
        pairs.append(("confirm", pw))
    if not enter:
        intents.append(ClickOn(slots["submit"].gid))
    return Goal("login", text, tuple(intents), Check(form=w.gid, pairs=tuple(pairs)))


def _checkboxes(page: Page, rng: random.Random) -> Goal | None:
    w = page.widget("checkboxes") or page.widget("toggles")
    if w is None or len(w.items) < 2:
        return None
    targets = rng.sample(list(w.items), rng.randint(1, min(3, len(w.items))))
    only = rng.random() < 0.4 or not any(i.on for i in w.items if i not in targets)
    labels = _join([_q(rng, i.label) for i in targets])
    submit = _q(rng, w.slots["submit"].label)
    verb = "Turn on" if w.kind == "toggles" else rng.choice(("Tick", "Check", "Select"))
    if only:
        text = f"{verb} only {labels} (nothing else), then press {submit}."
    else:
        text = f"{verb} {labels}, then press {submit}."
    flips = [i for i in w.items if (i in targets) != i.on and (only or i in targets)]
    intents: list[Intent] = [ClickOn(i.gid) for i in flips]
    intents.append(ClickOn(w.slots["submit"].gid))
    pairs = tuple(("opt", i.label) for i in targets)
    return Goal(
        "checkboxes",
        text,
        tuple(intents),
        Check(form=w.gid, pairs=pairs, only="opt" if only else None),
    )


def _tabs(page: Page, rng: random.Random) -> Goal | None:
    w = page.widget("tabs")
    if w is None:
        return None
    off = [t for t in w.items if not t.on]
    tab = rng.choice(off) if off and rng.random() < 0.85 else rng.choice(w.items)
    button = rng.choice(w.groups[tab.gid])
    if rng.random() < 0.4:
        return _tab_search(w, tab, button, rng)
    text = rng.choice(
        (
            f"Open the {_q(rng, tab.label)} tab and click {_q(rng, button.label)}.",
            f"Go to {_q(rng, tab.label)} and press {_q(rng, button.label)} there.",
        )
    )
    intents: list[Intent] = [] if tab.on else [ClickOn(tab.gid)]
    intents.append(ClickOn(button.gid))
    return Goal("tabs", text, tuple(intents), Check(clicked=button.gid, selected=tab.gid))


def _tab_search(w: Widget, tab: Item, button: Item, rng: random.Random) -> Goal:
    """The goal names a button but not its tab: open the tabs one by one, left to right (the
    open one is already seen), until the button shows, then click it."""
    name = _q(rng, button.label)
    text = rng.choice(
        (
            f"Find {name} in one of the tabs and click it.",
            f"Look through the tabs for {name} and press it.",
            f"Switch tabs until you see {name}, then click it.",
        )
    )
    intents: list[Intent] = []
    if not tab.on:
        for t in w.items:
            if not t.on:
                intents.append(ClickOn(t.gid))
            if t is tab:
                break
    intents.append(ClickOn(button.gid))
    return Goal("tabs", text, tuple(intents), Check(clicked=button.gid))


def _dialog(page: Page, rng: random.Random) -> Goal | None:
    w = page.widget("dialog")
    if w is None:
        return None
    if rng.random() < 0.25:
        ok = w.slots["ok"]
        text = f"Click {_q(rng, ok.label)} in the dialog."
        return Goal("dialog", text, (ClickOn(ok.gid),), Check(clicked=ok.gid))
    text = rng.choice(
        (
            "Close the dialog.",
            f"Dismiss the {_q(rng, w.slots['box'].label)} dialog.",
            "Close the pop-up.",
        )
    )
    how = rng.random()
    if how < 0.5:
        intents: tuple[Intent, ...] = (ClickOn(w.slots["close"].gid),)
    elif how < 0.8:
        intents = (ClickOn(w.slots["cancel"].gid),)
    else:
        intents = (PressKey("Escape"),)
    return Goal("dialog", text, intents, Check(hidden=w.gid))


def _search(page: Page, rng: random.Random, phrases: float = 0.0) -> Goal | None:
    w = page.widget("search")
    if w is None:
        return None
    v = vocab(page.spec.split)
    query = (
        rng.choice(v.products + v.cities).lower() if rng.random() < 0.7 else rng.choice(v.products)
    )
    query = _maybe_phrase(query, v, rng, phrases)
    enter = rng.random() < 0.7
    if enter and rng.random() < 0.5:
        text = f"Type {query} in the search box and press Enter."
    else:
        text = rng.choice(
            (f"Search for {_q(rng, query)}.", f"Look up {_q(rng, query)} using the search box.")
        )
    intents: list[Intent] = [ClickOn(w.slots["input"].gid), TypeText(query, submit=enter)]
    if not enter:
        intents.append(ClickOn(w.slots["submit"].gid))
    return Goal("search", text, tuple(intents), Check(form=w.gid, pairs=(("q", query),)))


def _radios(page: Page, rng: random.Random) -> Goal | None:
    w = page.widget("radios")
    if w is None:
        return None
    opt = rng.choice(w.items)
    submit = w.slots["submit"]
    text = rng.choice(
        (
            f"Select {_q(rng, opt.label)} and press {_q(rng, submit.label)}.",
            f"Pick {_q(rng, opt.label)} under {_q(rng, w.title)}, then click {_q(rng, submit.label)}.",
        )
    )
    intents: list[Intent] = [] if opt.on else [ClickOn(opt.gid)]
    intents.append(ClickOn(submit.gid))
    return Goal("radios", text, tuple(intents), Check(form=w.gid, pairs=((opt.name, opt.label),)))


def _menu(page: Page, rng: random.Random) -> Goal | None:
    w = page.widget("menu")
    if w is None:
        return None
    opener, item = w.slots["opener"], rng.choice(w.items)
    text = rng.choice(
        (
            f"Open the {_q(rng, opener.label)} menu and choose {_q(rng, item.label)}.",
            f"Choose {_q(rng, item.label)} from the {_q(rng, opener.label)} menu.",
        )
    )
    intents: list[Intent] = [] if opener.on else [ClickOn(opener.gid)]
    intents.append(ClickOn(item.gid))
    return Goal("menu", text, tuple(intents), Check(clicked=item.gid))


def _field_value(page: Page, label: str, rng: random.Random, phrases: float = 0.0) -> str:
    v = vocab(page.spec.split)
    if label in ("Phone", "Mobile"):
        return "".join(rng.choice(string.digits) for _ in range(9))
    low = label.lower()
    if "code" in low or "number" in low:
        return str(rng.randint(1000, 99999))
    if "website" in low:
        return f"https://{rng.choice(v.brands).lower()}.com"
    if "last" in low:
        return rng.choice(v.last_names)
    if "name" in low or "holder" in low:
        longer = bool(phrases) and rng.random() < phrases
        if longer and ("team" in low or "project" in low):
            return f"{rng.choice(v.brands)} {rng.choice(v.nouns)}"
        full = "full" in low or (longer and ("holder" in low or "display" in low))
        return rng.choice(v.first_names) + (" " + rng.choice(v.last_names) if full else "")
    if any(w in low for w in ("city", "country", "region", "state", "office", "street")):
        return rng.choice(v.cities)
    pool: Sequence[str] = rng.choice((v.cities, v.last_names, v.nouns, v.brands))
    return _maybe_phrase(rng.choice(pool), v, rng, phrases)


def _form(page: Page, rng: random.Random, phrases: float = 0.0) -> Goal | None:
    w = page.widget("form")
    if w is None or not w.items:
        return None
    fields: list[Item] = rng.sample(list(w.items), rng.randint(1, min(3, len(w.items))))
    values = [_field_value(page, f.label, rng, phrases) for f in fields]
    submit = w.slots["submit"]
    parts = [f"{_q(rng, f.label)} with {v}" for f, v in zip(fields, values, strict=True)]
    text = f"Fill in {_join(parts)}, then press {_q(rng, submit.label)}."
    intents: list[Intent] = []
    for f, v in zip(fields, values, strict=True):
        intents.append(ClickOn(f.gid))
        if f.value:
            intents.append(PressKey("ctrl+a"))
        intents.append(TypeText(v))
    intents.append(ClickOn(submit.gid))
    pairs = tuple((f.name, v) for f, v in zip(fields, values, strict=True))
    return Goal("form", text, tuple(intents), Check(form=w.gid, pairs=pairs))


def _answer(page: Page, rng: random.Random) -> Goal | None:
    w = page.widget("table") or page.widget("cards")
    if w is None or not w.items:
        return None
    item = rng.choice(w.items)
    text = rng.choice(
        (
            f"What is the price of {_q(rng, item.label)}? Answer with the price.",
            f"How much does {_q(rng, item.label)} cost?",
        )
    )
    return Goal(
        "answer", text, (Reveal(item.gid),), Check(near=(item.gid, item.value)), answer=item.value
    )


ORDINALS = ("first", "second", "third")
NUMBERED = ("1st", "2nd", "3rd")
BOX_NAMES = (
    "text box",
    "text field",
    "input",
    "textbox",
    "input field",
    "box",
    "text input",
    "input box",
)


def _which_box(boxes: Sequence[Item], i: int, rng: random.Random) -> str:
    """How a person points at bare box ``i`` of ``boxes``: by position when there are several
    ("the second text box", "the 2nd input", "the bottom box")."""
    name = rng.choice(BOX_NAMES)
    if len(boxes) == 1:
        return f"the {name}"
    if len(boxes) == 2 and rng.random() < 0.3:
        return f"the {('top', 'bottom')[i]} {name}"
    return f"the {(NUMBERED if rng.random() < 0.35 else ORDINALS)[i]} {name}"


def _entry_many(page: Page, rng: random.Random, phrases: float = 0.0) -> Goal | None:
    """Two or three bare boxes filled in one goal: one value into all of them ("into both
    boxes"), or a value per box named by position, in the goal's order."""
    w = page.widget("entry")
    if w is None or len(w.items) < 2:
        return None
    v = vocab(page.spec.split)
    btn = _q(rng, w.slots["submit"].label)
    boxes = list(w.items)
    if rng.random() < 0.5:
        value = rng.choice(rng.choice((v.first_names, v.cities, v.nouns)))
        value = _maybe_phrase(value, v, rng, phrases)
        val = _q(rng, value)
        every = "both" if len(boxes) == 2 else rng.choice(("all three", "all the", "every"))
        noun = rng.choice(("boxes", "text boxes", "fields", "inputs"))
        if every == "every":
            noun = noun[:-2] if noun.endswith("xes") else noun[:-1]
        text = rng.choice(
            (
                f"Type {val} into {every} {noun} and press {btn}.",
                f"Enter {val} in {every} {noun}, then click {btn}.",
            )
        )
        values = [value] * len(boxes)
    else:
        boxes = boxes[:2] if rng.random() < 0.5 else rng.sample(boxes, 2)
        values = rng.sample(list(v.first_names + v.cities + v.nouns), len(boxes))
        values = [_maybe_phrase(x, v, rng, phrases) for x in values]
        idx = [list(w.items).index(b) for b in boxes]
        parts = [
            f"{_q(rng, val)} into {_which_box(w.items, i, rng)}"
            for val, i in zip(values, idx, strict=True)
        ]
        text = f"Type {_join(parts)}, then press {btn}."
    intents: list[Intent] = []
    for b, val in zip(boxes, values, strict=True):
        intents += [ClickOn(b.gid), TypeText(val)]
    intents.append(ClickOn(w.slots["submit"].gid))
    pairs = tuple((b.name, val) for b, val in zip(boxes, values, strict=True))
    return Goal("entry", text, tuple(intents), Check(form=w.gid, pairs=pairs))


def _entry(page: Page, rng: random.Random, phrases: float = 0.0) -> Goal | None:
    w = page.widget("entry")
    if w is None or not w.items:
        return None
    if len(w.items) >= 2 and rng.random() < 0.4:
        return _entry_many(page, rng, phrases)
    i = rng.randrange(len(w.items))
    box, submit = w.items[i], w.slots["submit"]
    v = vocab(page.spec.split)
    value = rng.choice(rng.choice((v.first_names, v.cities, v.nouns, v.last_names)))
    if rng.random() < 0.2:
        value = value.lower()
    value = _maybe_phrase(value, v, rng, phrases)
    where, btn = _which_box(w.items, i, rng), _q(rng, submit.label)
    if rng.random() < 0.2:
        return _entry_case(w, box, value, where, btn, rng)
    val = _q(rng, value)
    enter = rng.random() < 0.25
    if enter:
        text = rng.choice(
            (f"Type {val} into {where} and press Enter.", f"Put {val} in {where}, then hit Enter.")
        )
    else:
        text = rng.choice(
            (
                f"Type {val} into {where} and click {btn}.",
                f"Put {val} in {where}, then press {btn}.",
                f"Write {val} in {where} and submit it with {btn}.",
                f"Fill {where} with {val} and hit {btn}.",
            )
        )
    intents: list[Intent] = [ClickOn(box.gid), TypeText(value, submit=enter)]
    if not enter:
        intents.append(ClickOn(submit.gid))
    return Goal("entry", text, tuple(intents), Check(form=w.gid, pairs=((box.name, value),)))


def _entry_case(w: Widget, box: Item, value: str, where: str, btn: str, rng: random.Random) -> Goal:
    """A value to type in other letter case than the goal writes it ("Type agustina in capital
    letters ...": AGUSTINA goes in the box)."""
    upper = rng.random() < 0.5
    shown = rng.choice((value.lower(), value)) if upper else rng.choice((value.upper(), value))
    typed = value.upper() if upper else value.lower()
    if shown == typed:
        shown = value.lower() if upper else value.upper()
    how = rng.choice(
        ("in capital letters", "in upper case", "in uppercase", "all in capitals")
        if upper
        else ("in lower case", "in lowercase", "in small letters", "all in lower case")
    )
    val = _q(rng, shown)
    text = rng.choice(
        (
            f"Type {val} {how} into {where} and press {btn}.",
            f"Write {val} into {where} {how}, then click {btn}.",
            f"Enter {val} {how} in {where} and submit it with {btn}.",
        )
    )
    intents: list[Intent] = [ClickOn(box.gid), TypeText(typed), ClickOn(w.slots["submit"].gid)]
    return Goal("entry", text, tuple(intents), Check(form=w.gid, pairs=((box.name, typed),)))


def _focus(page: Page, rng: random.Random) -> Goal | None:
    w = page.widget("entry") or page.widget("form")
    if w is None or not w.items:
        return None
    i = rng.randrange(len(w.items))
    if w.kind == "entry":
        where = _which_box(w.items, i, rng)
    else:
        where = f"the {_q(rng, w.items[i].label)} {rng.choice(('field', 'box', 'input'))}"
    text = rng.choice(
        (
            f"Click inside {where}.",
            f"Put the cursor in {where}.",
            f"Give {where} the focus.",
            f"Select {where} so that you can type in it.",
        )
    )
    gid = w.items[i].gid
    return Goal("focus", text, (ClickOn(gid),), Check(focused=gid))


def _sequence(page: Page, rng: random.Random) -> Goal | None:
    w = page.widget("buttons")
    usable = [b for b in w.items if b.on] if w is not None else []
    if len(usable) < 2:
        return None
    n = 3 if len(usable) > 2 and rng.random() < 0.3 else 2
    order = rng.sample(usable, n)
    names = [_q(rng, b.label) for b in order]
    if n == 2:
        text = rng.choice(
            (
                f"Click {names[0]}, then {names[1]}.",
                f"Press {names[0]} first and {names[1]} after it.",
                f"Hit {names[0]} and then {names[1]}.",
            )
        )
    else:
        text = f"Click {names[0]}, then {names[1]}, then {names[2]}."
    gids = tuple(b.gid for b in order)
    return Goal("sequence", text, tuple(ClickOn(g) for g in gids), Check(sequence=gids))


def plan_goal(
    kind: GoalKind, page: Page, rng: random.Random, *, phrases: float = 0.0
) -> Goal | None:
    """A goal of ``kind`` on ``page`` (None if the page lacks what it needs); not for scroll.
    ``phrases``: the share of values to type (entry, form and search goals) drawn as two-word
    phrases rather than the single words most goals use (0: the goals of earlier versions)."""
    if kind in ("entry", "form", "search"):
        typing = {"entry": _entry, "form": _form, "search": _search}[kind]
        return typing(page, rng, phrases)
    planners = {
        "login": _login,
        "checkboxes": _checkboxes,
        "tabs": _tabs,
        "dialog": _dialog,
        "radios": _radios,
        "menu": _menu,
        "answer": _answer,
        "focus": _focus,
        "sequence": _sequence,
    }
    planner = planners.get(kind)
    return planner(page, rng) if planner is not None else None


@dataclass(frozen=True)
class Candidate:
    """A clickable element of the rendered page that is out of view at the start."""

    gid: str
    text: str
    in_scroller: bool


def plan_scroll(page: Page, candidates: Sequence[Candidate], rng: random.Random) -> Goal | None:
    """Click something that is out of view: further down a long page, or in a scrolling list."""
    pool = [c for c in candidates if c.in_scroller != page.spec.long] or list(candidates)
    if not pool:
        return None
    c = rng.choice(pool)
    if c.in_scroller:
        text = rng.choice(
            (
                f"In the list, find {_q(rng, c.text)} and click it.",
                f"Scroll the list to {_q(rng, c.text)} and click it.",
            )
        )
    else:
        text = rng.choice(
            (
                f"Scroll down to {_q(rng, c.text)} and click it.",
                f"Find {_q(rng, c.text)} further down the page and click it.",
            )
        )
    return Goal("scroll", text, (ClickOn(c.gid),), Check(clicked=c.gid), target=c.gid)
