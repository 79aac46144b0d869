"""Typed values as spans of the goal: the candidates, the training labels, and a tiny model whose
span head learns to pick a value it never saw (names held out of its training goals).

The model is miniature and trained on the spot; no shipped weights.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import replace

import pytest
import torch
from PIL import Image

from perception.builtin.config import ModelConfig
from perception.builtin.data import (
    Crop,
    Example,
    collate,
    prompt_ids,
    prompt_page_flags,
    to_canvas,
)
from perception.builtin.grammar import ActionGrammar
from perception.builtin.model import GazeVLM
from perception.builtin.policy import VERBS
from perception.builtin.progress import step_state
from perception.builtin.spans import (
    N_PAGE_FLAGS,
    candidate_spans,
    case_spans,
    goal_end,
    page_flags,
    position_flags,
    typed_value,
    value_spans,
    whole_phrase,
)
from perception.builtin.tokenizer import BOS, PAD, decode_bytes, encode_target
from perception.builtin.train import PRESETS, widen
from perception.builtin.words import canvas_slots, score_words, stack_slots

TINY = PRESETS["tiny"].model
PROMPT = b'Goal: Sign in as ana7 (password "x Y.z"), then press Go.\n1. type("ana7") -> ok'


def _texts(text: bytes) -> set[bytes]:
    return {text[s:e] for s, e in candidate_spans(text)}


def test_candidates_are_quoted_spans_and_word_runs_of_the_goal_only() -> None:
    got = _texts(PROMPT)
    assert {b"x Y.z", b"ana7", b"password", b"Go", b"Sign in as ana7", b'password "x'} - got == {
        b'password "x'  # a run with a quote in it would need escaping: left out
    }
    assert b"ana7 (password" in got  # inner punctuation stays, only the ends are trimmed
    assert not any(t.split()[0] in (b"as", b"then") for t in got)  # no run starts with "as"
    assert not any(b"type" in t or t == b"ok" for t in got)  # the history line is not the goal
    assert goal_end(PROMPT) == PROMPT.index(b"\n1. ")
    assert max(len(t) for t in got) <= 40
    fill = _texts(b"Goal: Fill in Team name with 50101, then press Go.")
    assert b"50101" in fill and b"with 50101" not in fill and b"name with" not in fill
    assert b"The Hobbit" in _texts(b'Goal: Search for "The Hobbit" in the box.')  # quoted: whole
    long = b"Goal: Type " + b"w" * 50 + b" now"
    assert b"w" * 50 not in _texts(long) and b"now" in _texts(long)


def test_value_spans_label_only_the_goal() -> None:
    assert [PROMPT[s:e] for s, e in value_spans(PROMPT, b"ana7")] == [b"ana7"]
    assert value_spans(PROMPT, b"ana7")[0][0] == PROMPT.index(b"ana7")
    assert value_spans(PROMPT, b"nowhere") == []
    assert typed_value('type("ana7", submit=true)') == b"ana7"
    assert typed_value('type("a \\"b\\"")') is None  # escapes: not a plain span
    assert typed_value("click(3, 4)") is None


def _example(goal: str, value: str, config: ModelConfig = TINY, *, submit: bool = False) -> Example:
    canvas = to_canvas(Image.new("RGB", (8, 8), "white"), Crop(0, 0, 1.0), config.canvas)
    slots = canvas_slots(score_words([], goal), (0, 0), config)
    target = encode_target(f'type("{value}"{", submit=true" if submit else ""})')
    return Example(canvas, prompt_ids(goal, config), slots, list(target.ids), [], [], [],
                   state=step_state(goal, score_words([], goal), None, config))  # fmt: skip


def test_collate_marks_where_the_value_starts_and_ends() -> None:
    a = _example('Goal: Put "Lena" in it.\n1. type("Lena") -> ok', "Lena")
    b = _example("Goal: Press Go.", "Go")  # copyable
    c = _example("Goal: Press Go.", "Stop")  # not in the goal: no label
    batch = collate([a, b, c], TINY)
    assert batch["span_query"].tolist() == [5, 5, -1]  # the quote of type("
    p = batch["prompts"]
    for row, value in ((0, "Lena"), (1, "Go")):
        (s,) = batch["span_start"][row].nonzero().flatten().tolist()
        (e,) = batch["span_end"][row].nonzero().flatten().tolist()
        assert decode_bytes(p[row, s:e].tolist()) == value
    assert not batch["span_start"][2].any() and not batch["span_end"][2].any()
    # the submit head's labels: where the value's closing quote is, copyable or not
    d = _example("Goal: Type Lena and press Enter.", "Lena", submit=True)
    e = _example("Goal: Press Go.", "Stop", submit=True)
    labels = collate([a, d, e, _example("Goal: Go.", "", submit=True)], TINY)
    assert labels["span_close"].tolist() == [10, 10, 10, -1]  # type("Lena" / type("Stop"
    assert labels["span_submit"].tolist() == [False, True, True, False]


NAMES = ["ana", "bo", "cyra", "dov", "eli", "fay", "gus", "hal", "ivo", "jun", "kai", "lua"]
FORMS = ("Goal: Type {v} in the box.", "Goal: Enter {v} now, then Go.", 'Goal: Put "{v}" in.')


def _batch(n: int, seed: int, names: list[str]) -> list[Example]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        v = rng.choice(names)
        out.append(_example(rng.choice(FORMS).format(v=v), v))
    return out


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Training on several CPU threads is not bit-reproducible (the order of parallel sums), and
    a 150-step toy model can end on either side of its bar; on one thread it is the same every
    run."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("one_thread")
def test_a_tiny_span_head_learns_to_type_values_it_never_saw() -> None:
    torch.manual_seed(0)
    model = GazeVLM(TINY)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    train, unseen = NAMES[:8], NAMES[8:]
    for step in range(120):
        batch = collate(_batch(16, step, train), TINY)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, parts = model.loss(**batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert parts["span"] < 0.5
    model.eval()
    grammar = ActionGrammar(["type"])
    right = 0
    tests = [(f.format(v=v), v) for f in FORMS for v in unseen]
    for goal, value in tests:
        ex = _example(goal, value)
        prompt = torch.tensor([ex.prompt])
        out = model.generate(ex.image[None], prompt, stack_slots([ex.words]), 40, grammar)[0]
        text = decode_bytes(out.ids)
        right += int(text.startswith(f'type("{value}"'))
        # whatever the weights, the value is one of the goal's spans
        said = typed_value(text)
        assert said is not None and said in _texts(goal.encode())
    assert right >= len(tests) - 2, f"{right}/{len(tests)} unseen values typed right"


def test_case_spans_label_a_value_the_goal_writes_in_other_case() -> None:
    goal = b"Goal: Type agustina in capital letters and press Go.\n1. type(text='ANA') -> ok"
    found, fits = case_spans(goal, b"AGUSTINA")
    assert [goal[s:e] for s, e in found] == [b"agustina"] and fits == (False, True, False)
    assert case_spans(goal, b"agustina")[1] == (True, False, True)  # as written, or lower
    assert case_spans(goal, b"Go")[1] == (True, False, False)
    assert case_spans(goal, b"ANA") == ([], (False, False, False))  # the history's, not the goal's
    assert case_spans(goal, b"AGUSTINO") == ([], (False, False, False))


CASE_FORMS = (
    ("Goal: Type {v} in capital letters.", str.upper),
    ("Goal: Enter {v} in lower case, then Go.", str.lower),
    ("Goal: Type {v} in the box.", str),
)


@pytest.mark.usefixtures("one_thread")
def test_a_tiny_case_head_learns_upper_and_lower_case() -> None:
    """``span_case``: the span head picks the value, the case head its letters; on names it
    never saw, written in any case."""
    torch.manual_seed(0)
    config = TINY.model_copy(update={"span_case": True})
    model = GazeVLM(config)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    rng = random.Random(0)

    def example(form: str, case: object, v: str) -> Example:
        shown = rng.choice((v, v.upper(), v.capitalize()))
        return _example(form.format(v=shown), case(shown), config)  # type: ignore[operator]

    for _ in range(150):
        exs = [example(*rng.choice(CASE_FORMS), rng.choice(NAMES[:8])) for _ in range(16)]
        batch = collate(exs, config)
        assert batch["span_case"].any(1).all()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, _ = model.loss(**batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    grammar = ActionGrammar(["type"])
    right, tests = 0, 0
    for form, case in CASE_FORMS:
        for v in NAMES[8:]:
            for shown in (v, v.upper()):
                ex = _example(form.format(v=shown), "x", config)
                out = model.generate(ex.image[None], torch.tensor([ex.prompt]),
                                     stack_slots([ex.words]), 40, grammar)[0]  # fmt: skip
                right += int(decode_bytes(out.ids).startswith(f'type("{case(shown)}"'))
                tests += 1
    assert right >= tests - 3, f"{right}/{tests} typed in the right case"


def test_position_flags_mark_typed_values_and_quotes_in_the_goal() -> None:
    text = (
        b'Goal: Log in as "ana7" with password xY.\n'
        b"1. click(x=3, y=4) -> ok\n2. type(text='ana7', submit=False) -> ok"
    )
    flags = position_flags(text)
    assert len(flags) == len(text)
    typed = bytes(text[i] for i, (t, _) in enumerate(flags) if t)
    quoted = bytes(text[i] for i, (_, q) in enumerate(flags) if q)
    assert typed == b"ana7" and quoted == b"ana7"  # the goal's copy only, not the history's
    assert not any(t for t, _ in position_flags(b"Goal: Log in as ana7."))


def test_span_flags_start_silent() -> None:
    """Weights trained without the flags' vote give the same span scores with it added."""
    torch.manual_seed(0)
    plain = GazeVLM(TINY.model_copy(update={"span_flags": False}))
    flagged = GazeVLM(TINY)
    missing, unexpected = flagged.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("span_flag.") for k in missing) and missing
    prompt = torch.tensor([prompt_ids("Goal: Put \"x\" in.\n1. type(text='x') -> ok", TINY)])
    q, keys = torch.randn(1, TINY.width), torch.randn(1, prompt.shape[1], TINY.width)
    for a, b in zip(
        plain.span_logp(q, keys, prompt), flagged.span_logp(q, keys, prompt), strict=True
    ):
        assert torch.equal(a, b)


