"""Stage-1 (alignment) samples: reading and locating on one annotated screenshot.

Contract: ``alignment_samples(screen, rng, k=..., ...)`` returns up to ``k`` samples with distinct
prompts about ``screen``, drawn from these tasks (coordinates are pixels of the stored image):

- ``read_at_point``: "What does the element at (x, y) say?" -> its text.
- ``locate_text``: "Where is the text "Sign in"?" -> ``click(x, y)`` at a point that hit-tests to
  the element (its centre when possible); only for text that appears once on the screen.
- ``locate_element``: "Click the checkbox "Remember me"." -> ``click(x, y)``; (role, name) unique.
- ``box``: "Give the bounding box of "Sign in"." -> ``(x1, y1), (x2, y2)`` of its visible box.
- ``list_role``: "List the buttons." -> their texts, one per line, in reading order ("none").
- ``state``: "Is the checkbox "Remember me" checked?" -> yes/no; field values, the selected tab
  or option, enabled buttons, the focused element.
- ``count``: "How many checkboxes are checked?" -> a number.

Every action target is written with ``perception.parsers.format_action`` (gaze dialect) and the
sample's ``action`` is what that text parses back to, so text and action cannot disagree. Only
elements whose hit test landed on themselves (``Element.exact``) are read or located.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence

from actions.types import Click
from perception.frames import Frame
from perception.parsers import format_action, parse
from perception.parsers.base import Parsed
from perception.parsers.point import model_xy, num_text
from tasks.synth.annotations import Annotation, Element
from tasks.synth.samples import DIALECT, PageInfo, Sample, Screen
from tasks.synth.vocab import Split

# role -> (singular, plural) as prompts name them
ROLE_NOUNS: dict[str, tuple[str, str]] = {
    "button": ("button", "buttons"),
    "link": ("link", "links"),
    "checkbox": ("checkbox", "checkboxes"),
    "radio": ("radio button", "radio buttons"),
    "switch": ("switch", "switches"),
    "textbox": ("text field", "text fields"),
    "searchbox": ("search box", "search boxes"),
    "combobox": ("dropdown", "dropdowns"),
    "tab": ("tab", "tabs"),
    "menuitem": ("menu item", "menu items"),
    "heading": ("heading", "headings"),
}
CHECKABLE = ("checkbox", "radio", "switch")
FIELDS = ("textbox", "searchbox")
MAX_READ_CHARS = 80
# how often each task is drawn
WEIGHTS: dict[str, float] = {
    "read_at_point": 2.0,
    "locate_text": 2.5,
    "locate_element": 2.0,
    "box": 1.0,
    "list_role": 1.0,
    "state": 1.5,
    "count": 0.5,
}
Made = tuple[str, str, Element | None]  # prompt, target, the element it is about


def label_of(e: Element) -> str:
    """What a person calls the element: a field by its label, anything else by its text."""
    if e.role in (*FIELDS, "combobox", *CHECKABLE):
        return e.name or e.text
    if e.name and not any(c.isalnum() for c in e.text):  # an icon button: "×" is "Close"
        return e.name
    return e.text or e.name


def reading_order(elements: Sequence[Element]) -> list[Element]:
    """Top to bottom by rows (centres within 6 CSS px share a row), left to right in a row."""
    rows: list[list[Element]] = []
    for e in sorted(elements, key=lambda e: (e.box.centre[1], e.box.x)):
        if rows and abs(rows[-1][0].box.centre[1] - e.box.centre[1]) < 6:
            rows[-1].append(e)
        else:
            rows.append([e])
    return [e for row in rows for e in sorted(row, key=lambda e: e.box.x)]


def _pt(frame: Frame, x: float, y: float) -> str:
    mx, my = model_xy(frame, x, y)
    return f"({num_text(mx)}, {num_text(my)})"


def box_text(frame: Frame, e: Element) -> str:
    b = e.box
    return f"{_pt(frame, b.x, b.y)}, {_pt(frame, b.x + b.w, b.y + b.h)}"


class _Tasks:
    """The task builders over one screen; each returns None when the screen offers nothing."""

    def __init__(self, ann: Annotation, frame: Frame, rng: random.Random) -> None:
        self.ann, self.frame, self.rng = ann, frame, rng
        self.exact = [e for e in ann.elements if e.exact]
        self.text_count = Counter(e.text for e in ann.elements if e.text)
        self.named = Counter((e.role, label_of(e)) for e in ann.elements)

    def _readable(self) -> list[Element]:
        return [
            e
            for e in self.exact
            if e.text
            and len(e.text) <= MAX_READ_CHARS
            and not e.clipped
            and e.input_type != "password"
        ]

    def read_at_point(self) -> Made | None:
        cands = self._readable()
        if not cands:
            return None
        e = self.rng.choice(cands)
        q = self.rng.choice(
            (
                "What does the element at {p} say?",
                "Read the text at {p}.",
                "What is written at {p}?",
            )
        )
        return q.format(p=_pt(self.frame, *e.point)), e.text, e

    def locate_text(self) -> Made | None:
        cands = [
            e for e in self._readable() if self.text_count[e.text] == 1 and e.role not in FIELDS
        ]
        if not cands:
            return None
        e = self.rng.choice(cands)
        q = self.rng.choice(('Where is the text "{t}"?', 'Click on "{t}".', 'Point to "{t}".'))
        return q.format(t=e.text), self.click_text(e), e

    def locate_element(self) -> Made | None:
        cands = [
            e
            for e in self.exact
            if e.role in ROLE_NOUNS and label_of(e) and self.named[(e.role, label_of(e))] == 1
        ]
        if not cands:
            return None
        e = self.rng.choice(cands)
        noun = ROLE_NOUNS[e.role][0]
        q = self.rng.choice(('Click the {n} "{t}".', 'Where is the {n} "{t}"?'))
        return q.format(n=noun, t=label_of(e)), self.click_text(e), e

    def box(self) -> Made | None:
        cands = [e for e in self._readable() if self.text_count[e.text] == 1]
        if not cands:
            return None
        e = self.rng.choice(cands)
        return f'Give the bounding box of "{e.text}".', box_text(self.frame, e), e

    def list_role(self) -> Made | None:
        present = sorted({e.role for e in self.exact if e.role in ROLE_NOUNS})
        absent = [r for r in ("button", "link", "checkbox", "tab") if r not in present]
        if not present and not absent:
            return None
        if absent and (not present or self.rng.random() < 0.1):
            return f"List the {ROLE_NOUNS[self.rng.choice(absent)][1]}.", "none", None
        role = self.rng.choice(present)
        items = [label_of(e) for e in reading_order([e for e in self.exact if e.role == role])]
        if not all(items):
            return None
        return f"List the {ROLE_NOUNS[role][1]}.", "\n".join(items), None

    def state(self) -> Made | None:
        options: list[Callable[[], Made | None]] = [
            self._checked,
            self._field_value,
            self._selected_tab,
            self._enabled,
            self._focused,
        ]
        self.rng.shuffle(options)
        return next((m for f in options if (m := f()) is not None), None)

    def _unique(self, role: tuple[str, ...]) -> list[Element]:
        return [
            e
            for e in self.exact
            if e.role in role and label_of(e) and self.named[(e.role, label_of(e))] == 1
        ]

    def _checked(self) -> Made | None:
        cands = self._unique(CHECKABLE)
        if not cands:
            return None
        e = self.rng.choice(cands)
        q = f'Is the {ROLE_NOUNS[e.role][0]} "{label_of(e)}" ' + (
            "on?" if e.role == "switch" else "checked?"
        )
        return q, "yes" if e.checked else "no", e

    def _field_value(self) -> Made | None:
        cands = [
            e for e in self._unique((*FIELDS, "combobox")) if e.input_type != "password" and e.name
        ]
        if not cands:
            return None
        e = self.rng.choice(cands)
        if e.role == "combobox":
            return f'What is selected in "{e.name}"?', e.text, e
        return f'What is written in the field "{e.name}"?', e.value or "empty", e

    def _selected_tab(self) -> Made | None:
        tabs = [e for e in self.exact if e.role == "tab"]
        on = [e for e in tabs if e.selected]
        if len(on) != 1 or len(tabs) != len({e.text for e in tabs}):
            return None
        return "Which tab is selected?", on[0].text, on[0]

    def _enabled(self) -> Made | None:
        cands = self._unique(("button",))
        if not cands:
            return None
        e = self.rng.choice(cands)
        return f'Is the button "{label_of(e)}" enabled?', "no" if e.disabled else "yes", e

    def _focused(self) -> Made | None:
        focused = [e for e in self.ann.elements if e.focused]
        if not focused:
            return "Which element has the keyboard focus?", "none", None
        e = focused[0]
        if not label_of(e) or not e.exact:
            return None
        return "Which element has the keyboard focus?", label_of(e), e

    def count(self) -> Made | None:
        roles = sorted({e.role for e in self.exact if e.role in ROLE_NOUNS})
        if not roles:
            return None
        role = self.rng.choice(roles)
        of_role = [e for e in self.exact if e.role == role]
        if role in CHECKABLE and self.rng.random() < 0.6:
            n = sum(1 for e in of_role if e.checked)
            return f"How many {ROLE_NOUNS[role][1]} are checked?", str(n), None
        return f"How many {ROLE_NOUNS[role][1]} are there?", str(len(of_role)), None

    def click_text(self, e: Element) -> str:
        return format_action(Click(x=e.point[0], y=e.point[1]), self.frame, DIALECT)


def alignment_samples(
    screen: Screen, rng: random.Random, *, k: int, split: Split, page: PageInfo, id_prefix: str
) -> list[Sample]:
    """Up to ``k`` samples with distinct prompts about ``screen``; see the module contract."""
    frame = screen.frame()
    tasks = _Tasks(screen.annotation, frame, rng)
    builders: dict[str, Callable[[], Made | None]] = {
        "read_at_point": tasks.read_at_point,
        "locate_text": tasks.locate_text,
        "locate_element": tasks.locate_element,
        "box": tasks.box,
        "list_role": tasks.list_role,
        "state": tasks.state,
        "count": tasks.count,
    }
    names, weights = list(WEIGHTS), list(WEIGHTS.values())
    out: list[Sample] = []
    seen: set[str] = set()
    for _ in range(k * 3):
        if len(out) >= k:
            break
        task = rng.choices(names, weights)[0]
        made = builders[task]()
        if made is None or made[0] in seen:
            continue
        prompt, target, e = made
        seen.add(prompt)
        action = None
        if target.startswith("click("):
            parsed = parse(target, frame, DIALECT)
            assert isinstance(parsed, Parsed), parsed
            action = parsed.actions[0]
        w, h = screen.image_size
        out.append(
            Sample(
                id=f"{id_prefix}-{len(out):02d}",
                kind="alignment",
                task=task,
                split=split,
                image=screen.image_path,
                image_w=w,
                image_h=h,
                frame=frame,
                prompt=prompt,
                target=target,
                action=action,
                target_gid=e.gid if e is not None else None,
                target_box=e.box if e is not None else None,
                page=page,
            )
        )
    return out
