"""Scroll to find (``perception.builtin.find``, ``ModelConfig.scroll_find``): which goal words
name something on a page, the page's find facts, the head fitted on demonstrations' click and
scroll steps, and decoding that scrolls where the verb head said click.

Models are miniature (the tiny preset) and fitted on the spot; no shipped weights.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

from perception.builtin.data import collate, pad_prompts, prompt_ids
from perception.builtin.find import (
    FIRE,
    INSTRUCTION_WORDS,
    N_FIND,
    find_facts,
    fit,
    goal_labels,
    instruction_words,
)
from perception.builtin.grammar import ActionGrammar
from perception.builtin.model import GazeVLM
from perception.builtin.policy import VERBS
from perception.builtin.reader import Word
from perception.builtin.tokenizer import N_BYTES
from perception.builtin.train import PRESETS
from perception.builtin.words import tokens
from perception.parsers import dialect_actions
from tests.model.test_builtin_policy import _steps

TINY = PRESETS["tiny"].model
GRAMMAR = ActionGrammar(dialect_actions("gaze"))
ABSENT, OPEN, ANY_ON = slice(0, 3), slice(3, 6), FIRE + 1  # find_facts' layout


def _w(text: str, x: float = 0, y: float = 0) -> Word:
    return Word(text, x, y, 8.0 * len(text), 14.0, 1.0)


def test_instruction_words_are_named_often_and_rarely_shown() -> None:
    """A token 5 or more goals name and under 90% of their pages show is an instruction word;
    a label every page shows is not, nor is a word too few goals name, nor a typed value."""
    rows = [
        (f"Press {b} further down.", {b.lower()}, set())
        for b in ["Go", "Save", "Join", "Add", "Send"]
    ]
    rows += [("Fill in Office with oslo.", {"office"} if i else set(), {"oslo"}) for i in range(10)]
    rows += [("Type rare here.", set(), set())]
    got = instruction_words(rows)
    assert got == {"press", "further", "down", "fill"}  # office is shown in 9 of 10 (90%)
    assert {"press", "fill", "further", "tabs", "box"} <= INSTRUCTION_WORDS


def test_goal_labels_leave_out_instructions_function_words_and_values() -> None:
    goal = "Goal: Fill in Office with Osaka, then press Done."
    assert goal_labels(goal) == {"office", "osaka", "done"}
    assert goal_labels(goal, ["Osaka"]) == {"office", "done"}  # still to type
    typed = f"{goal}\nEarlier steps:\n1. click(x=5, y=5) -> ok\n2. type(text='Osaka', submit=False) -> ok"
    assert goal_labels(typed) == {"office", "done"}  # typed: a value, not a label
    assert goal_labels("Goal: Look through the tabs for Merge and press it.") == {"merge"}


def test_find_facts_count_absent_and_open_labels() -> None:
    goal = "Goal: Find Door mat further down the page and click it."
    facts = find_facts(goal, [_w("Find"), _w("anything")], set(), set())
    assert facts.shape == (N_FIND,)
    assert facts[ABSENT].tolist() == [0, 0, 1] and facts[OPEN].tolist() == [1, 0, 0]
    assert facts[FIRE] == 1 and facts[ANY_ON] == 0
    shown = find_facts(goal, [_w("Door"), _w("mat")], {"door", "mat"}, set())
    assert shown[ABSENT].tolist() == [1, 0, 0] and shown[OPEN].tolist() == [0, 0, 1]
    assert shown[FIRE] == 0 and shown[ANY_ON] == 1
    half = find_facts(goal, [_w("Dcor")], {"door"}, {"door"})  # read one off; clicked
    assert half[ABSENT].tolist() == [0, 1, 0] and half[OPEN].tolist() == [1, 0, 0]
    assert half[FIRE] == 1  # mat is not on the page and nothing on it is left to click
    many = "Goal: Select aa, bb, cc, dd and ee."
    seen = [_w(t) for t in ("aa", "bb", "cc", "dd")]
    one_of_five = find_facts(many, seen, {"aa", "bb", "cc", "dd"}, {"aa", "bb", "cc", "dd"})
    assert one_of_five[ABSENT].tolist() == [0, 1, 0] and one_of_five[FIRE] == 0  # an OCR miss
    lookalike = find_facts("Goal: Select Jl and b2O.", [_w("J1"), _w("b20")], set(), set())
    assert lookalike[ABSENT].tolist() == [1, 0, 0]  # the OCR's 1 for l, 0 for O
    later = f"{goal}\nEarlier steps:\n1. scroll(x=5, y=5, direction='down') -> ok"
    facts = find_facts(later, [], set(), set())
    steps, scrolled, scrolls = facts[8:12], facts[12], facts[13:16]
    assert steps.tolist() == [0, 1, 0, 0] and scrolled == 1 and scrolls.tolist() == [0, 1, 0]


def _sample(page: str, goal: str, target: str, step: int, before: list[str]) -> Any:
    lines = [f"Goal: {goal}"]
    if before:
        lines.append("Earlier steps:")
        lines += [f"{i + 1}. {b} -> ok" for i, b in enumerate(before)]
    return SimpleNamespace(
        sample=SimpleNamespace(
            kind="demo",
            goal=goal,
            prompt="\n".join(lines),
            target=target,
            page=SimpleNamespace(page_id=page),
            step=step,
        ),
        image_path=Path(f"/pages/{page}-{step}.png"),
    )


LABELS = ["Payroll", "Door", "Merge", "Archive", "Lisbon", "Ledger", "Harbor", "Meadow"]


def _demos() -> tuple[list[Any], dict[str, list[Word]]]:
    """Per label: "Find X further down" scrolls while X is off the page, then clicks it;
    "Click X" clicks it where it is; "Look through the tabs for X" clicks a tab while X is
    off the page, then X."""
    samples, words = [], {}
    for i, label in enumerate(LABELS):
        shown, other = [_w(label), _w("Tasks")], [_w("Tasks"), _w("Overview")]
        find = f"Find {label} further down the page and click it."
        tabs = f"Look through the tabs for {label} and press it."
        demos = [
            (f"f{i}", find, ["scroll(5, 5)", "click(5, 5)"], [other, shown]),
            (f"c{i}", f"Click {label}.", ["click(5, 5)"], [shown]),
            (f"t{i}", tabs, ["click(9, 9)", "click(5, 5)"], [other, shown]),
        ]
        for page, goal, targets, seen in demos:
            for k, (t, ws) in enumerate(zip(targets, seen, strict=True)):
                s = _sample(
                    page, goal, t, k, [x.replace("(5, 5", "(x=5, y=5") for x in targets[:k]]
                )
                samples.append(s)
                words[str(s.image_path)] = ws
    return samples, words


def _logits(model: GazeVLM, goal: str, seen: list[Word]) -> float:
    text = f"Goal: {goal}"
    facts = find_facts(text, seen, {t for w in seen for t in tokens(w.text)}, set())
    with torch.no_grad():
        return float(model.find_logit(pad_prompts([prompt_ids(text, model.config)]), facts[None]))


def test_the_head_learns_to_scroll_for_what_the_page_does_not_show() -> None:
    """Fitted on the click and scroll steps alone, it scrolls to find a new label the page
    does not show, and neither clicks away from one it shows nor from the tabs goal's."""
    samples, words = _demos()
    torch.manual_seed(0)
    model = GazeVLM(TINY)
    assert model.scroll_find is not None
    before = {k: v.clone() for k, v in model.state_dict().items()}
    got = fit(model, samples, words)
    assert got.rows == len(samples) and got.accuracy == 1.0 and got.recall == 1.0
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert sorted(changed) == ["scroll_find.bias", "scroll_find.weight"]
    off = [_w("Tasks"), _w("Overview")]
    assert _logits(model, "Find Oslo further down the page and click it.", off) > 0
    assert _logits(model, "Find Oslo further down the page and click it.", [_w("Oslo")]) < 0
    assert _logits(model, "Look through the tabs for Oslo and press it.", off) < 0