def test_page_flags_mark_labels_and_the_words_beside_the_field_in_focus() -> None:
    """Per goal byte: own word / word before / word after (function words skipped), each as
    (on the page, reached by the latest click), then whether the word starts and ends a phrase;
    nothing in the history lines."""
    text = (
        b'Goal: Fill in Office with Lisbon and "Full name" with Samir Mendes, then press Join.\n'
        b"1. click(x=3, y=4) -> ok"
    )
    flags = page_flags(text, {"office", "full", "name", "join"}, {"office"})
    assert len(flags) == len(text) and len(flags[0]) == N_PAGE_FLAGS

    def at(word: bytes) -> tuple[float, ...]:
        i = text.index(word)
        assert len({flags[k] for k in range(i, i + len(word))}) == 1  # the same on every byte
        return flags[i]

    assert at(b"Lisbon") == (0, 0, 1, 1, 1, 0, 1, 1)  # after Office (in focus), before "Full
    assert at(b"Office") == (1, 1, 0, 0, 0, 0, 1, 1)  # "Fill" and "Lisbon" are not on the page
    assert at(b"Samir") == (0, 0, 1, 0, 0, 0, 1, 0)  # a phrase starts, "Mendes," ends it
    assert at(b"Mendes") == (0, 0, 0, 0, 0, 0, 0, 1)  # "press" is not on the page either
    assert at(b"with") == (0, 0, 1, 1, 0, 0, 0, 0)  # a function word: nothing of its own
    assert at(b"Fill") == (0, 0, 0, 0, 1, 1, 1, 1)  # after "Goal:", before "in" and Office
    assert at(b"Goal") == (0,) * 6 + (1, 1)
    assert not any(any(f) for f in flags[text.index(b"1. click") :])
    assert not any(any(f[:6]) for f in page_flags(text, set(), set()))  # the phrase stays


