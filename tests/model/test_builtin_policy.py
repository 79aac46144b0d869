"""The built-in model's verb head: the history facts it reads, how decoding obeys it, and a tiny
model that learns "click the field, then type, then done" from the history alone.

Models are miniature and trained on the spot; no shipped weights.
"""

from __future__ import annotations

import random

import torch
from PIL import Image, ImageDraw

from perception.builtin.data import Crop, Example, collate, pointer_label, prompt_ids, to_canvas
from perception.builtin.grammar import ActionGrammar
from perception.builtin.marks import history_clicks, patch_marks
from perception.builtin.model import Decoded, GazeVLM, PointGuess
from perception.builtin.policy import N_STATE, VERBS, prompt_state, typed_without_enter, verb_index
from perception.builtin.predict import _chunks, by_peak, choose_tile
from perception.builtin.progress import step_state
from perception.builtin.tokenizer import N_BYTES, encode_target
from perception.builtin.train import PRESETS
from perception.builtin.words import canvas_slots, score_words
from perception.parsers import dialect_actions
from tests.model.test_builtin_words import _train

TINY = PRESETS["tiny"].model
GRAMMAR = ActionGrammar(dialect_actions("gaze"))


def _text(ids: list[int]) -> str:
    return bytes(i for i in ids if i < N_BYTES).decode(errors="replace")


def test_every_dialect_action_is_a_verb_and_answers_map_to_them() -> None:
    assert set(dialect_actions("gaze")) - {"give_up", "ask_user"} <= set(VERBS)
    assert verb_index(encode_target('type("hi (there)")').ids) == VERBS.index("type")
    assert verb_index(encode_target("click(3, 4)").ids) == VERBS.index("click")
    assert verb_index(encode_target("(505, 77), (593, 113)").ids) == -1  # alignment answer
    assert verb_index(encode_target("Sign in").ids) == -1
    assert verb_index(encode_target("fly(1, 2)").ids) == -1


def test_prompt_state_reads_the_history() -> None:
    goal = 'Goal: Enter "kasey" and the password "Zt4U", then press Login.'
    empty = prompt_state(goal)
    assert empty.shape == (N_STATE,)
    assert empty[0] == 1.0 and empty[1:5].sum() == 0  # no steps yet
    n = len(VERBS) + 1
    last, before = slice(5, 5 + n), slice(5 + n, 5 + 2 * n)
    assert empty[last].sum() == 0 and empty[before].sum() == 0
    later = prompt_state(
        goal + "\nEarlier steps:\n1. click(x=10, y=20) -> ok\n"
        "2. type(text='kasey', submit=False) -> ok\n3. click(x=10, y=60) -> error: covered"
    )
    assert later[3] == 1.0  # three steps
    assert later[last].argmax() == VERBS.index("click") and later[last].sum() == 1
    assert later[before].argmax() == VERBS.index("type")
    fail, typed = 5 + 2 * n, slice(6 + 2 * n, 9 + 2 * n)
    assert later[fail] == 1.0  # the last step failed
    assert later[typed].argmax() == 1  # one string typed
    assert later[9 + 2 * n] == 0.25  # one step since
    assert later[10 + 2 * n] == 2 / 3  # two quoted strings (of at most three)
    assert later[11 + 2 * n] == 0.5  # ... and one of them typed
    assert 0 < later[12 + 2 * n] < 0.5  # some of the goal's words are typed


def test_decoding_writes_the_verb_the_head_chooses() -> None:
    """An untrained model whose verb head is made to prefer "type" answers ``type("...")``;
    rows grouped as one page share the choice of highest mean probability."""
    torch.manual_seed(0)
    model = GazeVLM(TINY).eval()
    assert model.verb is not None
    exs = _steps(2, seed=0)
    batch = collate(exs, TINY)
    with torch.no_grad():
        model.verb[2].bias[VERBS.index("type")] = 20.0
        out = model.generate(
            batch["images"], batch["prompts"], batch["words"], 30, GRAMMAR,
            marks=batch["marks"], state=batch["state"],
        )  # fmt: skip
    assert all(_text(d.ids).startswith('type("') for d in out), [_text(d.ids) for d in out]
    logits = torch.tensor([[5.0, 0, 0, 0, 0, 0, 0.0, 0, 0, 0, 0, 0], [0.0] * 6 + [1.0] + [0.0] * 5])
    same = GazeVLM._choose_verbs(logits, GRAMMAR, [7, 7])
    alone = GazeVLM._choose_verbs(logits, GRAMMAR, [0, 1])
    assert [bytes(v) for v in same] == [b"click(", b"click("]
    assert [bytes(v) for v in alone] == [b"click(", b"type("]
    only_done = ActionGrammar(["done", "type"])  # a profile that offers fewer actions
    assert [bytes(v) for v in GazeVLM._choose_verbs(logits, only_done, [0, 1])] == [
        b"type(",
        b"type(",
    ]
    unknown = ActionGrammar(["give_up"])  # nothing the head knows: the text decides
    assert GazeVLM._choose_verbs(logits, unknown, [0, 1]) == [[], []]


