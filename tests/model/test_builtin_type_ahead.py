"""Type before you press (``perception.builtin.type_ahead``, ``ModelConfig.type_ahead``): the
boxes a click keeps off until the goal's value is typed, the head that says whether a goal types
fitted on demonstrations' goals, and decoding's look-ahead that asks the span head for the value.

Models are miniature (the tiny preset) and fitted on the spot; no shipped weights.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch

from perception.builtin.data import collate, pad_prompts, prompt_ids
from perception.builtin.grammar import ActionGrammar
from perception.builtin.model import Decoded, GazeVLM, Keep, PointGuess
from perception.builtin.policy import VERBS
from perception.builtin.predict import choose_tile
from perception.builtin.reader import Word
from perception.builtin.spans import candidate_spans
from perception.builtin.tokenizer import N_BYTES, POINT
from perception.builtin.train import PRESETS
from perception.builtin.type_ahead import first_click, fit, goal_types
from perception.parsers import dialect_actions
from tests.model.test_builtin_policy import _steps

TINY = PRESETS["tiny"].model
GRAMMAR = ActionGrammar(dialect_actions("gaze"))


def _w(text: str, x: float, y: float, w: float, h: float) -> Word:
    return Word(text, x, y, w, h, 1.0)


def _off(*args: Any) -> list[tuple[float, float, float, float]]:
    return list(first_click(*args).off)


FIELD = _w("", 10, 10, 180, 26)  # an empty text field's outline
BUTTON = _w("", 200, 10, 90, 26)  # a button's outline around its caption
SUBSCRIBE = _w("Subscribe", 215, 16, 60, 14)
ENTRY = 'Fill the text field with "project" and hit "Subscribe".'


def test_the_button_named_after_the_value_waits_as_its_outline() -> None:
    named = frozenset({"subscribe"})
    got = _off(ENTRY, "project", [SUBSCRIBE], named, [FIELD, BUTTON])
    assert got == [(200, 10, 90, 26)]
    assert _off(ENTRY, "PROJECT ", [SUBSCRIBE], named, [FIELD, BUTTON]) == got  # any case
    assert _off(ENTRY, "project", [SUBSCRIBE], named, None) == [(215, 16, 60, 14)]
    assert _off(ENTRY, "project", [SUBSCRIBE], frozenset(), [BUTTON]) == []  # not named
    assert _off(ENTRY, "Lisbon", [SUBSCRIBE], named, [BUTTON]) == []  # not in the goal
    assert _off(ENTRY, "", [SUBSCRIBE], named, [BUTTON]) == []


def test_the_first_click_goes_into_a_text_field() -> None:
    """``on``: outlines shaped like a text field, empty or with a left-aligned placeholder;
    not a button (its caption centred), a rule, a card, a tick box, an underlined link, a notice
    bar's sentence, nor one held off."""
    holder = _w("Find", 318, 16, 30, 14)  # "Find anything", left-aligned in its field
    find = _w("", 310, 10, 160, 26)
    rule, card, box = _w("", 10, 50, 400, 2), _w("", 10, 60, 300, 120), _w("", 10, 200, 16, 16)
    link = _w("", 10, 230, 90, 13)  # an underlined link
    bar = _w("", 10, 250, 400, 35)  # a notice: a sentence from its left edge
    said = ("Keep", "it", "easy", "to", "plan")
    notice = [_w(t, 18 + 40 * i, 260, 36, 14) for i, t in enumerate(said)]
    outlines = [FIELD, BUTTON, find, rule, card, box, link, bar]
    words = [SUBSCRIBE, holder, _w("Hugo", 12, 230, 30, 12), *notice]
    got = first_click(ENTRY, "project", words, frozenset({"subscribe"}), outlines)
    assert got.off == ((200, 10, 90, 26),)
    assert got.on == ((10, 10, 180, 26), (310, 10, 160, 26))
    search = "Search for smart watch."  # nothing named after the value: only into a field
    assert first_click(search, "smart watch", words, frozenset(), outlines).on == got.on
    assert first_click(search, "smart watch", [holder], frozenset(), None) == ((), ())
    assert first_click(search, "Find", [holder], frozenset(), outlines) == ((), ())  # on page


