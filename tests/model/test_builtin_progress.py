"""The verb head's page progress facts: what the goal names on the page that no click reached yet.

Pages here are word lists and outlines as the OCR and ``proposals`` give them (CSS px), so each
case states exactly which click lies where; ``data.make_example`` and ``predict.Predictor`` call
the same function on what they read.
"""

from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from perception.builtin.config import ModelConfig
from perception.builtin.policy import N_STATE, prompt_state
from perception.builtin.progress import (
    N_PROGRESS,
    mark_progress,
    page_inputs,
    page_progress,
    progress_tokens,
    step_state,
)
from perception.builtin.reader import Word
from perception.builtin.train import PRESETS
from perception.builtin.words import (
    N_FEATURES,
    ON_OTHER,
    PENDING,
    REACHED,
    canvas_slots,
    feature_count,
    join_proposals,
    score_words,
)

CONFIG = PRESETS["full"].model
GOAL = 'Goal: Select "Auto update", Show avatars and "Gift wrap", then press Go.'


def _boxes_page() -> tuple[list[Word], list[Word]]:
    """Three checkboxes with labels to their right, a Go button, and a heading."""
    words = [Word("Preferences", 20, 10, 90, 18, 0.99)]
    outlines = []
    for i, label in enumerate(["Auto update", "Show avatars", "Gift wrap"]):
        y = 50 + 30 * i
        outlines.append(Word("", 20, y, 14, 14, 0.0))
        x = 42.0
        for piece in label.split():
            words.append(Word(piece, x, y - 2, 8 * len(piece), 18, 0.99))
            x += 8 * len(piece) + 6
    words.append(Word("Go", 30, 160, 16, 18, 0.99))
    outlines.append(Word("", 20, 154, 40, 30, 0.0))
    return words, outlines


def _facts(prompt: str, words: list[Word], outlines: list[Word] | None) -> dict[str, object]:
    scored = score_words(words, prompt, split_glyphs=True)
    f = page_progress(prompt, scored, outlines, CONFIG).tolist()
    on_page, reached, newest = progress_tokens(prompt, scored, outlines, CONFIG)
    return {
        "left": f[:4].index(1.0),
        "reached": f[4:8].index(1.0),
        "newest_any": f[8],
        "newest_last": f[9],
        "after": f[10:13],
        "on_page": on_page,
        "reached_tokens": reached,
        "newest_tokens": newest,
    }


def test_ticked_boxes_reach_their_labels_and_the_rest_is_left() -> None:
    words, outlines = _boxes_page()
    prompt = f"{GOAL}\nEarlier steps:\n1. click(x=27, y=57) -> ok\n2. click(x=27, y=87) -> ok"
    got = _facts(prompt, words, outlines)
    assert got["on_page"] == {"auto", "update", "show", "avatars", "gift", "wrap", "go"}
    assert got["reached_tokens"] == {"auto", "update", "show", "avatars"}
    assert got["newest_tokens"] == {"show", "avatars"}
    assert got["left"] == 3  # gift, wrap, go: "3 or more"
    assert got["reached"] == 3
    assert got["newest_any"] == 1.0 and got["newest_last"] == 0.0
    assert got["after"] == [0.0, 0.0, 1.0]  # gift, wrap and go are named after "show avatars"


def test_the_last_click_on_the_button_the_goal_names_last_leaves_nothing() -> None:
    words, outlines = _boxes_page()
    clicks = [(27, 57), (27, 87), (27, 117), (40, 169)]
    history = "\n".join(f"{i + 1}. click(x={x}, y={y}) -> ok" for i, (x, y) in enumerate(clicks))
    got = _facts(f"{GOAL}\nEarlier steps:\n{history}", words, outlines)
    assert got["left"] == 0
    assert got["newest_tokens"] == {"go"}
    assert got["newest_last"] == 1.0
    assert got["after"] == [1.0, 0.0, 0.0]