def test_batches_keep_a_pages_tiles_together() -> None:
    assert _chunks([0] * 40 + [1] * 20 + [2] * 20 + [3], 32) == [(0, 40), (40, 60), (60, 81)]
    assert _chunks(list(range(70)), 32) == [(0, 32), (32, 64), (64, 70)]


def test_a_page_takes_its_action_from_the_likeliest_tile_and_its_point_from_the_surest() -> None:
    def tile(
        text: str, lp: float, peak: float = 0.0, conf: float = 0.0, feats: tuple[float, ...] = ()
    ) -> Decoded:
        enc = encode_target(text)
        guess = PointGuess(1, 2, conf, peak, feats)
        return Decoded(list(enc.ids), [guess for _ in enc.points], lp)

    empty = (0.0,) * 7  # an outline with no word in it
    billing = (1.0, 1.0, 0.0, 1.0, 1.0, 0.99, 1.0)  # the quoted goal word
    other = (0.0, 0.0, 0.0, 0.3, 0.0, 0.98, 0.0)  # a word the goal does not name
    tiles = [
        tile("click(3, 4)", -0.2, peak=0.3, conf=0.7, feats=other),
        tile('scroll(3, 4, "down")', -0.5, peak=0.99, conf=0.99),  # another action
        tile("click(5, 6)", -0.9, peak=0.8, conf=0.9, feats=empty),  # surer, but no goal word
        tile("click(7, 8)", -0.9, peak=0.5, conf=0.6, feats=billing),  # on the goal's word
    ]
    assert choose_tile(tiles) == 3  # the action from tile 0, the point from the goal's word
    assert choose_tile(tiles[:3]) == 2  # no goal word: the surest click (1 - P(not here))
    assert choose_tile(tiles[:3], by_peak) == 2
    assert choose_tile([tile("done()", -0.1), *tiles]) == 0  # no point: the likeliest text
    # patches have no features; among goal words the surest wins
    assert choose_tile([tiles[0], tile("click(1, 1)", -0.3, conf=0.99)]) == 1
    assert choose_tile([*tiles, tile("click(9, 9)", -0.5, conf=0.65, feats=billing)]) == 4