def _text(ids: list[int]) -> str:
    return bytes(i for i in ids if i < N_BYTES).decode(errors="replace")


def test_decoding_scrolls_where_the_head_says_and_the_verb_head_said_click() -> None:
    """A group the verb head gives to click() writes scroll( when its facts say FIRE and the
    head's logit is above 0, its facts read once per group with the value it types next;
    else, or with another verb, or no facts, the answer is as before."""
    torch.manual_seed(0)
    model = GazeVLM(TINY).eval()
    assert model.verb is not None and model.scroll_find is not None
    batch = collate(_steps(2, seed=0), TINY)
    args = (batch["images"], batch["prompts"], batch["words"], 30, GRAMMAR)
    kw: dict[str, Any] = dict(marks=batch["marks"], state=batch["state"])
    asked: list[list[str]] = []

    def facts(values: Any) -> torch.Tensor:
        asked.append(list(values))
        return torch.eye(N_FIND)[FIRE]  # absent labels, none open: the head is asked

    def quiet(values: Any) -> torch.Tensor:
        return torch.zeros(N_FIND)  # nothing missing: the click stays, whatever the head

    with torch.no_grad():
        model.verb[2].bias[VERBS.index("click")] = 20.0
        plain = model.generate(*args, **kw)
        assert all(_text(d.ids).startswith("click(") for d in plain)
        model.scroll_find.bias.fill_(5.0)
        got = model.generate(*args, **kw, groups=[0, 0], find=[facts, facts])
        assert all(_text(d.ids).startswith("scroll(") for d in got) and asked == [[]]
        assert model.generate(*args, **kw, find=[None, facts])[0].ids == plain[0].ids
        assert [d.ids for d in model.generate(*args, **kw, find=[quiet, quiet])] == [
            d.ids for d in plain
        ]
        model.scroll_find.bias.fill_(-5.0)
        kept = model.generate(*args, **kw, find=[facts, facts])
        assert [d.ids for d in kept] == [d.ids for d in plain]
        model.scroll_find.bias.fill_(5.0)
        model.verb[2].bias[VERBS.index("type")] = 40.0  # the verb is type: never asked
        asked.clear()
        typed = model.generate(*args, **kw, find=[facts, facts])
        assert not asked and all(_text(d.ids).startswith("type(") for d in typed)