def test_collate_left_pads_the_page_facts_with_the_prompts() -> None:
    a = _example("Goal: Fill in Office with Lisbon.", "Lisbon")
    a = replace(a, span_page=prompt_page_flags(a.prompt, {"office"}, {"office"}))
    b = _example("Goal: Go.", "Go")  # made without them: zeros
    batch = collate([a, b], TINY)
    sp, p = batch["span_page"], batch["prompts"]
    assert sp.shape == (*p.shape, N_PAGE_FLAGS) and not sp[1].any()
    row = bytes(t if t < 256 else 0 for t in p[0].tolist())
    at = row.index(b"Lisbon")
    assert sp[0, at].tolist() == [0, 0, 1, 1, 0, 0, 1, 1]  # after Office, the one in focus
    assert sp[0, row.index(b"Office")].tolist()[:2] == [1, 1]
    assert not sp[0, at + len(b"Lisbon.") :].any() and not sp[0, : row.index(b"Goal")].any()


def test_span_page_votes_start_silent_and_can_move_the_start() -> None:
    """Weights trained without the page facts (``--init`` widens ``span_flag`` with zero rows)
    give the same span scores; a vote on a page fact moves the start towards the bytes it marks."""
    torch.manual_seed(0)
    plain = GazeVLM(TINY.model_copy(update={"span_page": False}))
    paged = GazeVLM(TINY.model_copy(update={"span_page": True}))
    state = plain.state_dict()
    target = paged.state_dict()
    assert widen(state, target) == ["span_flag.weight", "span_flag.bias"]
    paged.load_state_dict(state)
    text = "Goal: Fill in Office with Lisbon.\n1. click(x=3, y=4) -> ok"
    prompt = torch.tensor([prompt_ids(text, TINY)])
    flags = prompt_page_flags(prompt[0].tolist(), {"office"}, {"office"})[None]
    rng = torch.Generator().manual_seed(0)  # draws the models' construction does not move
    q = torch.randn(1, TINY.width, generator=rng)
    keys = torch.randn(1, prompt.shape[1], TINY.width, generator=rng)
    silent = paged.span_logp(q, keys, prompt, flags)
    for a, b in zip(plain.span_logp(q, keys, prompt), silent, strict=True):
        assert torch.equal(a, b)
    with torch.no_grad():  # start: +8 where the word before is in focus
        assert paged.span_flag is not None
        paged.span_flag.bias[4 + 3] = 8.0  # [start, end] x N_PAGE_FLAGS: before, in focus
    start, _ = paged.span_logp(q, keys, prompt, flags)
    marked = flags[0, :, 3] > 0  # the bytes after "Office" (in focus): "with" and "Lisbon"
    base = prompt[0].tolist().index(BOS) + 1
    assert marked[base + text.index("Lisbon")] and not marked[base + text.index("Fill")]
    assert marked[int(start[0].argmax())]
    mass = float(start[0][marked].exp().sum().detach())
    assert mass > float(silent[0][0][marked].exp().sum().detach()) + 0.5