def test_a_value_on_the_page_is_a_label_to_click_or_an_echo_and_holds_nothing() -> None:
    invite = _w("Invite", 20, 16, 40, 14)
    goal = 'Hit Invite and then "Subscribe".'
    named = frozenset({"invite", "subscribe"})
    assert _off(goal, "Invite", [invite, SUBSCRIBE], named, [BUTTON]) == []
    # a page that repeats its instruction (MiniWoB++): "button" is in no control, yet on the page
    echo = [_w(t, 10 + 40 * i, 0, 36, 12) for i, t in enumerate(["Click", "the", "button", "in"])]
    goal = 'Click the button in the dialog box labeled "Subscribe".'
    assert _off(goal, "button", [*echo, SUBSCRIBE], frozenset({"subscribe"}), []) == []
    assert _off(goal, "dialog", [*echo, SUBSCRIBE], frozenset({"subscribe"}), []) != []
    # a value the OCR read one character off on the page ("6nLl" as "6nLI") is on it too
    boxes = [_w("6nLI", 10, 40, 30, 12), _w("cwl9", 10, 60, 30, 12), SUBSCRIBE]
    goal = "Select 6nLl, cwI9, 6nLIx, 6nLlxy and click Subscribe."
    for value in ("6nLl", "cwI9", "6nLIx"):  # changed, changed, one added
        assert _off(goal, value, boxes, frozenset({"subscribe"}), []) == [], value
    assert _off(goal, "6nLlxy", boxes, frozenset({"subscribe"}), []) != []  # two off
    short = [_w("ab", 10, 40, 20, 12), SUBSCRIBE]  # too short to tell a slip from a word
    assert _off("Select ax and click Subscribe.", "ax", short, {"subscribe"}, []) != []


def test_words_named_before_the_value_and_placeholders_do_not_wait() -> None:
    """ "Full name" is named before the value, so "Team name"'s "name" is no reason to hold
    "Full name"; a field's left-aligned placeholder "Search" is where the value goes, while a
    Search button (its caption centred) waits."""
    goal = "Fill in Full name with Samir Varga and Team name with Amara, then press Go."
    full, name1 = _w("Full", 10, 0, 24, 12), _w("name", 38, 0, 30, 12)
    team, name2 = _w("Team", 10, 50, 30, 12), _w("name", 44, 50, 30, 12)
    named = frozenset({"full", "name", "team"})
    got = _off(goal, "Samir Varga", [full, name1, team, name2], named, [])
    assert got == [(10, 50, 30, 12)]
    search = "Type board game in the search box and press Enter."
    field, holder = _w("", 10, 10, 240, 30), _w("Search", 18, 18, 44, 14)
    button, caption = _w("", 260, 10, 80, 30), _w("Search", 278, 18, 44, 14)
    words = [holder, caption]
    got = _off(search, "board game", words, frozenset({"search"}), [field, button])
    assert got == [(260, 10, 80, 30)]


def _sample(page: str, goal: str, target: str, kind: str = "demo") -> Any:
    return SimpleNamespace(
        sample=SimpleNamespace(
            kind=kind, goal=goal, target=target, page=SimpleNamespace(page_id=page)
        )
    )


TYPING = [
    "Type {v} into the text box and press {b}.",
    "Fill the field with {v} and hit {b}.",
    "Write {v} in the input and submit it with {b}.",
]
CLICKING = ["Click {b}.", "Hit {b} and then {v}.", "Open the {v} tab and press {b}."]
VALUES = ["lisbon", "kira", "toolkit", "market", "oslo", "meadow", "harbor", "ledger"]
BUTTONS = ["Go", "Save", "Join", "Done", "Submit", "Send", "Apply", "Next"]


def _demos() -> list[Any]:
    out = []
    for i, (v, b) in enumerate(zip(VALUES, BUTTONS, strict=True)):
        for j, t in enumerate(TYPING):
            page, goal = f"t{i}{j}", t.format(v=v, b=b)
            out += [_sample(page, goal, "click(5, 5)"), _sample(page, goal, f'type("{v}")')]
            out.append(_sample(page, goal, "click(9, 9)"))
        for j, t in enumerate(CLICKING):
            page, goal = f"c{i}{j}", t.format(v=v, b=b)
            out += [_sample(page, goal, "click(5, 5)"), _sample(page, goal, "done()")]
    out.append(_sample("a0", "Where is Go?", "(5, 5)", kind="alignment"))
    return out


def _logits(model: GazeVLM, goals: list[str]) -> list[float]:
    ids = [prompt_ids(f"Goal: {g}", model.config) for g in goals]
    return model.types_logit(pad_prompts(ids)).tolist()


def test_the_head_learns_which_goals_type_from_demonstrations() -> None:
    demos = _demos()
    types = goal_types(demos)
    assert len(types) == 2 * len(VALUES) * 3 and sum(types.values()) == len(VALUES) * 3
    assert ("a0", "Where is Go?") not in types
    torch.manual_seed(0)
    model = GazeVLM(TINY)
    assert model.type_ahead is not None
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert all(t == 0 for t in _logits(model, ["Type x into the box and press Go."]))  # no
    got = fit(model, demos, seed=0)
    assert got.goals == len(types) and got.rows >= got.goals and got.accuracy == 1.0
    assert 0.5 <= got.typing < 0.8  # rephrasings say typing goals more ways
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert sorted(changed) == ["type_ahead.bias", "type_ahead.weight"]
    new = ["Type porto into the text box and press Send.", "Hit Apply and then porto."]
    yes, no = _logits(model, new)
    assert yes > 0 > no


