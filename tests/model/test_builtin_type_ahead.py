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
from perception.builtin.model import (
    INNER_NATS,
    PLAN_STEPS,
    Decoded,
    GazeVLM,
    Keep,
    Plan,
    PointGuess,
)
from perception.builtin.policy import VERBS
from perception.builtin.predict import choose_tile
from perception.builtin.reader import Word
from perception.builtin.spans import candidate_spans
from perception.builtin.tokenizer import N_BYTES, POINT
from perception.builtin.train import PRESETS
from perception.builtin.type_ahead import first_click, fit, goal_plans, goal_types
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


def _sample(
    page: str, goal: str, target: str, kind: str = "demo", step: int = 0, before: Any = ()
) -> Any:
    history = tuple(SimpleNamespace(reply=r) for r in before)
    return SimpleNamespace(
        sample=SimpleNamespace(
            kind=kind,
            goal=goal,
            target=target,
            page=SimpleNamespace(page_id=page),
            step=step,
            history=history,
        )
    )


def _demo(page: str, goal: str, *targets: str) -> list[Any]:
    """A demonstration's samples: step i answers ``targets[i]`` after the ones before it."""
    return [_sample(page, goal, t, step=i, before=targets[:i]) for i, t in enumerate(targets)]


TYPING = [
    "Type {v} into the text box and press {b}.",
    "Fill the field with {v} and hit {b}.",
    "Write {v} in the input and submit it with {b}.",
]
CLICKING = ["Click {b}.", "Hit {b} and then {v}.", "Open the {v} tab and press {b}."]
TWO = ["Fill in Name with {v} and City with {w}, then press {b}."]
TWICE = ["Type {v} into both boxes and press {b}."]
ENTER = ["Type {v} into the box and press Enter.", "Put {v} in the field, then hit Enter."]
VALUES = ["lisbon", "kira", "toolkit", "market", "oslo", "meadow", "harbor", "ledger"]
BUTTONS = ["Go", "Save", "Join", "Done", "Submit", "Send", "Apply", "Next"]


def _demos(plans: bool = False) -> list[Any]:
    """Typing and clicking demonstrations; with ``plans`` also ones that type two values and
    one value twice."""
    out = []
    for i, (v, b) in enumerate(zip(VALUES, BUTTONS, strict=True)):
        for j, t in enumerate(TYPING):
            out += _demo(
                f"t{i}{j}", t.format(v=v, b=b), "click(5, 5)", f'type("{v}")', "click(9, 9)"
            )
        for j, t in enumerate(CLICKING):
            out += _demo(f"c{i}{j}", t.format(v=v, b=b), "click(5, 5)", "done()")
        if not plans:
            continue
        w = VALUES[i - 1]
        for j, t in enumerate(TWO):
            out += _demo(
                f"w{i}{j}",
                t.format(v=v, w=w, b=b),
                *("click(1, 1)", f'type("{v}")', "click(2, 2)", f'type("{w}")', "click(9, 9)"),
            )
        for j, t in enumerate(TWICE):
            goal = t.format(v=v, b=b)
            out += _demo(
                f"d{i}{j}", goal, "click(1, 1)", f'type("{v}")', "click(2, 2)", f'type("{v}")'
            )
        for j, t in enumerate(ENTER):
            goal = t.format(v=v)
            out += _demo(f"e{i}{j}", goal, "click(1, 1)", f'type("{v}", submit=true)', "done()")
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
    heads = ["type_ahead.bias", "type_ahead.weight", "type_plan.bias", "type_plan.weight"]
    assert sorted(changed) == sorted(heads)  # the plan head too (TINY has it)
    new = ["Type porto into the text box and press Send.", "Hit Apply and then porto."]
    yes, no = _logits(model, new)
    assert yes > 0 > no


def test_a_demonstrations_plan_is_read_from_its_last_step() -> None:
    """``goal_plans``: the type() steps of each demonstration (history and target of its last
    step, in whatever order the samples come) and whether a value comes twice (any case)."""
    two = _demo("w", "Fill in A with x and B with y.", "click(1, 1)", 'type("x")', 'type("y")')
    twice = _demo("d", "Type x twice.", 'type("x")', "click(1, 1)", 'type("X ")', "done()")
    enter = _demo("e", "Type x, Enter.", 'type("x", submit=true)', "done()")
    clicks = _demo("c", "Click Go.", "click(1, 1)")
    plans = goal_plans([*reversed(two), *twice, *enter, *clicks])
    assert plans == {  # Enter as a label: +1 presses it after the last value, -1 does not
        ("w", "Fill in A with x and B with y."): Plan(2, False, -1.0),
        ("d", "Type x twice."): Plan(2, True, -1.0),
        ("e", "Type x, Enter."): Plan(1, False, 1.0),
        ("c", "Click Go."): Plan(0, False, -1.0),
    }