def test_the_word_named_last_opens_a_menu_and_what_waits_in_it_is_not_the_end() -> None:
    words = [Word("Payroll", 20, 10, 56, 18, 0.99)]
    outlines = [Word("", 14, 6, 80, 26, 0.0)]
    goal = 'Goal: Choose "Approve" from the Payroll menu.'
    prompt = f"{goal}\nEarlier steps:\n1. click(x=48, y=19) -> ok"
    shut = _facts(prompt, words, outlines)  # the menu closed again: nothing the goal names waits
    assert shut["left"] == 0 and shut["newest_tokens"] == {"payroll"}
    assert shut["newest_last"] == 1.0
    menu = [*words, Word("Approve", 24, 40, 60, 18, 0.99), Word("Pin", 24, 64, 24, 18, 0.99)]
    opened = _facts(prompt, menu, outlines)
    assert opened["left"] == 1 and opened["newest_tokens"] == {"payroll"}
    assert opened["newest_last"] == 0.0  # Payroll is named last, but Approve is left


def test_no_click_yet_and_a_click_on_nothing_reach_nothing() -> None:
    words, outlines = _boxes_page()
    fresh = _facts(GOAL, words, outlines)
    assert fresh["left"] == 3 and fresh["reached"] == 0 and fresh["newest_any"] == 0.0
    assert fresh["after"] == [0.0, 0.0, 0.0]
    missed = _facts(f"{GOAL}\n1. click(x=300, y=300) -> ok", words, outlines)
    assert missed["reached"] == 0 and missed["newest_any"] == 0.0


def test_a_scroll_forgets_the_clicks_before_it() -> None:
    words, outlines = _boxes_page()
    prompt = f"{GOAL}\n1. click(x=27, y=57) -> ok\n2. scroll(x=100, y=100, dx=0, dy=200) -> ok"
    assert _facts(prompt, words, outlines)["reached"] == 0


def test_a_line_that_repeats_the_goal_is_not_something_to_click() -> None:
    words, outlines = _boxes_page()
    echo = [
        Word(piece, 200 + 50 * i, 10, 45, 16, 0.95)
        for i, piece in enumerate(["Select", '"Auto', 'update",', "Show", "avatars"])
    ]
    clicks = "1. click(x=27, y=57) -> ok\n2. click(x=27, y=87) -> ok\n3. click(x=27, y=117) -> ok"
    got = _facts(f"{GOAL}\n{clicks}\n4. click(x=40, y=169) -> ok", words + echo, outlines)
    assert "select" not in got["on_page"]  # on the echo line only
    assert got["left"] == 0


def test_a_field_drawn_as_a_line_is_reached_through_its_typed_value() -> None:
    """No outline: the click right of the typed value on its line reaches the label above."""
    goal = "Goal: Fill in Job title with Petrov, then press Apply."
    words = [
        Word("Job", 22, 46, 19, 19, 0.98),
        Word("title", 50, 46, 36, 19, 0.98),
        Word("Petrov", 25, 69, 44, 19, 0.99),
        Word("Apply", 25, 95, 37, 22, 0.97),
    ]
    prompt = f"{goal}\n1. click(x=160, y=79) -> ok\n2. type(text='Petrov', submit=False) -> ok"
    got = _facts(prompt, words, [])
    assert "petrov" not in got["on_page"]  # typed, not something to click
    assert got["reached_tokens"] == {"job", "title"}
    assert got["on_page"] - got["reached_tokens"] == {"apply"}


def test_a_click_on_a_control_no_outline_found_reaches_the_label_right_of_it() -> None:
    """A switch the outline finder missed: the click on it hits no word and no outline."""
    words, _ = _boxes_page()
    got = _facts(f"{GOAL}\n1. click(x=27, y=87) -> ok", words, [])
    assert got["newest_tokens"] == {"show", "avatars"}
    far = _facts(f"{GOAL}\n1. click(x=-40, y=87) -> ok", words, [])
    assert far["newest_tokens"] == set()  # the label starts 80 px right of it: not its label