def _text(ids: list[int]) -> str:
    return bytes(i for i in ids if i < N_BYTES).decode(errors="replace")


def test_decoding_reads_the_value_ahead_and_the_click_keeps_off_what_waits() -> None:
    """With the verb head on click and the type-ahead head on "types", ``hold`` is asked with a
    span of the goal and the click keeps off the ``off`` box it returns, and goes into an ``on``
    box when given one; the answer's text is the same.
    A head saying "no", a verb other than click, or no hold: never asked."""
    torch.manual_seed(0)
    model = GazeVLM(TINY).eval()
    assert model.verb is not None and model.type_ahead is not None
    batch = collate(_steps(2, seed=0), TINY)
    args = (batch["images"], batch["prompts"], batch["words"], 30, GRAMMAR)
    kw = dict(marks=batch["marks"], state=batch["state"])
    asked: list[tuple[int, str]] = []

    def hold(row: int, box: tuple[float, float, float, float], into: Any = ()) -> Any:
        def keep(value: str) -> Keep:
            asked.append((row, value))
            return Keep((box,), tuple(into))

        return keep

    with torch.no_grad():
        model.verb[2].bias[VERBS.index("click")] = 20.0
        model.type_ahead.bias.fill_(10.0)
        plain = model.generate(*args, **kw)  # type: ignore[arg-type]
        assert all(_text(d.ids).startswith("click(") for d in plain)
        around = [
            (p.x - 4, p.y - 4, 8.0, 8.0) for p in (d.points[0] for d in plain)
        ]  # the spot each row clicked
        kept = model.generate(*args, **kw, hold=[hold(0, around[0]), None])  # type: ignore[arg-type]
        assert [r for r, _ in asked] == [0]
        text = bytes(i for i in batch["prompts"][0].tolist() if i < N_BYTES)
        spans = {text[s:e].decode() for s, e in candidate_spans(text)}
        assert asked[0][1] in spans or asked[0][1].casefold() in {x.casefold() for x in spans}
        x, y, w, h = around[0]
        p = kept[0].points[0]
        assert not (x <= p.x <= x + w and y <= p.y <= y + h)  # kept off the box
        assert _text(kept[0].ids) == _text(plain[0].ids)
        assert kept[1].points[0] == plain[1].points[0]  # no hold, as before
        quarter = (TINY.canvas / 2, TINY.canvas / 2, TINY.canvas / 2, TINY.canvas / 2)
        into = model.generate(*args, **kw, hold=[hold(0, around[0], [quarter]), None])  # type: ignore[arg-type]
        p = into[0].points[0]  # into the box it was given (and still off the other)
        assert quarter[0] <= p.x <= TINY.canvas and quarter[1] <= p.y <= TINY.canvas, p
        assert not (x <= p.x <= x + w and y <= p.y <= y + h)
        asked.clear()  # the tiles of one page share one look-ahead and its value
        model.generate(*args, **kw, groups=[0, 0], hold=[hold(0, around[0]), hold(1, around[1])])  # type: ignore[arg-type]
        assert [r for r, _ in asked] == [0, 1] and asked[0][1] == asked[1][1]
        asked.clear()
        model.type_ahead.bias.fill_(-10.0)  # the goal does not type
        same = model.generate(*args, **kw, hold=[hold(0, around[0]), hold(1, around[1])])  # type: ignore[arg-type]
        assert not asked and [d.points[0] for d in same] == [d.points[0] for d in plain]
        model.type_ahead.bias.fill_(10.0)
        model.verb[2].bias[VERBS.index("type")] = 40.0  # the verb is type: nothing to hold
        model.generate(*args, **kw, hold=[hold(0, around[0]), hold(1, around[1])])  # type: ignore[arg-type]
        assert not asked


def test_a_tile_whose_click_went_into_a_field_places_it() -> None:
    """Among a page's tiles writing the same click, one whose point went into a text field
    (``PointGuess.into``) places it, however sure the others are; without such a tile the
    usual rule (here the pointer's confidence) decides."""
    ids = [*b"click(", POINT, *b")"]
    sure = Decoded(ids, [PointGuess(5, 5, 0.99, 0.9)], -0.1)
    field = Decoded(ids, [PointGuess(9, 9, 0.40, 0.3, (), True)], -0.2)
    assert choose_tile([sure, field]) == 1
    assert choose_tile([sure, Decoded(ids, [PointGuess(9, 9, 0.40, 0.3)], -0.2)]) == 0