def test_the_compact_prompt_keeps_what_was_typed_when_the_history_does_not_fit() -> None:
    from perception.builtin.data import compact_prompt

    goal = 'Goal: Enter the username "nathalie" and the password "fzzq", then press login.'
    history = [
        "1. click(x=71, y=88) -> ok",
        "2. type(text='nathalie', submit=False) -> ok",
        "3. click(x=61, y=140) -> ok",
    ]
    full = "\n".join([goal, "Earlier steps:", *history])
    assert compact_prompt(full, 4096) == "\n".join([goal, *history])
    short = compact_prompt(full, len(goal) + len(history[1]) + len(history[2]) + 2)
    assert short == "\n".join([goal, history[1], history[2]])  # the older click gives way
    assert compact_prompt(full, len(goal) + len(history[1]) + 1) == "\n".join([goal, history[1]])


def test_goal_words_hash_the_goal_only() -> None:
    from perception.builtin.model import goal_words

    def row(text: str) -> list[int]:
        return prompt_ids(text, TINY)

    a = "Goal: Type ana in capital letters.\n1. type(text='lower') -> ok"
    b = "Goal: type ANA in Capital letters!"
    width = max(len(row(a)), len(row(b)))
    ids = torch.tensor([[PAD] * (width - len(row(t))) + row(t) for t in (a, b)])
    bow = goal_words(ids, 64)
    assert bow.shape == (2, 64) and torch.allclose(bow[0], bow[1])  # case and punctuation aside
    assert torch.allclose(bow.norm(dim=1), torch.ones(2))
    alone = goal_words(torch.tensor([row("Goal: Type ana in capital letters.")]), 64)
    assert torch.equal(alone[0], bow[0])  # "lower" of the history line is not counted


