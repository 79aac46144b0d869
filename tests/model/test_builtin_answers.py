"""Answers read off the page (``ModelConfig.answer_pointer``): ``done("$129.99")`` is trained as a
point at the word the OCR read as "$129.99", decoded under the grammar as ``done(<point>)``, and
written back as that word's text by the predictor.

Pages here are word lists as the OCR gives them (CSS px); the predictor test fakes only the model's
decode, so what is checked is the path from a chosen point to the answer text.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from PIL import Image

from perception.builtin.answers import (
    answer_of,
    answer_text,
    is_answer_point,
    point_answer,
    read_answer,
    saying,
)
from perception.builtin.data import make_example
from perception.builtin.grammar import ActionGrammar
from perception.builtin.model import Decoded, GazeVLM, PointGuess
from perception.builtin.predict import Page, Predictor
from perception.builtin.reader import Word
from perception.builtin.tokenizer import EOS, POINT
from perception.builtin.train import PRESETS
from perception.parsers import dialect_actions
from tasks.synth.samples import Sample
from tests.model.steps import one_step

TINY = PRESETS["tiny"].model.model_copy(update={"answer_pointer": True})
OLD = TINY.model_copy(update={"answer_pointer": False})  # the shipped model's way
PRICE = Word("$129.99", 30, 20, 40, 12, 0.98)
PAGE = [
    Word("Toaster", 4, 20, 22, 12, 0.99),
    PRICE,
    Word("Kettle", 4, 40, 20, 12, 0.99),
    Word("$45.00", 30, 40, 36, 12, 0.97),
]


def test_a_done_target_becomes_a_point_at_the_one_word_saying_it() -> None:
    assert answer_of('done("$129.99")') == "$129.99"
    assert answer_of('done("say \\"hi\\"")') == 'say "hi"'
    assert answer_of("done()") is None and answer_of("click(3, 4)") is None
    target, box = point_answer('done("$129.99")', PAGE, 2.0)
    assert target == "done(100, 52)" and box == (30, 20, 40, 12)  # centre (50, 26) x 2 image px
    assert saying("$45.00", [Word("$45.00.", 0, 0, 9, 9, 1.0)]) is not None  # edge punctuation
    # nothing to point at: the bytes stay the target
    for value in ("$7.00", "In stock"):  # no such word; two words
        assert point_answer(f'done("{value}")', PAGE, 1.0) == (f'done("{value}")', None)
    twice = [*PAGE, Word("$129.99", 30, 60, 40, 12, 0.9)]
    assert point_answer('done("$129.99")', twice, 1.0) == ('done("$129.99")', None)  # which?
    assert point_answer("click(5, 6)", PAGE, 1.0) == ("click(5, 6)", None)


def test_the_word_at_a_point_is_read_back_as_the_answer() -> None:
    assert read_answer((50, 26), PAGE) is PRICE  # inside its box
    assert read_answer((75, 24), PAGE) is PRICE  # beside it: the nearest centre
    assert read_answer((1, 1), []) is None
    assert answer_text((50, 26), PAGE) == 'done("$129.99")'
    assert answer_text((50, 26), [Word('5" pan', 30, 20, 40, 12, 1.0)]) == 'done("5\\" pan")'
    assert answer_text((0, 0), []) == "done()"
    assert is_answer_point([*b"done(", POINT, *b")", EOS])
    assert not is_answer_point([*b"click(", POINT, *b")", EOS])
    assert not is_answer_point([*b'done("a")', EOS])


def test_the_grammar_lets_done_take_a_point_or_a_string_not_both() -> None:
    g = ActionGrammar(dialect_actions("gaze"), answer_points=True)
    plain = ActionGrammar(dialect_actions("gaze"))

    def walk(grammar: ActionGrammar, tokens: list[int]) -> torch.Tensor:
        s = grammar.start()
        for t in tokens:
            assert grammar.allowed(s)[t], (bytes(x for x in tokens if x < 256), t)
            s = grammar.advance(s, t)
        return grammar.allowed(s)

    opened = walk(g, list(b"done("))
    assert opened[POINT] and opened[ord('"')] and opened[ord(")")]
    pointed = walk(g, [*b"done(", POINT])
    assert pointed[ord(")")] and not pointed[ord(",")] and not pointed[ord('"')]
    assert not walk(g, list(b'done("a"'))[ord(",")]  # the answer string alone
    assert not walk(g, list(b'done("'))[POINT]
    assert not walk(plain, list(b"done("))[POINT]  # without answer_points, as before
    assert not walk(g, [*b"click(", POINT])[ord(",")]  # other verbs as before


def _sample(tmp_path: Path, target: str) -> tuple[Sample, Path]:
    """A 64x48 CSS px page shot at 2 image px per CSS px, asked what the toaster costs."""
    return one_step(tmp_path, "answer", "How much does Toaster cost?", target)


def test_training_points_at_the_answer_word(tmp_path: Path) -> None:
    words = [Word("Toaster", 2, 10, 22, 10, 0.99), Word("$129.99", 30, 10, 30, 10, 0.98)]
    sample, image = _sample(tmp_path, 'done("$129.99")')
    ex = make_example(sample, image, TINY, random.Random(0), words=words, negative_rate=0.0)
    assert ex is not None
    assert ex.target == [*b"done(", POINT, *b")", EOS]
    (dist,) = ex.ptr_dist
    on = dist.nonzero().flatten().tolist()
    slots = [k - TINY.grid**2 for k in on if k >= TINY.grid**2]
    assert len(slots) == 1 and ex.words.ids[slots[0], :7].tolist() == list(b"$129.99")
    old = make_example(sample, image, OLD, random.Random(0), words=words, negative_rate=0.0)
    assert old is not None and old.target == [*b'done("$129.99")', EOS] and not old.ptr_dist
    misread = [words[0], Word("S129.99", 30, 10, 30, 10, 0.6)]  # no word says it: bytes
    ex = make_example(sample, image, TINY, random.Random(0), words=misread, negative_rate=0.0)
    assert ex is not None and ex.target == [*b'done("$129.99")', EOS]


def test_the_predictor_answers_with_the_text_of_the_chosen_word(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    torch.manual_seed(0)
    model = GazeVLM(TINY)
    predictor = Predictor(model, actions_only=True, bf16=False)
    assert predictor.grammar is not None and predictor.grammar.arity["done"].points == (0, 1)
    chosen: list[tuple[float, float]] = []

    def fake_generate(images: torch.Tensor, *args: object, **kw: object) -> list[Decoded]:
        x, y = chosen[0]
        ids = [*b"done(", POINT, *b")", EOS]
        return [Decoded(ids, [PointGuess(x, y, 0.9, 0.8)], -0.1) for _ in range(len(images))]

    monkeypatch.setattr(model, "generate", fake_generate)
    page = Page(Image.new("RGB", (128, 96), "white"), 2.0, "Goal: How much does Toaster cost?",
                words=PAGE)  # fmt: skip
    chosen.append((50.0, 26.0))  # canvas px = CSS px on a one-tile page
    (pred,) = predictor.predict([page])
    assert pred.text == 'done("$129.99")' and pred.points == ()
    chosen[0] = (12.0, 45.0)  # nearer "Kettle"
    (pred,) = predictor.predict([page])
    assert pred.text == 'done("Kettle")'
    plain = Predictor(GazeVLM(OLD), actions_only=True, bf16=False)
    monkeypatch.setattr(plain.model, "generate", fake_generate)
    (pred,) = plain.predict([page])  # a model without answer_pointer writes what it decoded
    assert pred.text == "done(24, 90)"  # (12, 45) CSS px at 2 image px each


HEAD = TINY.model_copy(update={"answer_head": True, "answer_words": 64})
ITEMS = ("Vase", "Toaster", "Kettle", "Lamp", "Rug", "Clock", "Mirror", "Stool", "Tray", "Fan")


def _page(rng: random.Random, tmp_path: Path, question: bool) -> tuple[Sample, Path, list[Word]]:
    """A one-row shop: an item, its price and a button, in shuffled places; asked its price, or
    told to press the button (whose answer is ``done()``)."""
    item, price = rng.choice(ITEMS), f"${rng.randint(2, 480)}.{rng.choice((0, 49, 95)):02d}"
    xs = rng.sample([2, 22, 42], 3)
    y = rng.choice([8, 24, 40])
    words = [Word(item, xs[0], y, 16, 8, 0.99), Word(price, xs[1], y, 18, 8, 0.99),
             Word("Buy", xs[2], y, 12, 8, 0.99)]  # fmt: skip
    goal = f"How much does {item} cost?" if question else f"Press Buy for {item}."
    sample, image = _sample(tmp_path, f'done("{price}")' if question else "done()")
    sample = sample.model_copy(update={"prompt": f"Goal: {goal}", "goal": goal})
    return sample, image, words


def test_a_tiny_answer_head_learns_when_and_where_to_answer_alone(tmp_path: Path) -> None:
    """``answer_head``: at its start it never answers with a point (the model answers as
    before); trained alone (the answer logit and the answer's query, the rest frozen), it points
    for questions and not for orders, at the price, and the rest of the model is unchanged."""
    from perception.builtin.answers import answer_label
    from perception.builtin.data import collate

    torch.manual_seed(0)
    model = GazeVLM(HEAD)
    grammar = ActionGrammar(["done"], answer_points=True)  # the verb is done: how it answers
    rng = random.Random(0)

    def decode(
        sample: Sample, image: Path, words: list[Word]
    ) -> tuple[list[int], PointGuess | None]:
        ex = make_example(sample, image, HEAD, random.Random(1), words=words, negative_rate=0.0)
        assert ex is not None
        batch = collate([ex], HEAD)
        out = model.generate(batch["images"], batch["prompts"], batch["words"], 12, grammar,
                             state=batch["state"])[0]  # fmt: skip
        return out.ids, (out.points[0] if out.points else None)

    model.eval()
    pages = [_page(rng, tmp_path, q) for q in (True, False) * 4]
    assert all(decode(*p)[1] is None for p in pages)  # zero start: never a point
    assert answer_label([*b"done(", POINT, *b")", EOS]) == 1
    assert answer_label([*b"done()", EOS]) == 0 and answer_label([*b"click(", POINT]) == -1
    frozen = {k: v.clone() for k, v in model.state_dict().items()}
    for n, p in model.named_parameters():
        p.requires_grad_(n.startswith(("answer.", "ans_q.")))
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    for _ in range(250):
        exs = []
        for _ in range(16):
            s, img, words = _page(rng, tmp_path, rng.random() < 0.5)
            ex = make_example(s, img, HEAD, rng, words=words, negative_rate=0.0)
            assert ex is not None
            exs.append(ex)
        loss, parts = model.loss(**collate(exs, HEAD))
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert parts["answer"] < 0.2
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, frozen[k])]
    assert changed and all(k.startswith(("answer.", "ans_q.")) for k in changed)
    model.eval()
    decided = priced = 0
    test = random.Random(99)
    for i in range(16):
        question = i % 2 == 0
        s, img, words = _page(test, tmp_path, question)
        ids, point = decode(s, img, words)
        decided += int((point is not None) == question and is_answer_point(ids) == question)
        if question and point is not None:
            priced += int(read_answer((point.x, point.y), words) is words[1])
    assert decided >= 15, decided
    assert priced >= 6, priced  # of 8 questions