def test_a_plan_says_which_values_are_used_and_how_many_are_left() -> None:
    assert Plan(2, False).used(["Warsaw "]) == ["warsaw"] and Plan(2, False).left(["a"]) == 1
    assert Plan(2, True).used(["market"]) == []  # typed once of twice: still wanted
    assert Plan(2, True).used(["market", "Market"]) == ["market"]
    assert Plan(1, False).left(["a", "b"]) == 0 and Plan(3, True).left([]) == 3
    assert Plan(3, True).again(["amara"]) == []  # the password is yet to come
    assert Plan(3, True).again(["amara", "qoPx"]) == ["qopx"]  # the newest again
    assert Plan(2, True).again(["x", "X"]) == [] and Plan(2, False).again(["x"]) == []


def _plans(model: GazeVLM, goals: list[str]) -> list[Plan]:
    ids = [prompt_ids(f"Goal: {g}", model.config) for g in goals]
    return model.typing_plan(pad_prompts(ids))


def test_the_plan_head_learns_how_many_values_a_goal_types() -> None:
    """Fitted with the type-ahead head: none for a clicking goal, one, two values ("with" said
    twice), one value twice ("both"), one with Enter after it, on values and buttons it never
    saw."""
    torch.manual_seed(0)
    model = GazeVLM(TINY)
    assert model.type_plan is not None
    got = fit(model, _demos(plans=True), seed=0)
    assert got.plan_accuracy == got.twice_accuracy == got.enter_accuracy == 1.0
    new = [
        "Hit Reset and then porto.",
        "Type porto into the text box and press Reset.",
        "Fill in Name with porto and City with vigo, then press Reset.",
        "Type porto into both boxes and press Reset.",
        "Type porto into the box and press Enter.",
    ]
    plans = _plans(model, new)
    assert [(p.steps, p.twice) for p in plans] == [(0, 0), (1, 0), (2, 0), (2, 1), (1, 0)]
    assert plans[4].enter > 0 > max(p.enter for p in plans[1:4])
    plain = GazeVLM(TINY.model_copy(update={"type_plan": 0}))
    assert plain.type_plan is None and fit(plain, _demos(), seed=0).plan_accuracy is None


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


def _value(d: Decoded) -> str:
    text = _text(d.ids)
    return text[len('type("') : text.index('"', len('type("'))]


