"""The built-in model's reading aid: OCR words from pixels, word slots and their goal features, and a
tiny model that learns to point at the word the goal names.

The OCR is the real PP-OCR (rapidocr-onnxruntime) reading text drawn with the Liberation fonts that
Debian's chromium package installs; the model is miniature and trained on the spot.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from perception.builtin.config import ModelConfig
from perception.builtin.data import Crop, Example, collate, pointer_label, prompt_ids, to_canvas
from perception.builtin.model import GazeVLM
from perception.builtin.reader import Word, read_words, words_from_line
from perception.builtin.tokenizer import encode_target
from perception.builtin.train import PRESETS
from perception.builtin.words import (
    canvas_slots,
    echo_goal,
    feature_count,
    goal_tokens,
    score_words,
    stack_slots,
)

TINY = PRESETS["tiny"].model
FONT = Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(str(FONT), size) if FONT.is_file() else ImageFont.load_default(size)


def _train(make: Callable[[int, int], list[Example]], steps: int) -> GazeVLM:
    """A tiny model trained on fresh batches of ``make(16, seed=step)``, in eval mode."""
    torch.manual_seed(0)
    model = GazeVLM(TINY)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    for step in range(steps):
        batch = collate(make(16, step), TINY)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss, _ = model.loss(**batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


def test_a_line_is_cut_into_words_at_spaces() -> None:
    chars = list("Log in now")
    quads = [
        [[i * 6, 10], [i * 6 + 5, 10], [i * 6 + 5, 26], [i * 6, 26]] for i in range(len(chars))
    ]
    box = [[0, 8], [60, 8], [60, 28], [0, 28]]
    words = words_from_line(box, "Log in now", (quads, chars), 0.9)
    assert [w.text for w in words] == ["Log", "in", "now"]
    assert words[1].x == 24 and words[1].w == 11  # from the first to the last character's edge
    assert all(w.y == 8 and w.h == 20 for w in words)  # a line's words share y and h
    assert [w.text for w in words_from_line(box, " Alone ", None, 0.5)] == ["Alone"]


def test_ocr_reads_words_and_where_they_are() -> None:
    img = Image.new("RGB", (320, 120), "white")
    d = ImageDraw.Draw(img)
    d.text((20, 20), "Sign in", fill="black", font=_font(18))
    d.rectangle((170, 60, 290, 100), fill=(30, 90, 200))
    d.text((190, 70), "Cancel", fill="white", font=_font(18))
    words = read_words(img)
    by_text = {w.text: w for w in words}
    assert {"Sign", "in", "Cancel"} <= set(by_text), words
    cx, cy = by_text["Cancel"].center
    assert 185 <= cx <= 260 and 65 <= cy <= 95
    cx, cy = by_text["Sign"].center
    assert 15 <= cx <= 65 and 15 <= cy <= 45
    assert read_words(img) is words  # the same screen is read once


def test_a_changed_screen_reads_only_its_changed_lines_again() -> None:
    """The next step's screen (one field now filled) is read with the unchanged lines from the
    line cache: only the new line goes through the recogniser, and the words equal a cold read."""
    from perception.builtin import reader

    def screen(typed: str) -> Image.Image:
        img = Image.new("RGB", (320, 160), "white")
        d = ImageDraw.Draw(img)
        d.text((20, 15), "Enter your name below", fill="black", font=_font(16))
        d.rectangle((20, 50, 220, 80), outline=(120, 120, 120))
        if typed:
            d.text((26, 55), typed, fill="black", font=_font(16))
        d.text((20, 110), "Submit", fill="black", font=_font(16))
        return img

    reader.clear_cache()
    first = read_words(screen(""))
    engine = reader._get_engine()
    asked: list[int] = []
    recognise = engine.text_rec.recognise

    def spy(crops: list[object], word_box: bool = False) -> object:
        asked.append(len(crops))
        return recognise(crops, word_box)

    engine.text_rec.recognise = spy
    try:
        reader.clear_cache(lines=False)  # a new screen, the same lines
        again = read_words(screen(""))
        filled = read_words(screen("Marta"))
    finally:
        engine.text_rec.recognise = recognise
    assert [w.text for w in again] == [w.text for w in first]
    assert asked == [1], asked  # nothing for the same screen; the filled field's line only
    reader.clear_cache()
    cold = read_words(screen("Marta"))
    assert [w.text for w in filled] == [w.text for w in cold] and "Marta" in {w.text for w in cold}
    for a, b in zip(filled, cold, strict=True):  # the detector may frame a line a pixel off,
        # which may move a word's edge by one recogniser step (8 px of its 48 px high input)
        step = 8 * b.h / reader.REC_HEIGHT
        assert abs(a.x - b.x) <= step + 1 and abs(a.y - b.y) <= 2 and abs(a.w - b.w) <= step + 1


def test_word_features_follow_the_goal() -> None:
    g = goal_tokens('Goal: Click on the "okay" button.\n1. click(x=3, y=4) -> ok\n2. type("Ann")')
    assert "okay" in g.quoted and "button" in g.goal and "ann" in g.history and "goal" not in g.goal
    words = [
        Word("Click", 0, 0, 30, 14, 0.9),  # a line that repeats the goal
        Word("on", 32, 0, 12, 14, 0.9),
        Word("the", 46, 0, 18, 14, 0.9),
        Word("okay", 10, 40, 30, 14, 0.99),
        Word("okey", 10, 70, 30, 14, 0.99),  # misread
        Word("cancel", 60, 40, 40, 14, 0.99),
        Word("far", 500, 500, 20, 14, 0.99),  # off the canvas
    ]
    prompt = 'Goal: Click on the "okay" button.'
    big = TINY.model_copy(update={"canvas": 224, "max_words": 8})
    slots = canvas_slots(score_words(words, prompt), (0, 0), big)
    assert int(slots.valid.sum()) == 6
    f = slots.feats
    assert f[3].tolist()[:2] == [1.0, 1.0]  # okay: a goal word, quoted
    assert f[5, 0] == 0 and f[5, 3] < 0.3  # cancel
    assert 0.3 < f[4, 3] < 1.0  # okey is like okay
    assert f[0, 4] == 1.0 and f[3, 4] == f[5, 4] == 0.5  # line shares: okay + cancel share a line
    few = canvas_slots(score_words(words, prompt), (0, 0), big.model_copy(update={"max_words": 2}))
    kept = [int(few.boxes[i, 1]) for i in range(2)]
    assert 40 in kept  # the matching words are kept when slots run out
    shifted = canvas_slots(score_words(words, prompt), (5, 30), big)
    assert shifted.boxes[0].tolist() == [5.0, 10.0, 30.0, 14.0]  # okay, now first on the canvas
    echoed = echo_goal(words, prompt, (0.0, 100.0), 6.0, 14.0)
    assert [w.text for w in echoed[len(words) :]] == ["Click", "on", "the", '"okay"', "button."]


def _word_examples(n: int, seed: int) -> list[Example]:
    """Three drawn words; the goal quotes one of them; its slot is the answer."""
    rng = random.Random(seed)
    vocab = ["ok", "no", "up", "go", "yes", "hat", "sun", "map"]
    out = []
    for _ in range(n):
        picked = rng.sample(vocab, 3)
        img = Image.new("RGB", (TINY.canvas, TINY.canvas), "white")
        d = ImageDraw.Draw(img)
        words = []
        ys = rng.sample([2, 22, 42], 3)
        for text, y in zip(picked, ys, strict=True):
            x = rng.randint(0, 30)
            d.text((x, y), text, fill="black", font=_font(12))
            words.append(Word(text, x, y, 6 * len(text), 14, 0.99))
        target = words[rng.randrange(3)]
        goal = f'Goal: click "{target.text}"'
        cx, cy = target.center
        slots = canvas_slots(score_words(words, goal), (0, 0), TINY)
        enc = encode_target(f"click({round(cx)}, {round(cy)})")
        dist, cell, off = pointer_label(enc.points[0], (target.x, target.y, target.w, target.h),
                                        TINY, slots)  # fmt: skip
        out.append(
            Example(
                to_canvas(img, Crop(0, 0, 1.0), TINY.canvas),
                prompt_ids(goal, TINY),
                slots,
                list(enc.ids),
                [dist],
                [cell],
                [off],
            )
        )
    return out


def test_pointer_label_covers_the_words_inside_the_target() -> None:
    (ex,) = _word_examples(1, seed=3)
    dist = ex.ptr_dist[0]
    g = TINY.grid**2
    chosen = (dist[g:-1] > 0).nonzero().flatten().tolist()
    assert len(chosen) == 1 and dist.sum() == pytest.approx(1.0)


def test_a_tiny_model_learns_to_point_at_the_named_word() -> None:
    model = _train(_word_examples, 120)
    test = _word_examples(32, seed=10_000)
    batch = collate(test, TINY)
    out = model.generate(
        batch["images"], batch["prompts"], stack_slots([e.words for e in test]), 20
    )
    hits = 0
    for ex, dec in zip(test, out, strict=True):
        assert dec.points, dec.ids
        g = TINY.grid**2
        (k,) = (ex.ptr_dist[0][g:-1] > 0).nonzero().flatten().tolist()
        bx, by, bw, bh = ex.words.boxes[k].tolist()
        p = dec.points[0]
        hits += int(bx <= p.x <= bx + bw and by <= p.y <= by + bh)
    assert hits >= 28, f"{hits}/32 clicks on the named word"


def _copy_examples(n: int, seed: int) -> list[Example]:
    """Goals that name a random string; the answer types it: only copying can get it right."""
    rng = random.Random(seed)
    blank = to_canvas(Image.new("RGB", (8, 8), "white"), Crop(0, 0, 1.0), TINY.canvas)
    out = []
    for _ in range(n):
        word = "".join(rng.choice("abcdefghijkmnpqrstuvwxyz23456789") for _ in range(5))
        goal = f"Goal: enter {word} now"
        enc = encode_target(f'type("{word}")')
        slots = canvas_slots(score_words([], goal), (0, 0), TINY)
        out.append(Example(blank, prompt_ids(goal, TINY), slots, list(enc.ids), [], [], []))
    return out


def test_a_tiny_model_learns_to_copy_from_the_goal() -> None:
    model = _train(_copy_examples, 150)
    test = _copy_examples(16, seed=99_999)  # strings never seen in training
    batch = collate(test, TINY)
    out = model.generate(batch["images"], batch["prompts"], batch["words"], 20)
    want = [bytes(i for i in e.target[:-1]).decode() for e in test]
    got = [bytes(i for i in d.ids if i < 256).decode(errors="replace") for d in out]
    right = sum(g == w for g, w in zip(got, want, strict=True))
    assert right >= 12, list(zip(got, want, strict=True))


def test_the_action_grammar_allows_exactly_one_call() -> None:
    from actions.keys import normalize_combo
    from perception.builtin.grammar import KEY_NAMES, ActionGrammar
    from perception.builtin.tokenizer import EOS, POINT
    from perception.parsers import dialect_actions

    g = ActionGrammar(dialect_actions("gaze"))

    def walk(tokens: list[int]) -> object:
        s = g.start()
        for t in tokens:
            assert g.allowed(s)[t], (bytes(x for x in tokens if x < 256), t)
            s = g.advance(s, t)
        return s

    first = g.allowed(g.start())
    assert first[ord("c")] and first[ord("t")] and not first[ord("x")] and not first[EOS]
    s = walk([*b"click(", POINT, *b")"])
    assert g.allowed(s).nonzero().flatten().tolist() == [EOS]  # nothing after the call
    s = walk(list(b'type("a) \\" (b"'))
    assert not g.allowed(s)[EOS] and not g.allowed(s)[POINT]  # quote closed; type takes no point
    s = walk(list(b'type("a) \\" (b")'))
    assert g.allowed(s).nonzero().flatten().tolist() == [EOS]
    inside = walk(list(b'done("'))
    assert not g.allowed(inside)[POINT]  # no point inside a quoted string
    assert not g.allowed(walk(list(b"cl")))[ord("x")]
    # per-verb arity: scroll needs its point and a quoted direction; drag two points
    s = walk([*b"scroll(", POINT])
    assert not g.allowed(s)[ord(")")] and not g.allowed(s)[POINT]
    s = walk([*b"scroll(", POINT, *b', "d'])
    assert g.allowed(s).nonzero().flatten().tolist() == [ord("o")]  # up, down, left or right
    s = walk([*b"scroll(", POINT, *b', "down"'])
    assert g.allowed(s)[ord(")")] and not g.allowed(s)[ord('"')]  # one direction only
    assert not g.allowed(walk([*b"drag(", POINT, *b", "]))[ord(")")]
    assert g.allowed(walk([*b"drag(", POINT, *b", ", POINT]))[ord(")")]
    assert not g.allowed(walk(list(b"click(")))[ord(")")]
    assert g.allowed(walk(list(b"done(")))[ord(")")]
    assert g.allowed(walk(list(b"type("))).nonzero().flatten().tolist() == [ord('"')]
    assert not g.allowed(walk(list(b'type("')))[ord('"')]  # no empty string
    assert g.allowed(walk(list(b'type("\\"')))[ord('"')]  # an escaped quote is a character
    after = g.allowed(walk(list(b'type("ab"')))
    assert after[ord(")")] and after[ord(",")] and not after[ord("(")] and not after[ord("d")]
    walk(list(b'type("ab", submit=true)'))  # the keyword flag still parses
    # arguments come one at a time, comma-separated; plain ones only as many as the verb takes
    s = walk([*b"scroll(", POINT, *b', "down", 10'])
    assert g.allowed(s)[ord(")")] and g.allowed(s)[ord("0")] and not g.allowed(s)[ord(",")]
    assert not g.allowed(walk([*b"scroll(", POINT, *b', "down", 10 ']))[ord("1")]
    assert not g.allowed(walk([*b"click(", POINT]))[ord("7")]  # no digits glued to a point
    assert not g.allowed(walk([*b"click(", POINT]))[ord(",")]  # click takes one argument
    assert not g.allowed(walk([*b"drag(", POINT, *b", "]))[ord("5")]  # drag takes no numbers
    assert not g.allowed(walk(list(b'type("ab", ')))[ord(")")]  # no dangling comma
    assert not g.allowed(walk(list(b"done(")))[ord("1")]
    walk(list(b"wait(3)"))
    flag = walk(list(b'type("ab", submit=t'))  # a flag is spelled out, not looped
    assert g.allowed(flag).nonzero().flatten().tolist() == [ord("r")]
    assert not g.allowed(walk(list(b'type("ab", ')))[ord("5")]  # type's plain value is a flag
    assert g.allowed(walk(list(b'type("ab", submit=true')))[ord(")")]
    assert not g.allowed(walk(list(b'type("ab", submit=tru')))[ord(")")]
    assert not g.allowed(walk([*b"scroll(", POINT, *b', "down", ']))[ord("s")]  # a number
    walk([*b"scroll(", POINT, *b', "up")'])
    # one space at a time outside strings: a model cannot pad an answer out of its token budget
    assert not g.allowed(walk(list(b'type("ab" ')))[ord(" ")]
    assert not g.allowed(walk([*b"drag(", POINT, *b", "]))[ord(" ")]
    assert g.allowed(walk(list(b'type("a  b"')))[ord(" ")]  # inside a string spaces are text
    # a key is one of the names the executor reads, spelled out: never key(") sctrl+a")
    assert g.allowed(walk(list(b"key("))).nonzero().flatten().tolist() == [ord('"')]
    opening = {chr(i) for i in g.allowed(walk(list(b'key("'))).nonzero().flatten().tolist()}
    assert opening == {"E", "T", "s", "B", "D", "H", "P", "A", "c"}, opening
    assert g.allowed(walk(list(b'key("ctrl+'))).nonzero().flatten().tolist() == sorted(b"acvxz")
    assert not g.allowed(walk(list(b'key("ctrl')))[ord('"')]  # not a key name yet
    walk(list(b'key("ctrl+a")'))
    walk(list(b'key("Enter")'))
    for name in KEY_NAMES:
        normalize_combo(name.decode())  # every name is one the executor accepts


def test_a_model_without_scroll_amounts_writes_and_learns_none() -> None:
    from perception.builtin.grammar import ActionGrammar, without_scroll_amount
    from perception.builtin.tokenizer import EOS, POINT
    from perception.frames import Frame
    from perception.parsers import Parsed, dialect_actions, parse
    from perception.parsers.base import DEFAULT_SCROLL_PX

    g = ActionGrammar(dialect_actions("gaze"), scroll_amounts=False)
    s = g.start()
    for t in [*b"scroll(", POINT, *b', "down"']:
        assert g.allowed(s)[t]
        s = g.advance(s, t)
    assert g.allowed(s)[ord(")")] and not g.allowed(s)[ord(",")]  # no ", 10"
    assert not g.allowed(g.advance(s, ord(" ")))[ord("1")]
    s = g.advance(s, ord(")"))
    assert g.allowed(s).nonzero().flatten().tolist() == [EOS]
    # other verbs keep their plain arguments
    s = g.start()
    for t in b'type("ab", ':
        s = g.advance(s, t)
    assert g.allowed(s)[ord("s")]
    # the training target loses the amount, nothing else
    assert without_scroll_amount('scroll(250, 141, "down", 560)') == 'scroll(250, 141, "down")'
    assert without_scroll_amount('scroll(<point>, "up", 12.5)') == 'scroll(<point>, "up")'
    for same in ('scroll(1, 2, "left")', "click(3, 4)", 'type("scroll(1, 2, \\"up\\", 3)")'):
        assert without_scroll_amount(same) == same
    # and the bare call means the dialect's default distance
    frame = Frame(region_x=0, region_y=0, region_w=800, region_h=600, image_w=800, image_h=600)
    parsed = parse('scroll(250, 141, "down")', frame, "gaze")
    assert isinstance(parsed, Parsed)
    assert [(a.kind, getattr(a, "dy", None)) for a in parsed.actions] == [
        ("scroll", DEFAULT_SCROLL_PX)
    ]


def test_a_model_without_scroll_amounts_is_trained_on_bare_scrolls(tmp_path: Path) -> None:
    from perception.builtin.data import make_example
    from perception.builtin.tokenizer import EOS, POINT
    from tests.model.steps import one_step

    sample, image = one_step(
        tmp_path, "scroll", "Scroll down to Payroll.", 'scroll(40, 30, "down", 34)'
    )
    tiny = PRESETS["tiny"].model
    assert not tiny.scroll_amount  # as the shipped preset
    for config, tail in (
        (tiny, b'"down")'),
        (tiny.model_copy(update={"scroll_amount": True}), b'"down", 34)'),
    ):
        ex = make_example(sample, image, config, random.Random(0), words=[], negative_rate=0.0)
        assert ex is not None and ex.target == [*b"scroll(", POINT, *b", ", *tail, EOS]


def test_history_clicks_become_patch_marks() -> None:
    from perception.builtin.config import ModelConfig
    from perception.builtin.marks import history_clicks, patch_marks

    prompt = (
        "Goal: Click ONE, then TWO.\nEarlier steps:\n1. click(x=10, y=10) -> ok\n"
        "2. scroll(x=50, y=50, direction='down', amount=300) -> ok\n3. click(x=40.5, y=20) -> ok\n"
        "4. type(text='hi', submit=False) -> ok\n5. double_click(x=100, y=30) -> ok\nURL: x"
    )
    # the click before the scroll is forgotten; the newest step is flagged
    assert history_clicks(prompt) == [(40.5, 20.0, False), (100.0, 30.0, True)]
    c = ModelConfig(history_marks=2)
    m = patch_marks(history_clicks(prompt), (0.0, 0.0), c).reshape(c.grid, c.grid, 2)
    assert m[1, 2, 0] == 1.0 and m[1, 2, 1] == 0.0  # (40.5, 20) -> row 1, column 2
    assert m[1, 6, 0] == 1.0 and m[1, 6, 1] == 1.0  # the newest click, both channels
    assert m[0, 1, 0] == 0.5 and m[5, 5].sum() == 0  # neighbours half, elsewhere nothing
    moved = patch_marks(history_clicks(prompt), (224.0, 0.0), c)
    assert moved.sum() == 0  # clicks off this canvas mark nothing
    assert patch_marks([], (0.0, 0.0), ModelConfig()).shape == (c.grid**2, 0)


def test_box_proposals_find_empty_fields_and_boxes_not_glyphs() -> None:
    """Outlines of an empty text field, a button and a checkbox become text-less slots (page CSS
    px: the canvas origin added); letters, a wide panel and a tall card do not."""
    from perception.builtin.proposals import box_proposals

    img = Image.new("RGB", (224, 224), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((10, 10, 150, 30), outline=(118, 118, 118))  # text field, 1 px border
    d.rectangle((10, 50, 80, 78), outline=(90, 90, 90), fill=(239, 239, 239))  # button
    d.text((22, 56), "Submit", fill="black", font=_font(14))
    d.rectangle((10, 100, 23, 113), outline=(60, 60, 60))  # checkbox
    d.text((30, 100), "Remember me", fill="black", font=_font(14))
    d.rectangle((5, 130, 215, 215), outline=(200, 200, 200))  # a card: too tall
    canvas = to_canvas(img, Crop(0, 0, 1.0), 224)
    got = box_proposals(canvas, (100.0, 40.0))
    boxes = {(round(w.x - 100), round(w.y - 40), round(w.w), round(w.h)) for w in got}
    assert all(w.text == "" for w in got)

    def found(x: int, y: int, w: int, h: int) -> bool:
        return any(abs(b[0] - x) <= 2 and abs(b[1] - y) <= 2 and abs(b[2] - w) <= 3
                   and abs(b[3] - h) <= 3 for b in boxes)  # fmt: skip

    assert found(10, 10, 141, 21) and found(10, 50, 71, 29) and found(10, 100, 14, 14), boxes
    # no letters, no card: every outline is one of the three controls (a 1 px line may give its
    # inner and its outer edge)
    centres = {(round(b[0] + b[2] / 2) // 4, round(b[1] + b[3] / 2) // 4) for b in boxes}
    assert len(centres) == 3, boxes


def _parts(**on: bool) -> ModelConfig:
    return ModelConfig(proposals=True, **on)


def test_slivers_cut_by_the_canvas_edge_can_be_left_out() -> None:
    """A tile that cuts a shadowed card sees a flat "box" along its bottom edge: with
    drop_slivers it is not proposed, while a field cut by the same edge and a thin bar inside
    the canvas still are."""
    from perception.builtin.proposals import box_proposals

    img = Image.new("RGB", (224, 224), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((0, 118, 180, 131), outline=(150, 150, 150))  # the cut card's bottom edge
    d.rectangle((0, 60, 150, 88), outline=(118, 118, 118))  # a text field cut by the edge
    d.rectangle((40, 170, 200, 180), outline=(118, 118, 118))  # a thin bar, whole
    canvas = to_canvas(img, Crop(0, 0, 1.0), 224)

    def boxes(drop: bool) -> set[tuple[int, int]]:
        got = box_proposals(canvas, (0.0, 0.0), drop_slivers=drop)
        return {(round(w.y), round(w.h)) for w in got}

    def has(found: set[tuple[int, int]], y: int, h: int) -> bool:
        return any(abs(fy - y) <= 2 and abs(fh - h) <= 3 for fy, fh in found)

    kept, dropped = boxes(False), boxes(True)
    assert has(kept, 119, 12) and not has(dropped, 119, 12), (kept, dropped)
    assert has(dropped, 60, 29) and has(dropped, 170, 11), dropped


def test_proposals_come_first_and_may_inherit_the_features_of_their_words() -> None:
    from perception.builtin.words import join_proposals

    words = [
        Word("Submit", 110, 52, 40, 14, 0.9),  # inside the button outline
        Word("Cancel", 210, 52, 40, 14, 0.9),  # outside every outline
    ]
    scored = score_words(words, 'Goal: Click "Submit".')
    button = Word("", 100, 45, 60, 28, 0.0)
    field = Word("", 100, 100, 160, 28, 0.0)  # an empty text box: no word inside
    plain = join_proposals([button, field], scored, _parts())
    assert [w for w, _ in plain] == [button, field, *words]
    assert plain[0][1] == plain[1][1] == [0.0] * len(scored[0][1])
    assert plain[2:] == scored
    got = join_proposals([button, field], scored, _parts(proposal_words=True))
    assert got[0][1] == scored[0][1]  # the button scores as its word "Submit" does
    assert got[1][1] == [0.0] * len(scored[0][1])
    assert got[0][1][1] > 0  # the quoted goal word


def test_a_tick_box_may_take_the_features_of_its_label() -> None:
    from perception.builtin.words import join_proposals

    words = [
        Word("Email", 30, 52, 34, 14, 0.9),  # the label of the first checkbox
        Word("alerts", 68, 52, 36, 14, 0.9),
        Word("News", 30, 82, 30, 14, 0.9),  # the label of the second one
        Word("Email", 300, 52, 34, 14, 0.9),  # same line, far away: not a label
    ]
    scored = score_words(words, 'Goal: Tick "Email alerts", then press Go.')
    first, second = Word("", 10, 51, 14, 14, 0.0), Word("", 10, 81, 14, 14, 0.0)
    field = Word("", 120, 45, 160, 28, 0.0)  # not tick-box sized: no label
    zeros = [0.0] * len(scored[0][1])
    old = join_proposals([first, second, field], scored, _parts(proposal_words=True))
    assert old[0][1] == old[1][1] == zeros  # without labels, as run 15 was trained
    got = join_proposals(
        [first, second, field], scored, _parts(proposal_words=True, proposal_labels=True)
    )
    assert got[0][1] == [max(a, b) for a, b in zip(scored[0][1], scored[1][1], strict=True)]
    assert got[0][1][1] == 1.0  # "Email alerts" is quoted in the goal
    assert got[1][1] == scored[2][1] and got[1][1][0] == 0.0  # "News" is not in the goal
    assert got[2][1] == zeros


def test_with_share_an_outline_matches_by_the_share_of_its_tokens_not_its_best_word() -> None:
    """click-tab's failure: "Tab #1" and "Tab #2" outlines both held a goal word ("Tab") and
    inherited the same max; a card holding "the" matched as well as the named link."""
    from perception.builtin.words import join_proposals

    words = [
        Word("Tab", 12, 10, 24, 14, 0.9),
        Word("#1", 40, 10, 14, 14, 0.9),
        Word("Tab", 82, 10, 24, 14, 0.9),
        Word("#2", 110, 10, 14, 14, 0.9),
        Word("Read", 12, 60, 30, 14, 0.8),  # a card: "Read the docs"
        Word("the", 46, 60, 22, 14, 0.8),
        Word("docs", 72, 60, 30, 14, 0.8),
    ]
    scored = score_words(words, "Goal: Click on Tab #2 in the bar.")
    tab1, tab2 = Word("", 6, 4, 54, 26, 0.0), Word("", 76, 4, 54, 26, 0.0)
    card = Word("", 6, 50, 120, 40, 0.0)
    by_max = join_proposals([tab1, tab2, card], scored, _parts(proposal_words=True))
    assert by_max[0][1][0] == by_max[1][1][0] == by_max[2][1][0] == 1.0  # all alike
    got = join_proposals(
        [tab1, tab2, card], scored, _parts(proposal_words=True, proposal_share=True)
    )
    (f1, f2, fc) = (got[0][1], got[1][1], got[2][1])
    assert f2[0] == 1.0 and f1[0] == 0.5  # 2 of 2 tokens vs 1 of 2
    assert abs(fc[0] - 1 / 3) < 1e-6  # one of the card's three tokens
    assert f2[3] == 1.0 and f1[3] < 1.0  # similarity: the mean, not the best word
    assert f1[5] == 0.9 and fc[5] == 0.8  # OCR score and line share: still the max
    assert got[3:] == scored  # the words themselves are unchanged


def test_a_decoy_crop_holds_a_goal_word_and_misses_the_target() -> None:
    """Tiled pages ask "not here" of every tile but one; decoys teach it where it is hardest."""
    from types import SimpleNamespace

    from perception.builtin.data import decoy_origin
    from tasks.synth.annotations import Box

    link = Word("Integrations", 844, 20, 84, 16, 0.9)  # the target, in the top menu
    card = Word("Integrations", 956, 470, 110, 18, 0.9)  # the same name: as right, not a decoy
    docs = [Word("Read", 80, 600, 30, 14, 0.9), Word("the", 114, 600, 22, 14, 0.9)]
    sample = SimpleNamespace(
        prompt='Goal: Click "Integrations" in the top menu.',
        target_box=Box(x=840, y=16, w=92, h=24),
    )
    target = [(886.0, 28.0)]
    for seed in range(20):
        got = decoy_origin(
            sample, [link, card, *docs], (1280, 800), target, 224, random.Random(seed)
        )  # type: ignore[arg-type]
        assert got is not None
        ox, oy = got
        assert ox <= 125 < ox + 224 and oy <= 607 < oy + 224  # on "the"
        assert not (ox <= 886 < ox + 224 and oy <= 28 < oy + 224)  # the target is off the crop
    assert decoy_origin(sample, [link, card], (1280, 800), target, 224, random.Random(0)) is None  # type: ignore[arg-type]


def test_goal_order_says_which_name_the_goal_gives_first() -> None:
    words = [Word("TWO", 10, 10, 30, 14, 0.99), Word("ONE", 10, 40, 30, 14, 0.99)]
    words.append(Word("Next", 10, 70, 30, 14, 0.99))  # not in the goal
    prompt = "Goal: Click button ONE, then click button TWO.\n1. click(x=25, y=47) -> ok"
    scored = score_words(words, prompt)
    order = [f[6] for _, f in scored]
    # tokens: click button one then click button two -> ONE at 2 of 7, TWO at 6 of 7
    assert order == pytest.approx([1 - 6 / 7, 1 - 2 / 7, 0.0])
    with_order = TINY.model_copy(
        update={"canvas": 224, "goal_order": True, "reached_words": False, "control_state": False}
    )
    without = with_order.model_copy(update={"goal_order": False})
    assert feature_count(with_order) == 7 and feature_count(without) == 6
    a, b = canvas_slots(scored, (0, 0), with_order), canvas_slots(scored, (0, 0), without)
    assert a.feats.shape[1] == 7 and b.feats.shape[1] == 6
    assert torch.equal(a.feats[:, :6], b.feats)  # the first six are the same either way


def test_lines_recognised_on_several_threads_read_as_on_one() -> None:
    """The reader recognises a screen's new lines one per call on a pool of threads (widest
    first): the words, their order and their boxes equal those of the same lines read one after
    another, and every line goes through the recogniser once, alone at its own width."""
    from perception.builtin import reader

    img = Image.new("RGB", (360, 220), "white")
    d = ImageDraw.Draw(img)
    for i, text in enumerate(["Book now", "Team name", "Account ID", "Remember me", "OK"]):
        d.text((12 + 30 * (i % 2), 10 + 40 * i), text, fill="black", font=_font(18))
    engine = reader._get_engine()
    pool = engine.text_rec
    widths: list[list[int]] = []
    recognise, workers = pool.recognise, pool.workers

    def spy(crops: list[object], word_box: bool = False) -> object:
        widths.append([c.shape[1] for c in crops])  # type: ignore[attr-defined]
        return recognise(crops, word_box)

    pool.recognise = spy
    try:
        pool.workers = 3
        reader.clear_cache()
        together = reader.read_words(img)
        pool.workers = 1
        reader.clear_cache()
        alone = reader.read_words(img)
    finally:
        pool.recognise, pool.workers = recognise, workers
    assert [w.to_json() for w in together] == [w.to_json() for w in alone]
    assert {"Book", "now", "Team", "name", "Account", "ID", "OK"} <= {w.text for w in alone}
    assert all(len(call) == 1 for call in widths) and len(widths) == 2 * 5, widths


def test_page_outlines_find_wide_faint_and_underlined_fields_and_clip_them_to_tiles() -> None:
    """What a canvas's own outlines missed on held-out forms (docs/BUILTIN.md "Run 44"): a text
    field wider than the canvas, one with a faint one (a fill of grey 249 on white, no border), one drawn as a
    line under empty space. Found once on the page, each tile gets the part on its canvas."""
    from perception.builtin.proposals import box_proposals, page_proposals, tile_proposals

    img = Image.new("RGB", (600, 300), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((20, 20, 420, 46), outline=(118, 118, 118))  # 401 px wide
    d.rectangle((20, 80, 200, 106), fill=(249, 249, 249))  # faint: a fill, no border
    d.line((20, 160, 260, 160), fill=(150, 150, 150))  # an underlined field
    d.text((22, 200), "Some text on a line", fill="black", font=_font(14))
    d.rectangle((300, 80, 360, 106), outline=(90, 90, 90), fill=(239, 239, 239))  # button
    got = page_proposals(img)
    assert all(w.text == "" for w in got)

    def has(x: float, y: float, w: float, h: float, props: list[Word]) -> bool:
        return any(abs(p.x - x) <= 2 and abs(p.y - y) <= 2 and abs(p.w - w) <= 3
                   and abs(p.h - h) <= 3 for p in props)  # fmt: skip

    assert has(20, 20, 401, 27, got) and has(20, 80, 181, 27, got), got
    assert has(300, 80, 61, 27, got), got
    under = [p for p in got if p.y < 160 <= p.y + p.h + 2 and p.x <= 21 and p.w >= 238]
    assert len(under) == 1 and 10 <= under[0].h <= 24, got  # the space above the line
    # nothing for the letters (a 1 px line may give its inner and outer edge); closed boxes
    # come before the underline
    assert len(got) <= 7 and got[-1] == under[0], got
    # the canvas's own detector sees neither the faint field nor, on a canvas that cuts it on
    # both sides, the wide one
    own = box_proposals(to_canvas(img, Crop(0, 0, 1.0), 224), (0.0, 0.0))
    assert not any(p.y < 93 < p.y + p.h for p in own), own
    own = box_proposals(to_canvas(img, Crop(100, 0, 1.0), 224), (100.0, 0.0))
    assert not any(p.y < 33 < p.y + p.h for p in own), own
    assert has(100, 20, 224, 27, tile_proposals(got, (100.0, 0.0), 224))
    # a tile at x=224 gets the wide field's part on its canvas, whose centre is in the field
    tile = tile_proposals(got, (224.0, 0.0), 224)
    assert has(224, 20, 197, 27, tile), tile
    assert all(p.x >= 224 and p.x + p.w <= 448 for p in tile)
    assert not has(20, 80, 181, 27, tile)  # the faint field lies left of this tile
    # a line under words (a separator, a link's underline) is no field
    d.text((330, 240), "Read the release notes", fill="black", font=_font(14))
    d.line((330, 258, 560, 258), fill=(150, 150, 150))
    assert not any(p.x >= 320 and p.y < 258 <= p.y + p.h + 2 for p in page_proposals(img))
    # nor is the top edge of a box taller than a field (MiniWoB's 80 px "Click Me!" button)
    d.rectangle((460, 150, 560, 230), outline=(118, 118, 118), fill=(239, 239, 239))
    assert not any(p.x >= 450 and p.y < 150 <= p.y + p.h + 2 for p in page_proposals(img))
    # slivers of a box under MIN_SIDE px on a canvas are not kept
    assert tile_proposals([Word("", 215, 20, 100, 27, 0.0)], (0.0, 0.0), 224) == []


def test_an_empty_field_may_take_the_features_of_its_label_left_or_above() -> None:
    from perception.builtin.words import join_proposals

    words = [
        Word("Full", 20, 60, 28, 14, 0.9),  # above the first field, left-aligned
        Word("name", 52, 60, 36, 14, 0.9),
        Word("Website", 20, 124, 50, 14, 0.9),  # left of the second field, on its line
        Word("Nickname", 300, 60, 60, 14, 0.9),  # above, but far right of the first field
    ]
    scored = score_words(words, "Goal: Fill in Website with x and Full name with Ana.")
    above, left = Word("", 20, 80, 200, 26, 0.0), Word("", 80, 118, 200, 26, 0.0)
    box = Word("", 20, 150, 20, 20, 0.0)  # square: not a field
    zeros = [0.0] * len(scored[0][1])
    parts = dict(proposal_words=True, proposal_labels=True, proposal_share=True)
    old = join_proposals([above, left, box], scored, _parts(**parts))
    assert old[0][1] == old[1][1] == zeros  # without field labels, as run 42 was trained
    got = join_proposals([above, left, box], scored, _parts(**parts, field_labels=True))
    assert got[0][1][0] == 1.0 and got[0][1] != zeros  # "Full name": both goal tokens
    assert got[1][1] == scored[2][1] and got[1][1][0] == 1.0  # "Website"
    assert got[0][1][6] < got[1][1][6]  # the goal names Website first
    assert got[2][1] == zeros
    # a field with a word inside (its placeholder) keeps that word's features
    filled = Word("", 20, 80, 200, 26, 0.0)
    inside = [*scored, (Word("Nickname", 24, 86, 60, 14, 0.9), scored[3][1])]
    assert (
        join_proposals([filled], inside, _parts(**parts, field_labels=True))[0][1] == scored[3][1]
    )


def test_round_outlines_find_radio_buttons_switches_and_pills_but_not_letters() -> None:
    """Radio buttons and switches have no corners, so the box test missed them: on h_radio's 52
    held-out clicks on a tick box (docs/BUILTIN.md "Runs 47-50") an outline lay on 20 targets,
    with rounded outlines on 51."""
    from perception.builtin.proposals import page_proposals

    img = Image.new("RGB", (400, 200), "white")
    d = ImageDraw.Draw(img)
    d.ellipse((20, 20, 33, 33), outline=(118, 118, 118))  # a 14 px radio button
    d.rounded_rectangle((20, 60, 49, 76), radius=8, outline=(118, 118, 118))  # a switch
    d.rounded_rectangle((20, 100, 140, 136), radius=18, fill=(40, 90, 200))  # a pill button
    d.rectangle((200, 20, 213, 33), outline=(118, 118, 118))  # a checkbox

    def at(x: float, y: float, props: list[Word]) -> bool:
        return any(abs(p.x - x) <= 2 and abs(p.y - y) <= 2 for p in props)

    old, got = page_proposals(img), page_proposals(img, rounded=True)
    assert at(200, 20, old) and at(200, 20, got)  # a box either way
    for x, y in ((20, 20), (20, 60), (20, 100)):
        assert not at(x, y, old) and at(x, y, got), (x, y, old, got)
    # a letter "O" in a heading is a rounded outline too; the word around it drops it later
    # (test_round_outlines_inside_words_are_letters...), but a line of text alone gives no
    # rounded outline that is not inside its words
    d.text((200, 120), "Door mat", fill="black", font=_font(22))
    letters = [p for p in page_proposals(img, rounded=True) if p.x >= 195 and p.y >= 110]
    assert all(p.y >= 115 and p.y + p.h <= 150 for p in letters), letters


def test_round_outlines_inside_words_are_letters_and_tick_glyphs_take_their_labels() -> None:
    from perception.builtin.words import join_proposals

    words = [
        Word("O", 23, 127, 6, 18, 0.9),  # the OCR's reading of the radio button at (19, 127)
        Word("Single", 38, 127, 32, 18, 0.9),
        Word("Door", 20, 20, 60, 24, 0.9),  # a heading whose "o" is outlined at (38, 26)
        Word("○", 11, 52, 8, 22, 0.9),  # MiniWoB's radio button, read as a glyph
        Word("Weekly", 28, 52, 40, 22, 0.9),
        Word("●Freight", 251, 159, 88, 24, 0.9),  # a glyph run into its label
    ]
    goal = 'Goal: Select Single, Weekly and "Freight", then press Go.'
    parts = dict(proposal_words=True, proposal_labels=True, proposal_share=True)
    radio, letter = Word("", 19, 127, 14, 15, 0.0), Word("", 38, 26, 12, 12, 0.0)
    zeros = [0.0] * 7
    old = join_proposals([radio, letter], score_words(words, goal), _parts(**parts))
    assert [w for w, _ in old[:2]] == [radio, letter]
    assert old[0][1][:4] == zeros[:4]  # it holds "O": no goal word
    assert old[5][1][0] == 0.0 and old[7][1][0] == 0.0  # "○" and "●Freight" match nothing
    scored = score_words(words, goal, split_glyphs=True)
    got = join_proposals([radio, letter], scored, _parts(**parts, round_outlines=True))
    assert got[0][0] == radio and got[1][0] == words[0]  # the letter's outline is dropped
    assert got[0][1] == scored[1][1] and got[0][1][0] == 1.0  # the radio reads as "Single"
    glyph = next(f for w, f in got if w.text == "○")
    assert glyph == scored[4][1] and glyph[0] == 1.0  # "○" reads as "Weekly"
    freight = next(f for w, f in got if w.text == "●Freight")
    assert freight[0] == 1.0 and freight[1] == 1.0  # quoted in the goal


def test_a_control_outline_reads_on_from_its_accent_pixels() -> None:
    """``control_on``: a ticked box, a chosen radio button's dot and a switch that is on are
    drawn in an accent colour; off they are white, grey or a dark theme's grey. Only outlines
    the size and shape of a control carry the state (``page_proposals``)."""
    from perception.builtin.proposals import control_on, control_shaped, page_proposals

    img = Image.new("RGB", (300, 120), "white")
    d = ImageDraw.Draw(img)
    d.rectangle((20, 20, 33, 33), outline=(118, 118, 118))  # an empty checkbox
    d.rectangle((60, 20, 73, 33), fill=(0, 117, 255))  # the browser's ticked one
    d.line((63, 27, 66, 30, 71, 23), fill="white", width=2)
    d.ellipse((100, 20, 113, 33), outline=(0, 117, 255))  # a chosen radio button
    d.ellipse((104, 24, 109, 29), fill=(0, 117, 255))
    d.rounded_rectangle((140, 20, 169, 36), radius=8, fill=(200, 200, 200))  # a switch, off
    d.ellipse((142, 22, 153, 33), fill="white")
    d.rounded_rectangle((190, 20, 219, 36), radius=8, fill=(30, 160, 90))  # on
    d.ellipse((206, 22, 217, 33), fill="white")
    d.rectangle((20, 60, 33, 73), fill=(60, 60, 66))  # a dark theme's empty box
    d.rectangle((60, 60, 200, 86), outline=(0, 117, 255), fill=(0, 117, 255))  # a wide button
    a = np.asarray(img)
    states = [control_on(a, (x, y, w, h)) for x, y, w, h in
              ((20, 20, 14, 14), (60, 20, 14, 14), (100, 20, 14, 14), (140, 20, 30, 17),
               (190, 20, 30, 17), (20, 60, 14, 14))]  # fmt: skip
    assert states == [0.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    assert control_shaped(14, 14) and control_shaped(30, 17) and not control_shaped(141, 27)
    assert not control_shaped(6, 6) and not control_shaped(40, 40)
    got = page_proposals(img, rounded=True)
    # the ticked box, the radio, the switch and its white knob (part of a switch that is on)
    on = sorted((p.x, p.y) for p in got if p.on)
    assert len(on) == 4 and all(
        abs(x - ex) <= 2 and abs(y - ey) <= 2
        for (x, y), (ex, ey) in zip(on, ((60, 20), (100, 20), (190, 20), (206, 22)), strict=True)
    ), got
    knob = next(p for p in got if abs(p.x - 142) <= 2 and p.w < 16)
    assert knob.on == 0.0  # the knob of the switch that is off
    assert any(p.w > 100 and p.on == 0.0 for p in got)  # the button is no control


def test_control_state_splits_an_on_outline_by_its_goal_share() -> None:
    """With ``control_state`` an outline drawn on is ON_NAMED when the goal names its whole
    label, else ON_OTHER ("SMS alerts" when the goal says "Email alerts"), and so are its
    label's words; an off one, and any outline without the part, neither."""
    from perception.builtin.words import ON_NAMED, ON_OTHER, join_proposals

    words = [
        Word("Quiet", 40, 20, 40, 14, 0.9),
        Word("hours", 84, 20, 40, 14, 0.9),
        Word("SMS", 40, 50, 30, 14, 0.9),
        Word("Email", 40, 80, 40, 14, 0.9),
    ]
    scored = score_words(words, 'Goal: Turn on "Quiet hours", then press Go.')
    boxes = [
        Word("", 20, 20, 14, 14, 0.0, 1.0),  # Quiet hours, on
        Word("", 20, 50, 14, 14, 0.0, 1.0),  # SMS, on
        Word("", 20, 80, 14, 14, 0.0, 0.0),  # Email, off
    ]
    parts = dict(proposal_words=True, proposal_labels=True, proposal_share=True)
    full = dict(parts, goal_order=True, reached_words=True, page_outlines=True)
    joined = join_proposals(boxes, scored, _parts(**full, control_state=True))
    got = [f for _, f in joined[:3]]
    assert [(f[ON_NAMED], f[ON_OTHER]) for f in got] == [(1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]
    # the words of an "on" control's label carry its state too (clicking them toggles it)
    labels = {w.text: (f[ON_NAMED], f[ON_OTHER]) for w, f in joined[3:]}
    assert labels == {
        "Quiet": (1.0, 0.0), "hours": (1.0, 0.0), "SMS": (0.0, 1.0), "Email": (0.0, 0.0),
    }  # fmt: skip
    # a switch's track (wider than a tick box) gets its label's state; its other features stay
    # as without the part (a track is no tick box: zeros)
    track = Word("", 8, 48, 29, 17, 0.0, 1.0)
    f = join_proposals([track], scored, _parts(**full, control_state=True))[0][1]
    assert (f[ON_NAMED], f[ON_OTHER]) == (0.0, 1.0) and not any(f[:ON_NAMED])
    # no label, no control: a colour swatch drawn in the accent colour, a filled "Go" button
    swatch = Word("", 200, 200, 20, 20, 0.0, 1.0)
    go = Word("", 36, 108, 30, 24, 0.0, 1.0)
    caption = (Word("Go", 40, 112, 20, 14, 0.9), [0.0] * len(scored[0][1]))
    f_swatch, f_go = (
        f
        for _, f in join_proposals(
            [swatch, go], [*scored, caption], _parts(**full, control_state=True)
        )[:2]
    )
    assert f_swatch[ON_NAMED] == f_swatch[ON_OTHER] == f_go[ON_NAMED] == f_go[ON_OTHER] == 0.0
    without = join_proposals(boxes, scored, _parts(**full))
    assert all(f[ON_NAMED] == f[ON_OTHER] == 0.0 for _, f in without)
    assert feature_count(_parts(**full, control_state=True)) == feature_count(_parts(**full)) + 2
    with pytest.raises(ValueError, match="control_state needs"):
        _parts(**parts, control_state=True)