def test_step_state_adds_the_facts_only_to_a_model_that_reads_them() -> None:
    words, outlines = _boxes_page()
    scored = score_words(words, GOAL)
    with_facts = step_state(GOAL, scored, outlines, CONFIG)
    assert CONFIG.progress_state and with_facts.shape == (CONFIG.state_size,)
    assert CONFIG.state_size == N_STATE + N_PROGRESS
    assert torch.equal(with_facts[:N_STATE], prompt_state(GOAL))
    without = CONFIG.model_copy(update={"progress_state": False})
    assert torch.equal(step_state(GOAL, scored, outlines, without), prompt_state(GOAL))
    assert without.state_size == N_STATE


def test_mark_progress_flags_the_ticked_labels_and_their_outlines_only() -> None:
    """``reached_words``: the two ticked boxes' labels and outlines carry REACHED; "Gift wrap",
    its box and Go do not, so the pointer can tell the next box from the ticked ones."""
    words, outlines = _boxes_page()
    prompt = f"{GOAL}\nEarlier steps:\n1. click(x=27, y=57) -> ok\n2. click(x=27, y=87) -> ok"
    marked = mark_progress(prompt, score_words(words, prompt, split_glyphs=True), outlines, CONFIG)
    flagged = {w.text for w, f in marked if f[REACHED] == 1.0}
    assert flagged == {"Auto", "update", "Show", "avatars"}
    assert all(f[REACHED] == 0.0 for w, f in marked if w.text not in flagged)
    joined = join_proposals(outlines, marked, CONFIG)
    boxes = [f[REACHED] for w, f in joined if not w.text]
    assert boxes == [1.0, 1.0, 0.0, 0.0]  # the two ticked boxes, then Gift wrap's and Go's
    slots = canvas_slots(joined, (0, 0), CONFIG)
    assert slots.feats.shape[1] == feature_count(CONFIG) == ON_OTHER + 1  # the shipped parts
    assert slots.feats[:, REACHED].sum().item() == 6  # 2 outlines and their 4 words
    fresh = mark_progress(GOAL, score_words(words, GOAL), outlines, CONFIG)
    assert all(f[REACHED] == 0.0 for _, f in fresh)  # no click yet


def test_pending_marks_what_the_goal_names_after_an_unreached_word() -> None:
    """Two boxes ticked: "gift" is the earliest unreached token, so "wrap" (named after it),
    "Go" and the unnamed heading are pending, "Gift" is not; Gift wrap's box takes the min of
    its label's words (not pending), Go's outline its caption's (pending). Once Gift wrap is
    ticked too, only "go" is left and nothing the goal names waits on it."""
    words, outlines = _boxes_page()
    two = f"{GOAL}\n1. click(x=27, y=57) -> ok\n2. click(x=27, y=87) -> ok"
    marked = mark_progress(two, score_words(words, two, split_glyphs=True), outlines, CONFIG)
    pending = {w.text for w, f in marked if f[PENDING] == 1.0}
    assert pending == {"Preferences", "wrap", "Go"}
    joined = join_proposals(outlines, marked, CONFIG)
    assert [f[PENDING] for w, f in joined if not w.text] == [0.0, 0.0, 0.0, 1.0]
    three = f"{two}\n3. click(x=27, y=117) -> ok"
    marked = mark_progress(three, score_words(words, three, split_glyphs=True), outlines, CONFIG)
    assert {w.text for w, f in marked if f[PENDING] == 1.0} == {"Preferences"}
    done = f"{three}\n4. click(x=40, y=169) -> ok"
    marked = mark_progress(done, score_words(words, done), outlines, CONFIG)
    assert all(f[PENDING] == 0.0 for _, f in marked)  # nothing left