def test_a_plan_keeps_typing_until_done_and_repeats_what_a_goal_types_twice() -> None:
    """With ``type_plan`` and the history's values: a type() step chooses its value as before,
    except that a goal typing one value twice, all its values typed, repeats one typed once;
    no Enter while another value is left after this one; no done() while values are left
    midway; the hold is asked at a later step while values are left, with a value the history
    has not typed (the look-ahead passes over those), and not once all are typed."""
    torch.manual_seed(0)
    model = GazeVLM(TINY).eval()
    assert model.verb is not None and model.type_plan is not None and model.submit is not None
    batch = collate(_steps(2, seed=1), TINY)
    args = (batch["images"], batch["prompts"], batch["words"], 30, GRAMMAR)
    kw: dict[str, Any] = dict(marks=batch["marks"], state=batch["state"])

    def plan(steps: int, twice: bool, enter: float = 0.0) -> None:
        model.type_plan.bias.zero_()  # type: ignore[union-attr]
        model.type_plan.bias[steps] = 10.0  # type: ignore[union-attr]
        model.type_plan.bias[PLAN_STEPS] = 10.0 if twice else -10.0  # type: ignore[union-attr]
        model.type_plan.bias[PLAN_STEPS + 1] = enter  # type: ignore[union-attr]

    with torch.no_grad():
        model.verb[2].bias[VERBS.index("type")] = 40.0
        model.submit.bias.fill_(10.0)  # it would press Enter
        plan(2, False)
        free = model.generate(*args, **kw)  # no history values given: as before
        first = [_value(d) for d in free]
        assert all(_text(d.ids).endswith("submit=true)") for d in free)
        past = [[first[0]], [first[1].upper()]]
        same = model.generate(*args, **kw, typed=past)
        assert [_value(d) for d in same] == first  # the span head's choice, typed or not
        assert all(_text(d.ids).endswith("submit=true)") for d in same)  # the last: as the head
        plan(2, False, -20.0)  # the goal's words say no Enter, louder than the submit head
        assert all(_text(d.ids).endswith('")') for d in model.generate(*args, **kw, typed=past))
        model.submit.bias.fill_(-10.0)
        plan(2, False, 20.0)  # ... and Enter, louder than the head's no
        said = model.generate(*args, **kw, typed=past)
        assert all(_text(d.ids).endswith("submit=true)") for d in said)
        model.submit.bias.fill_(10.0)
        plan(3, False)
        more = model.generate(*args, **kw, typed=past)
        assert all(_text(d.ids).endswith('")') for d in more)  # another value after this one
        prompts = [bytes(i for i in row.tolist() if i < N_BYTES) for row in batch["prompts"]]
        other = [
            next(t[s:e].decode() for s, e in candidate_spans(t) if t[s:e].decode() != v)
            for t, v in zip(prompts, first, strict=True)
        ]
        plan(2, True)  # one value, typed once of twice: this value again
        again = model.generate(*args, **kw, typed=[[o] for o in other])
        assert [_value(d).casefold() for d in again] == [o.casefold() for o in other]
        plan(3, True)  # two values and one twice: after the first, any value
        assert [_value(d) for d in model.generate(*args, **kw, typed=[[o] for o in other])] == first
        model.verb[2].bias[VERBS.index("done")] = 80.0
        plan(2, False)
        assert all(
            _text(d.ids).startswith("type(") for d in model.generate(*args, **kw, typed=past)
        )
        plan(1, False)  # all typed: done as the verb head says
        assert all(
            _text(d.ids).startswith("done(") for d in model.generate(*args, **kw, typed=past)
        )
        model.verb[2].bias[VERBS.index("click")] = 160.0
        model.type_ahead.bias.fill_(10.0)  # type: ignore[union-attr]
        asked: list[str] = []

        def keep(value: str) -> Keep:
            asked.append(value)
            return Keep()

        model.generate(*args, **kw, typed=past, hold=[keep, keep])
        assert not asked  # nothing left to type
        plan(2, False)
        model.generate(*args, **kw, typed=[[first[0]], []], hold=[keep, keep])
        assert len(asked) == 2 and first[0].casefold() not in asked[0].casefold()


def test_a_tile_whose_click_went_into_a_field_places_it() -> None:
    """Among a page's tiles writing the same click, one whose point went into a text field
    (``PointGuess.into``) places it, however sure the others are; without such a tile the
    usual rule (here the pointer's confidence) decides."""
    ids = [*b"click(", POINT, *b")"]
    sure = Decoded(ids, [PointGuess(5, 5, 0.99, 0.9)], -0.1)
    field = Decoded(ids, [PointGuess(9, 9, 0.40, 0.3, (), True)], -0.2)
    assert choose_tile([sure, field]) == 1
    assert choose_tile([sure, Decoded(ids, [PointGuess(9, 9, 0.40, 0.3)], -0.2)]) == 0


def test_an_outline_around_smaller_slots_gives_way_to_them() -> None:
    """``ModelConfig.inner_outline``: a form row's outline chosen by the pointer (its centre the
    gap between a field and a button) gives way to the most probable slot inside it within
    ``INNER_NATS``; not to one less probable than that, nor to one kept off; without the
    option, the outline."""
    g = TINY.grid**2
    boxes = torch.tensor([[0, 0, 100, 40], [60, 10, 30, 20], [5, 10, 50, 20], [150, 0, 10, 10]])
    off = torch.zeros(g, 2)

    def choose(model: GazeVLM, button: float, avoid: Any = ()) -> int:
        logp = torch.full((g + 4 + 1,), -30.0)  # patches, slots, "not here"
        logp[g : g + 4] = torch.tensor([-0.7, button, -4.0, -5.0])
        return model._best_candidate(logp[:-1], off, boxes, list(avoid))[0] - g

    plain = GazeVLM(TINY.model_copy(update={"inner_outline": False}))
    inner = GazeVLM(TINY.model_copy(update={"inner_outline": True}))
    assert choose(plain, -0.8) == 0 and choose(inner, -0.8) == 1
    assert choose(inner, -0.7 - INNER_NATS - 0.1) == 0  # far less probable: the outline
    assert choose(inner, -0.8, [(58.0, 8.0, 34.0, 24.0)]) == 0  # the button kept off