def _steps(n: int, seed: int) -> list[Example]:
    """A goal names a word to enter into the grey box: with no history the answer clicks the box,
    after that click it types the word, after the typing it is done."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        img = Image.new("RGB", (TINY.canvas, TINY.canvas), "white")
        x, y = rng.randint(0, TINY.canvas - 24), rng.randint(0, TINY.canvas - 10)
        ImageDraw.Draw(img).rectangle((x, y, x + 24, y + 10), outline=(90, 90, 90), width=1)
        word = "".join(rng.choice("abcdefghkmnpqrstuvwxyz") for _ in range(4))
        goal = f"Goal: enter {word} in the box"
        stage = rng.randrange(3)
        lines = [goal]
        if stage >= 1:
            lines += ["Earlier steps:", f"1. click(x={x + 12}, y={y + 5}) -> ok"]
        if stage == 2:
            lines.append(f"2. type(text='{word}', submit=False) -> ok")
        prompt = "\n".join(lines)
        answer = [f"click({x + 12}, {y + 5})", f'type("{word}")', "done()"][stage]
        enc = encode_target(answer)
        dists, cells, offs = [], [], []
        for p in enc.points:
            d, c, o = pointer_label(p, (x, y, 24, 10), TINY)
            dists, cells, offs = [d], [c], [o]
        out.append(
            Example(
                to_canvas(img, Crop(0, 0, 1.0), TINY.canvas),
                prompt_ids(prompt, TINY),
                canvas_slots(score_words([], prompt), (0, 0), TINY),
                list(enc.ids),
                dists,
                cells,
                offs,
                marks=patch_marks(history_clicks(prompt), (0, 0), TINY),
                state=step_state(prompt, score_words([], prompt), None, TINY),
            )
        )
    return out


def test_a_tiny_model_learns_click_then_type_then_done() -> None:
    model = _train(_steps, 120)
    test = _steps(24, seed=99_999)
    batch = collate(test, TINY)
    with torch.no_grad():
        out = model.generate(
            batch["images"], batch["prompts"], batch["words"], 30, GRAMMAR,
            marks=batch["marks"], state=batch["state"],
        )  # fmt: skip
    want = [_text(e.target).split("(")[0] for e in test]
    got = [_text(d.ids).split("(")[0] for d in out]
    right = sum(g == w for g, w in zip(got, want, strict=True))
    assert right >= 22, list(zip(got, want, strict=True))


def test_clicks_keep_out_of_the_fields_typed_into() -> None:
    """``avoid_typed_field``: each click a ``type(...)`` followed gives the smallest field-sized
    outline around it, and a click decoded next lands outside every such box."""
    from perception.builtin.policy import typed_clicks
    from perception.builtin.predict import typed_fields
    from perception.builtin.reader import Word

    typed = "Goal: g\nEarlier steps:\n1. click(x=75, y=106) -> ok\n2. key(keys='Control+a') -> ok\n"
    typed += "3. type(text='Lima', submit=False) -> ok\n"
    assert typed_clicks(typed) == [(75.0, 106.0, "Lima")]
    more = (
        typed + "4. click(x=75, y=150) -> ok\n5. type(text='x y') -> ok\n6. click(x=9, y=9) -> ok\n"
    )
    assert typed_clicks(more) == [(75.0, 106.0, "Lima"), (75.0, 150.0, "x y")]  # not the last
    assert typed_clicks(more + "7. scroll(x=1, y=2) -> ok") == []  # positions no longer hold
    assert typed_clicks("1. click(x=5, y=5) -> ok\n2. done() -> ok\n3. type(text='a') -> ok") == []
    assert typed_clicks("1. type(text='a') -> ok") == [] and typed_clicks("Goal: g") == []
    card = Word("", 0, 0, 400, 300, 0.0)  # holds the click, but no field is 300 px tall
    field = Word("", 20, 90, 200, 32, 0.0)
    button = Word("", 240, 90, 80, 32, 0.0)
    lima = [Word("Lima.", 24, 96, 30, 14, 0.9), Word("Submit", 250, 96, 50, 14, 0.9)]
    typed_lima = [(75.0, 106.0, "Lima")]
    assert typed_fields(typed_lima, [card, button, field], lima) == [(20, 90, 200, 32)]
    assert typed_fields(typed_lima, [card, button], lima) == []
    assert typed_fields([], [field], lima) == []
    # the field must show what was typed: a list item clicked before typing is no field
    assert typed_fields(typed_lima, [field], [Word("Limassol", 24, 96, 40, 14, 0.9)]) == []
    dots = [Word("·····", 24, 96, 30, 14, 0.5)]  # a password field
    assert typed_fields([(75.0, 106.0, "hunter2")], [field], dots) == [(20, 90, 200, 32)]
    assert typed_fields([(75.0, 106.0, "hunter2")], [field], []) == [(20, 90, 200, 32)]  # unread
    tick = Word("", 70, 100, 14, 14, 0.0)  # no word, but no field's shape either
    assert typed_fields([(75.0, 106.0, "a")], [tick], []) == []

    torch.manual_seed(0)
    model = GazeVLM(TINY).eval()
    batch = collate(_steps(2, seed=0), TINY)
    args = (batch["images"], batch["prompts"], batch["words"], 30, GRAMMAR)
    kw = {"marks": batch["marks"], "state": batch["state"]}
    with torch.no_grad():
        assert model.verb is not None
        model.verb[2].bias[VERBS.index("click")] = 20.0
        free = model.generate(*args, **kw)
        x, y = free[0].points[0].x, free[0].points[0].y
        box = (x - 6.0, y - 6.0, 12.0, 12.0)
        far = (500.0, 500.0, 5.0, 5.0)  # off the canvas: changes nothing
        kept = model.generate(*args, **kw, avoid=[[far, box], []])
    assert kept[1].points == free[1].points  # a row without boxes is untouched
    p = kept[0].points[0]
    assert not (box[0] <= p.x <= box[0] + 12 and box[1] <= p.y <= box[1] + 12), (p, box)


def test_done_never_follows_a_type_without_enter_where_asked() -> None:
    """``ModelConfig.submit_typing``: the newest step typed without Enter, the head's done() is
    barred and its next choice written; other rows, and other verbs, are left alone."""
    typed = "Goal: g\nEarlier steps:\n1. click(x=75, y=106) -> ok\n"
    assert typed_without_enter(typed + "2. type(text='Lima', submit=False) -> ok")
    assert not typed_without_enter(typed + "2. type(text='Lima', submit=True) -> ok")
    assert not typed_without_enter(typed)  # the newest step clicked
    assert not typed_without_enter("Goal: Type Lima and press Enter.")  # no step yet
    done, click = VERBS.index("done"), VERBS.index("click")
    logits = torch.zeros(3, len(VERBS))
    logits[:, done], logits[:, click] = 5.0, 1.0
    got = GazeVLM._choose_verbs(logits, GRAMMAR, [0, 1, 1], no_done=[True, False, False])
    assert [bytes(v) for v in got] == [b"click(", b"done(", b"done("]
    only = ActionGrammar(["done"])  # a grammar of done alone still gets it
    assert [bytes(v) for v in GazeVLM._choose_verbs(logits[:1], only, [0], no_done=[True])] == [
        b"done("
    ]
    torch.manual_seed(0)
    model = GazeVLM(TINY).eval()
    batch = collate(_steps(2, seed=0), TINY)
    with torch.no_grad():
        assert model.verb is not None
        model.verb[2].bias[done] = 20.0
        out = model.generate(
            batch["images"], batch["prompts"], batch["words"], 30, GRAMMAR,
            marks=batch["marks"], state=batch["state"], no_done=[True, False],
        )  # fmt: skip
    assert not _text(out[0].ids).startswith("done(") and _text(out[1].ids).startswith("done(")