def test_a_scroll_clears_the_reached_flags() -> None:
    words, outlines = _boxes_page()
    prompt = f"{GOAL}\n1. click(x=27, y=57) -> ok\n2. scroll(x=100, y=100, dx=0, dy=200) -> ok"
    marked = mark_progress(prompt, score_words(words, prompt), outlines, CONFIG)
    assert all(f[REACHED] == 0.0 for _, f in marked)


def test_the_reached_flag_needs_the_goal_order_before_it() -> None:
    with pytest.raises(ValidationError, match="reached_words needs goal_order"):
        ModelConfig(reached_words=True)
    assert feature_count(ModelConfig(goal_order=True)) == N_FEATURES - 4


def _radio_page() -> tuple[list[Word], list[Word]]:
    """A radio group under a heading, as the OCR reads it (each button an "O"), and Done."""
    words = [Word("How", 25, 21, 32, 23, 0.99), Word("often?", 68, 21, 52, 23, 0.99)]
    outlines = []
    for y, label in ((44, "Never"), (68, "Twice a week"), (89, "Weekly")):
        words.append(Word("O", 26, y, 8, 20, 0.6))
        outlines.append(Word("", 23, y + 3, 15, 15, 0.0))
        x = 43.0
        for piece in label.split():
            words.append(Word(piece, x, y, 9 * len(piece), 20, 0.99))
            x += 9 * len(piece) + 8
    words.append(Word("Done", 29, 112, 33, 24, 0.99))
    outlines.append(Word("", 25, 114, 45, 19, 0.0))
    return words, outlines


def test_a_label_with_three_goal_tokens_is_no_echo_and_a_heading_holds_nothing_back() -> None:
    """ "O Twice a week" is four tokens, three of them the goal's, but only two goal words that
    count: a radio button's label, not the goal repeated, so the click on its button reaches it.
    The heading "How often?" is named before Done and never clicked: with outlines, only a
    control's words make later ones pending, so Done is next."""
    goal = 'Goal: Pick "Twice a week" under How often?, then click Done.'
    words, outlines = _radio_page()
    prompt = f"{goal}\n1. click(x=30, y=78) -> ok"
    got = _facts(prompt, words, outlines)
    assert got["reached_tokens"] == {"twice", "week"}
    assert got["on_page"] == {"twice", "week", "how", "often", "done"}
    marked = dict(
        (w.text, f) for w, f in mark_progress(prompt, score_words(words, prompt), outlines, CONFIG)
    )
    assert marked["Done"][PENDING] == 0.0 and marked["Twice"][REACHED] == 1.0
    assert marked["Never"][PENDING] == 1.0  # not named: after everything left
    bare = dict(
        (w.text, f) for w, f in mark_progress(prompt, score_words(words, prompt), None, CONFIG)
    )
    assert bare["Done"][PENDING] == 1.0  # without outlines every word on the page counts


def test_page_inputs_read_the_page_once_and_give_what_the_parts_give() -> None:
    """``page_inputs`` (what training and run time call) equals ``mark_progress`` and
    ``step_state`` called apart, and for a model reading neither, the words as scored."""
    words, outlines = _boxes_page()
    prompt = f"{GOAL}\n1. click(x=27, y=57) -> ok\n2. click(x=27, y=87) -> ok"
    scored = score_words(words, prompt, split_glyphs=True)
    marked, state, named, focus = page_inputs(prompt, scored, outlines, CONFIG)
    assert marked == mark_progress(prompt, scored, outlines, CONFIG)
    assert torch.equal(state, step_state(prompt, scored, outlines, CONFIG))
    on_page, _, newest = progress_tokens(prompt, scored, outlines, CONFIG)
    assert named == on_page and focus == newest == {"show", "avatars"}
    off = {"progress_state": False, "reached_words": False, "span_page": False}
    bare = CONFIG.model_copy(update=off)
    words_only, history, named, focus = page_inputs(prompt, scored, outlines, bare)
    assert words_only == scored and torch.equal(history, prompt_state(prompt))
    assert named == focus == frozenset()  # not read