def _whole(goal: bytes, value: bytes) -> bytes:
    s = goal.index(value)
    a, b = whole_phrase(goal, s, s + len(value))
    return goal[a:b]


def test_a_value_runs_on_to_the_end_of_its_phrase() -> None:
    """``whole_phrase``: up to the next function word, punctuation, quote or bracket, four
    words at most; a quoted value and one at a phrase's end stay as they are."""
    form = b'Goal: Fill in "Full name" with Samir Varga and Team name with Amara, then press Go.'
    assert _whole(form, b"Samir") == b"Samir Varga"
    assert _whole(form, b"Amara") == b"Amara" and _whole(form, b"Samir Varga") == b"Samir Varga"
    assert _whole(b"Goal: Type smart watch in the search box.", b"smart") == b"smart watch"
    assert _whole(b"Goal: Search for Phone charger.", b"Phone") == b"Phone charger"
    assert _whole(b"Goal: Use the account paula2 (password qoPx).", b"paula2") == b"paula2"
    assert _whole(b'Goal: Type "Yosef Lee" now.', b"Yosef") == b"Yosef"  # quoted: as chosen
    assert _whole(b"Goal: Type u v w x y z", b"u") == b"u v w x"  # MAX_WORDS
    assert _whole(b"Goal: Enter ivo now, then Go.", b"ivo") == b"ivo"  # AFTER_VALUE
    history = b"Goal: Type Lisbon\n1. click(x=1, y=2) -> ok"
    assert _whole(history, b"Lisbon") == b"Lisbon"  # the history is no part of the phrase


def test_decoding_carries_a_value_to_its_phrase_end_with_whole_phrase_only() -> None:
    """``GazeVLM._whole``: with ``ModelConfig.whole_phrase`` the chosen span runs on when the
    longer span is a candidate too; without it, or when it is not, the span stays."""
    text = b"Goal: Type smart watch in the box."
    spans = candidate_spans(text)
    smart = (text.index(b"smart"), text.index(b"smart") + 5)
    on = GazeVLM(TINY.model_copy(update={"whole_phrase": True}))
    off = GazeVLM(TINY.model_copy(update={"whole_phrase": False}))
    a, b = on._whole(text, smart, spans)
    assert text[a:b] == b"smart watch"
    assert off._whole(text, smart, spans) == smart
    assert on._whole(text, smart, [smart]) == smart  # "smart watch" is no candidate here


SUBMIT_FORMS = (
    ("Goal: Type {v} in the box and press Enter.", True),
    ("Goal: Enter {v} in the box, then click Go.", False),  # "Enter" that is not the key
    ("Goal: Enter {v} and hit enter.", True),
    ("Goal: Type {v}, then press Go.", False),
)


