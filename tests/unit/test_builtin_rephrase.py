"""Goals said in other words for training: the values and labels a goal is about never change."""

from __future__ import annotations

import random
import re

from perception.builtin.rephrase import CASE_SAID, recase, rephrase
from perception.builtin.spans import value_spans

GOALS = [
    ("Goal: Sign in as yara76 with the password n1eyLa2.", ("yara76", "n1eyLa2")),
    ("Goal: Log in with username xavier95 and password SlKH89jpq.", ("xavier95", "SlKH89jpq")),
    ("Goal: Use the account zoe3 (password UhvkcRu1) to sign in.", ("zoe3", "UhvkcRu1")),
    ('Goal: Fill the input field with "library" and hit "Continue".', ("library", "Continue")),
    ('Goal: Type "Seville" into the first box and click "Apply".', ("Seville", "Apply")),
    ("Goal: Put Nairobi in the text field, then press Submit.", ("Nairobi", "Submit")),
    ('Goal: Fill in "Zip code" with 61176, then press Update.', ("Zip code", "61176", "Update")),
    ("Goal: Type riga in the search box and press Enter.", ("riga",)),
    ("Goal: Click inside the second text box.", ()),
]


def test_rephrasing_keeps_every_value_and_label() -> None:
    rng = random.Random(0)
    changed = 0
    for goal, keep in GOALS:
        for _ in range(30):
            said = rephrase(goal + "\n1. click(3, 4) -> ok", rng)
            first, history = said.split("\n")
            assert history == "1. click(3, 4) -> ok"
            assert first.startswith("Goal: ")
            for value in keep:
                assert value_spans(first.encode(), value.encode()), (value, first)
            changed += int(first != goal)
    assert changed > 100  # it does say things differently


def test_rephrasing_speaks_the_words_the_templates_lack() -> None:
    rng = random.Random(1)
    said = {rephrase(g, rng) for g, _ in GOALS for _ in range(40)}
    text = "\n".join(said)
    for phrase in ("Enter ", "Input ", "Enter the username", "the 2nd ", "Focus on "):
        assert phrase in text, phrase
    # "press Enter" is a key: never turned into a button click
    assert not re.search(r"(click|hit) Enter\b", text)
    # Putting the cursor somewhere is not typing
    assert rephrase("Goal: Put the cursor in the box.", rng) == "Goal: Put the cursor in the box."


def test_rephrasing_is_reproducible_and_leaves_other_lines_alone() -> None:
    prompt = "Goal: Type Oslo into the box and click Go.\nURL: http://x/\nTitle: Type here"
    a = [rephrase(prompt, random.Random(7)) for _ in range(2)]
    assert a[0] == a[1]
    assert a[0].split("\n")[1:] == ["URL: http://x/", "Title: Type here"]


def test_recase_asks_for_other_letter_case_and_types_it() -> None:
    rng = random.Random(0)
    prompt = (
        'Goal: Type "Paris" into the box and click Go.\nEarlier steps:\n1. click(x=3, y=4) -> ok'
    )
    seen = set()
    for _ in range(40):
        got = recase(prompt, 'type("Paris", submit=true)', rng)
        assert got is not None
        said, target = got
        goal, rest = said.split("\n", 1)
        assert rest == prompt.split("\n", 1)[1]  # the history is left alone
        typed = target.removeprefix('type("').split('"')[0]
        assert target.endswith('", submit=true)') and typed in ("PARIS", "paris")
        asked = "upper" if typed == "PARIS" else "lower"
        assert any(f" {how}" in goal for how in CASE_SAID[asked]), goal
        assert typed not in goal and typed.lower() in goal.lower()  # shown in another case
        assert goal.endswith("into the box and click Go.")
        seen.add(typed)
    assert seen == {"PARIS", "paris"}
    # a value in small letters is asked for in small letters about as often as in capitals
    # (shown in another case then): the goal's words, not the value, tell which
    small = 'Goal: Type "paris" into the box.'
    answers = [recase(small, 'type("paris")', random.Random(i)) for i in range(200)]
    lower = [a for a in answers if a is not None and a[1] == 'type("paris")']
    assert 60 < len(lower) < 140, len(lower)
    assert all("paris" not in a[0] and any(h in a[0] for h in CASE_SAID["lower"]) for a in lower)
    # not a typing step; no letters; twice in the goal; typed already (the history says so)
    assert recase(prompt, "click(3, 4)", rng) is None
    assert recase("Goal: Put 1234 in the box.", 'type("1234")', rng) is None
    assert recase("Goal: Put ana in, ana!", 'type("ana")', rng) is None
    typed_before = "Goal: Put ana in both.\n1. type(text='ana', submit=False) -> ok"
    assert recase(typed_before, 'type("ana")', rng) is None