def _form_page() -> tuple[list[Word], list[Word]]:
    """Two text fields, each with its label above it, and a Join button."""
    words, outlines = [], []
    for i, label in enumerate(["Office", "Full name"]):
        y = 40 + 70 * i
        x = 20.0
        for piece in label.split():
            words.append(Word(piece, x, y, 9 * len(piece), 18, 0.99))
            x += 9 * len(piece) + 6
        outlines.append(Word("", 20, y + 24, 240, 30, 0.0))
    words.append(Word("Join", 34, 196, 32, 18, 0.99))
    outlines.append(Word("", 20, 190, 64, 30, 0.0))
    # the task's instruction, wrapped (no line of it echoes the goal: 3 goal words on each)
    for y, line in ((10, "Fill in Office with"), (30, "Lisbon and Full name")):
        x = 300.0
        for piece in line.split():
            words.append(Word(piece, x, y, 9 * len(piece), 18, 0.99))
            x += 9 * len(piece) + 6
    return words, outlines


def test_the_focus_is_the_label_of_the_field_clicked_last_even_after_a_key() -> None:
    """``page_inputs``' focus (the span head's page flags read it): the tokens the latest click
    reached, a field's label through its outline, also when a key press came after the click
    (the newest step's click reaches nothing then); ``named`` holds the labels and the button,
    not a value the page's instruction text shows."""
    words, outlines = _form_page()
    goal = "Goal: Fill in Office with Lisbon and Full name with Samir Mendes, then press Join."
    for history, focus in [
        ("", set()),
        ("\n1. click(x=120, y=80) -> ok\n2. key(keys='Control+a') -> ok", {"office"}),
        ("\n1. click(x=120, y=80) -> ok\n2. type(text='Lisbon', submit=False) -> ok"
         "\n3. click(x=120, y=150) -> ok", {"full", "name"}),
    ]:  # fmt: skip
        prompt = goal + history
        read = page_inputs(prompt, score_words(words, prompt), outlines, CONFIG)
        assert read.named == {"office", "full", "name", "join"}
        assert read.focus == focus, history


def test_a_compact_forms_stacked_labels_are_no_echo() -> None:
    """Labels and placeholders a few px apart make a block of lines with four goal words, but
    no function word: they stay on the page (held-out h_typing's "Nickname / Nickname / Full
    name / Full name / Join")."""
    words = []
    for y, text in ((61, "Nickname"), (82, "Nickname"), (104, "Full name"), (124, "Full name"),
                    (147, "Join")):  # fmt: skip
        x = 14.0
        for piece in text.split():
            words.append(Word(piece, x, y, 9 * len(piece), 18, 0.99))
            x += 9 * len(piece) + 6
    prompt = 'Goal: Fill in Nickname with Marco and Full name with Yosef Varga, then press "Join".'
    read = page_inputs(prompt, score_words(words, prompt), None, CONFIG)
    assert read.named == {"nickname", "full", "name", "join"}


def test_an_instructions_last_line_goes_with_the_echo_line_above_it() -> None:
    """MiniWoB++ use-autocomplete, 160 px wide: "Enter an item that starts with" is a line that
    echoes the goal, and '"Guer".' below it, alone, is not; as one block they are the goal
    in prose, so the value is not named on the page (the span head would take it for a
    label and type "starts")."""
    words = [
        Word(t, x, 0, 8 * len(t), 10, 0.99)
        for t, x in (("Enter", 4), ("an", 31), ("item", 42), ("that", 65), ("starts", 84),
                     ("with", 113))
    ]  # fmt: skip
    words += [Word('"Guer".', 1, 11, 40, 10, 0.99), Word("Tags:", 9, 60, 30, 10, 0.99)]
    words.append(Word("Submit", 38, 105, 40, 12, 0.99))
    prompt = 'Goal: Enter an item that starts with "Guer".'
    read = page_inputs(prompt, score_words(words, prompt), None, CONFIG)
    assert read.named == frozenset()