@pytest.mark.usefixtures("one_thread")
def test_a_tiny_submit_head_learns_when_to_press_enter() -> None:
    """``span_submit``: after the value's closing quote the head alone writes the rest, ``,
    submit=true)`` or ``)``; it tells "press Enter" from "Enter ... then click Go" on names it
    never saw. At its zero start it never presses Enter."""
    torch.manual_seed(0)
    config = TINY.model_copy(update={"span_submit": True, "submit_words": 64})
    model = GazeVLM(config)
    grammar = ActionGrammar(["type"])

    def answer(goal: str) -> str:
        ex = _example(goal, "x", config)
        out = model.generate(ex.image[None], torch.tensor([ex.prompt]),
                             stack_slots([ex.words]), 40, grammar)[0]  # fmt: skip
        return decode_bytes(out.ids)

    model.eval()
    assert answer("Goal: Type ivo and press Enter.").endswith('")')  # zero start: no Enter
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    rng = random.Random(0)
    for _ in range(120):
        exs = []
        for _ in range(16):
            (form, press), v = rng.choice(SUBMIT_FORMS), rng.choice(NAMES[:8])
            exs.append(_example(form.format(v=v), v, config, submit=press))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, parts = model.loss(**collate(exs, config))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert parts["submit"] < 0.3
    model.eval()
    right = 0
    for form, press in SUBMIT_FORMS:
        for v in NAMES[8:]:
            text = answer(form.format(v=v))
            # closed, whichever span the tiny span head picked (its own tests check those)
            assert text.startswith('type("') and text.endswith(('")', '", submit=true)')), text
            right += int(text.endswith(", submit=true)") == press)
    # a head that never (or always) presses Enter gets 8; seeds 0-5 get 14 to 16
    assert right >= len(SUBMIT_FORMS) * len(NAMES[8:]) - 2, f"{right} submit flags right"


def test_goal_words_pairs() -> None:
    from perception.builtin.model import goal_words

    def bow(text: str, pairs: bool) -> torch.Tensor:
        return goal_words(torch.tensor([prompt_ids(text, TINY)]), 1024, pairs=pairs)[0]

    enter = "Goal: Enter ana, press go."
    press = "Goal: Enter go, press ana."  # the same words, other neighbours
    assert torch.equal(bow(enter, False), bow(press, False))
    assert not torch.equal(bow(enter, True), bow(press, True))
    assert int((bow(enter, True) > 0).sum()) == 5 + 4  # five words, four pairs


def test_typing_misses_by_kind() -> None:
    from perception.builtin.spans import typing_miss

    want = 'type("Lena", submit=true)'
    assert typing_miss('type("Lena", submit=true) ', want) == "exact"
    assert typing_miss('type("Lena")', want) == "Enter"
    assert typing_miss('type("LENA", submit=true)', want) == "case"
    assert typing_miss('type("hit", submit=true)', want) == "value"
    assert typing_miss("click(3, 4)", want) == "action"
    assert typing_miss('type("a \\"b\\"")', want) == "action"  # escapes: not a plain value


def test_a_submit_head_with_no_word_buckets_reads_the_state_alone() -> None:
    config = TINY.model_copy(update={"span_submit": True, "submit_words": 0})
    model = GazeVLM(config).eval()
    ex = _example("Goal: Type ivo and press Enter.", "ivo", config)
    out = model.generate(ex.image[None], torch.tensor([ex.prompt]), stack_slots([ex.words]), 40,
                         ActionGrammar(["type"]))[0]  # fmt: skip
    assert decode_bytes(out.ids).endswith('")')  # zero start: no Enter
    assert model.submit is not None and model.submit.in_features == config.width


def test_the_tiles_of_a_page_type_one_value() -> None:
    """Rows of one page group (the same prompt, other crops) type the value whose span
    log-probabilities, averaged over the rows, are highest: all the same value."""
    from tests.model.test_builtin_policy import _steps

    torch.manual_seed(2)
    model = GazeVLM(TINY).eval()
    assert model.verb is not None
    one = _steps(1, seed=5)[0]
    noise = torch.rand_like(one.image)  # (the seed above makes it, and the model, the same)
    rows = [one, replace(one, image=one.image.flip(-1)), replace(one, image=noise)]
    batch = collate(rows, TINY)
    args = (batch["images"], batch["prompts"], batch["words"], 30, ActionGrammar(["type"]))
    kw = dict(marks=batch["marks"], state=batch["state"])
    with torch.no_grad():
        model.verb[2].bias[VERBS.index("type")] = 40.0
        alone = {decode_bytes(d.ids) for d in model.generate(*args, **kw)}  # type: ignore[arg-type]
        page = {decode_bytes(d.ids) for d in model.generate(*args, **kw, groups=[0, 0, 0])}  # type: ignore[arg-type]
    assert len(page) == 1 and all(t.startswith('type("') for t in page | alone)
    assert len(alone) > 1  # each row alone chose its own
