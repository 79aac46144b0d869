"""The built-in model: tokenizer and pointer round trips, learning, export/load, the backend through
a Frame, and the training pipeline end to end (tiny preset, real generated pages) with resume.

Models here are miniature (64 px canvas, width 32) and trained on the spot; no shipped weights.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image, ImageDraw

from actions.types import Click
from perception.builtin.data import Crop, Example, collate, pointer_label, prompt_ids, to_canvas
from perception.builtin.model import GazeVLM, cell_point
from perception.builtin.progress import step_state
from perception.builtin.tokenizer import EOS, PAD, POINT, decode_target, encode_target
from perception.builtin.train import NEXT_PARTS, PRESETS, _lr, run
from perception.builtin.weights import MAX_BYTES, WeightsError, export, load
from perception.builtin.words import canvas_slots, score_words
from perception.frames import Frame
from perception.model import Message, ModelError, ModelImage, ModelRequest
from perception.parsers import parse

TINY = PRESETS["tiny"].model


@pytest.mark.parametrize(
    ("text", "points"),
    [
        ("click(412, 133)", 1),
        ("drag(1, 2, 300, 4000)", 2),
        ('scroll(200, 43, "down", 50)', 1),
        ('type("hi, there")', 0),
        ("(505, 77), (593, 113)", 2),
        ('done("$156.00")', 0),
    ],
)
def test_target_tokens_round_trip(text: str, points: int) -> None:
    enc = encode_target(text)
    assert enc.ids.count(POINT) == len(enc.points) == points
    assert decode_target(enc.ids, enc.points) == text


def test_pointer_labels_detokenize_exactly() -> None:
    rng = random.Random(1)
    for _ in range(200):
        p = (rng.uniform(0, TINY.canvas - 1e-3), rng.uniform(0, TINY.canvas - 1e-3))
        dist, cell, off = pointer_label(p, None, TINY)
        assert dist[cell] == 1.0
        back = cell_point(cell, off, TINY)
        assert back == pytest.approx(p, abs=1e-9)
    dist, cell, _ = pointer_label((TINY.canvas + 5.0, 3.0), None, TINY)
    assert cell == -1 and dist[-1] == 1.0  # outside the canvas: "not here"
    dist, cell, _ = pointer_label((20.0, 20.0), (0.0, 0.0, 64.0, 40.0), TINY)
    assert int((dist > 0).sum()) == TINY.grid * 2 + TINY.grid  # 3 rows of centres inside the box


def _box_page(rng: random.Random, size: tuple[int, int]) -> tuple[Image.Image, tuple[int, ...]]:
    img = Image.new("RGB", size, "white")
    w, h = rng.randint(10, 20), rng.randint(8, 14)
    x, y = rng.randint(0, size[0] - w), rng.randint(0, size[1] - h)
    ImageDraw.Draw(img).rectangle((x, y, x + w, y + h), fill=(220, 30, 30))
    return img, (x, y, w, h)


def _examples(n: int, seed: int = 0) -> list[Example]:
    """Click-the-red-box screens that fit the tiny canvas; answers in canvas px."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        img, (x, y, w, h) = _box_page(rng, (TINY.canvas, TINY.canvas))
        enc = encode_target(f"click({x + w // 2}, {y + h // 2})")
        d, c, o = pointer_label(enc.points[0], (x, y, w, h), TINY)
        image = to_canvas(img, Crop(0, 0, 1.0), TINY.canvas)
        goal = "Goal: click the red box"
        out.append(
            Example(
                image,
                prompt_ids(goal, TINY),
                canvas_slots(score_words([], goal), (0, 0), TINY),
                list(enc.ids),
                [d],
                [c],
                [o],
                state=step_state(goal, score_words([], goal), None, TINY),
            )
        )
    return out


def _blank_examples(n: int) -> list[Example]:
    """Screens without the red box: the pointer's answer is "not in this image" (as for a tile
    that does not show the target)."""
    blank = to_canvas(Image.new("RGB", (8, 8), "white"), Crop(0, 0, 1.0), TINY.canvas)
    goal = "Goal: click the red box"
    enc = encode_target(f"click({TINY.canvas + 10}, 5)")
    d, c, o = pointer_label(enc.points[0], None, TINY)
    slots = canvas_slots(score_words([], goal), (0, 0), TINY)
    ex = Example(blank, prompt_ids(goal, TINY), slots, list(enc.ids), [d], [c], [o],
                 state=step_state(goal, score_words([], goal), None, TINY))  # fmt: skip
    return [ex] * n


@pytest.fixture(scope="module")
def trained() -> GazeVLM:
    """A tiny model overfitted on one batch: it must learn both the text and the pointer, and
    "not here" on screens without the box (what makes tile choice meaningful). Trained on one
    CPU thread: with two, the backward's reductions summed in another order from run to run
    (the row embeddings differed by 0.03-0.05 after 200 steps), and the tests that read its
    answers passed or failed by chance."""
    torch.manual_seed(0)
    model = GazeVLM(TINY)
    batch = collate(_examples(16) + _blank_examples(4), TINY)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    first = last = 0.0
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for step in range(200):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                loss, _ = model.loss(**batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            first = float(loss.detach()) if step == 0 else first
            last = float(loss.detach())
    finally:
        torch.set_num_threads(threads)
    assert last < 0.25 * first, f"loss {first:.3f} -> {last:.3f}: the tiny batch was not learned"
    return model.eval()


def test_overfits_a_tiny_batch_text_and_pointer(trained: GazeVLM) -> None:
    exs = _examples(8)
    batch = collate(exs, TINY)
    out = trained.generate(batch["images"], batch["prompts"], batch["words"], 20)
    hits = 0
    for ex, dec in zip(exs, out, strict=True):
        assert decode_target(dec.ids, [(0, 0)] * len(dec.points)) == "click(0, 0)"
        cells = (ex.ptr_dist[0][:-1] > 0).nonzero().flatten().tolist()
        p = dec.points[0]
        hits += int(int(p.y // TINY.stride) * TINY.grid + int(p.x // TINY.stride) in cells)
    assert hits >= 7


def test_verb_weight_counts_the_action_name_more() -> None:
    """The text loss is a weighted mean: ``verb_weight`` w counts the tokens before the first "("
    w times; 1 is the plain mean."""
    torch.manual_seed(0)
    model = GazeVLM(TINY).eval()
    batch = collate(_examples(4), TINY)
    with torch.no_grad():
        plain = model.loss(**batch)[1]["text"]
        heavy = model.loss(**batch, verb_weight=1e6)[1]["text"]
        # the same means by hand, from the model's own next-token log-probabilities
        x, valid = model._prefix(batch["images"], batch["prompts"], batch["words"])
        t = batch["targets"]
        tin = t.clone()
        tin[tin == PAD] = EOS
        h, _ = model._run(torch.cat([x, model.embed(tin)], 1), torch.cat([valid, t != PAD], 1))
        p = batch["prompts"].shape[1]
        logp = model.next_logp(h[:, x.shape[1] - 1 : -1], h[:, :p], batch["prompts"])
    nll = -logp.gather(2, t.clamp(max=logp.shape[-1] - 1)[..., None]).squeeze(-1)
    verb = torch.zeros_like(t, dtype=torch.bool)
    verb[:, :5] = True  # "click" in every answer
    assert plain == pytest.approx(float(nll[t != PAD].mean()), rel=1e-4)
    assert heavy == pytest.approx(float(nll[verb].mean()), rel=1e-3)


def test_export_load_round_trip(trained: GazeVLM, tmp_path: Path) -> None:
    size = export(trained, tmp_path / "m")
    assert 0 < size <= MAX_BYTES
    back = load(tmp_path / "m")
    assert back.config == TINY
    for (k, a), (k2, b) in zip(
        trained.state_dict().items(), back.state_dict().items(), strict=True
    ):
        assert k == k2
        assert torch.equal(a.to(torch.bfloat16).float(), b), k
    (tmp_path / "m" / "tokenizer.json").write_text("{}", encoding="utf-8")
    with pytest.raises(WeightsError, match="tokenizer"):
        load(tmp_path / "m")


def test_backend_answer_maps_back_through_the_frame(trained: GazeVLM, tmp_path: Path) -> None:
    from perception.builtin.backend import BuiltinModel

    export(trained, tmp_path / "m")
    model = BuiltinModel(tmp_path / "m")
    rng = random.Random(7)
    css, box = _box_page(rng, (120, 80))  # bigger than the 64 px canvas: tiles
    image = css.resize((240, 160), Image.Resampling.NEAREST)  # a DPR-2 screenshot of it
    frame = Frame(region_x=100, region_y=50, region_w=120, region_h=80, image_w=240, image_h=160)
    req = ModelRequest(
        (
            Message("system", "You are Gaze."),
            Message(
                "user",
                "Goal: click the red box\nURL: http://127.0.0.1/",
                (ModelImage(image, frame),),
            ),
        )
    )
    (done,) = model.generate([req])
    assert done.extra["tiles"] > 1 and done.latency_s > 0
    parsed = parse(done.text, frame, "gaze")
    assert not isinstance(parsed, Exception) and hasattr(parsed, "actions"), done.text
    (action,) = parsed.actions
    assert isinstance(action, Click)
    assert frame.contains_viewport(action.x, action.y)
    x, y, w, h = box
    assert 100 + x - 3 <= action.x <= 100 + x + w + 3 and 50 + y - 3 <= action.y <= 50 + y + h + 3


def test_backend_without_weights_is_a_clear_error(tmp_path: Path) -> None:
    from perception.builtin.backend import BuiltinModel

    with pytest.raises(ModelError, match="gaze train"):
        BuiltinModel(tmp_path)


# four steps of the tiny preset, no evaluation: what the resume/loader/overflow tests train
SHORT = PRESETS["tiny"].model_copy(update={"eval_samples": 0, "stage1_steps": 2, "stage2_steps": 2})


def _assert_same_weights(a: Path, b: Path) -> None:
    wa = torch.load(a / "checkpoint.pt", weights_only=True)["model"]
    wb = torch.load(b / "checkpoint.pt", weights_only=True)["model"]
    for k, v in wa.items():
        assert torch.equal(v, wb[k]), k


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from perception.builtin.train import ensure_data

    data = tmp_path_factory.mktemp("builtin-data")
    ensure_data(PRESETS["tiny"], data)
    return data


@pytest.mark.browser
def test_tiny_pipeline_runs_end_to_end(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = run(PRESETS["tiny"], out, tiny_data)
    assert result["step"] == PRESETS["tiny"].steps
    assert 0 < result["export_bytes"] <= MAX_BYTES
    load(out / "export")
    recs = [json.loads(line) for line in (out / "log.jsonl").read_text("utf-8").splitlines()]
    assert sum("eval" in r for r in recs) >= 1
    assert sum("loss" in r for r in recs) == PRESETS["tiny"].steps
    fitted = [r["type_ahead"] for r in recs if "type_ahead" in r]  # the type-ahead head, fitted
    assert len(fitted) == 1 and fitted[0]["goals"] >= 1 and fitted[0]["rows"] >= 1
    assert fitted[0]["plan_accuracy"] is not None  # and the plan head beside it
    found = [r["scroll_find"] for r in recs if "scroll_find" in r]  # the scroll-find head too
    assert len(found) == 1 and found[0]["rows"] >= 1 and 0 <= found[0]["accuracy"] <= 1
    assert "<svg" in (out / "curves.html").read_text(encoding="utf-8")


@pytest.mark.browser
def test_training_on_cached_reads_still_reads_the_heldout_split(
    tiny_data: Path, tmp_path: Path
) -> None:
    """``--read-only-cached`` leaves unread training screenshots out, but the held-out split is
    read before the run: evaluated without its words, a model scores near zero whatever it
    learned (run 29 of docs/BUILTIN.md was scored 7% that way)."""
    import shutil

    from perception.builtin.ocr_cache import WORDS, shard_dirs

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    run(PRESETS["tiny"], tmp_path / "warm", data)  # reads every shard
    for shard in shard_dirs(data / "heldout"):
        (shard / WORDS).unlink()
    run(PRESETS["tiny"], tmp_path / "cached", data, read_all=False)
    assert all((shard / WORDS).is_file() for shard in shard_dirs(data / "heldout"))


@pytest.mark.browser
def test_the_pool_takes_each_source_at_its_weight_and_widths(
    tiny_data: Path, tmp_path: Path
) -> None:
    """``--data DIR:width=-W`` reads and pools only the narrow pages' train screens (the
    held-out split whole); ``--extra-data DIR:weight=2`` lists each of its samples twice."""
    import shutil

    from perception.builtin.ocr_cache import WORDS, shard_dirs
    from perception.builtin.sources import DataSource
    from perception.builtin.train import ensure_ocr, load_pool, training_pool

    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    cut = 400
    for shard in shard_dirs(data):
        (shard / WORDS).unlink(missing_ok=True)
        if shard.parent.name == "train":  # the tiny preset renders 160 px pages: say half are wide
            lines = []
            for line in (shard / "samples.jsonl").read_text(encoding="utf-8").splitlines():
                rec = json.loads(line)
                if int(rec["page"]["page_id"].encode().hex(), 16) % 2:
                    rec["page"]["viewport_w"] = 800
                lines.append(json.dumps(rec) + "\n")
            (shard / "samples.jsonl").write_text("".join(lines), encoding="utf-8")
    every = load_pool(data, "train", TINY)
    assert {s.sample.page.viewport_w for s in every} == {160, 800}
    narrow = DataSource.parse(f"{data}:width=-{cut}")
    pool = training_pool([narrow], TINY, seed=0)
    assert pool and all(s.sample.page.viewport_w <= cut for s in pool)
    assert len(pool) == sum(s.sample.page.viewport_w <= cut for s in every)
    words = ensure_ocr(data, only={str(s.image_path) for s in pool})
    read_train = {k for k in words if "/train/" in k}
    assert read_train == {str(s.image_path) for s in pool}  # the wide pages' were not read
    heldout = load_pool(data, "heldout", TINY)
    assert heldout and all(str(s.image_path) in words for s in heldout)

    wide = [s for s in every if s.sample.page.viewport_w > cut]
    both = training_pool(
        [narrow, DataSource.parse(f"{data}:weight=2:width={cut + 1}-")], TINY, seed=0
    )
    assert len(both) == len(pool) + 2 * len(wide)
    ids = [s.sample.id for s in both]
    assert all(ids.count(s.sample.id) == 2 for s in wide)
    half = training_pool([DataSource.parse(f"{data}:weight=0.5:width={cut + 1}-")], TINY, seed=0)
    assert len(half) == round(len(wide) / 2)
    assert (
        ensure_ocr(data, read=False, only={str(s.image_path) for s in half}).keys() == words.keys()
    )
    ids = [s.sample.id for s in both]
    assert all(ids.count(s.sample.id) == 2 for s in wide)


@pytest.mark.browser
def test_resume_gives_the_same_state(tiny_data: Path, tmp_path: Path) -> None:
    cfg = SHORT
    run(cfg, tmp_path / "straight", tiny_data)
    run(cfg, tmp_path / "resumed", tiny_data, stop_after=2)
    mid = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    assert mid["step"] == 2
    run(cfg, tmp_path / "resumed", tiny_data)
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)
    assert a["step"] == b["step"] == 4
    _assert_same_weights(tmp_path / "straight", tmp_path / "resumed")
    other = cfg.model_copy(update={"seed": 5})
    with pytest.raises(ValueError, match="another config"):
        run(other, tmp_path / "resumed", tiny_data)


@pytest.mark.browser
def test_a_spent_time_budget_ends_the_run_with_an_export(tiny_data: Path, tmp_path: Path) -> None:
    """``minutes``: a lent GPU's run ends on time whatever its speed, and ends exported."""
    cfg = PRESETS["tiny"].model_copy(update={"stage1_steps": 2, "stage2_steps": 400})
    out = tmp_path / "budget"
    result = run(cfg, out, tiny_data, minutes=1e-4)  # 6 ms: spent after the first step
    assert result["cut"] == 1.0 and result["step"] == 1
    assert 0 < result["export_bytes"] <= MAX_BYTES
    load(out / "export")
    lines = [json.loads(line) for line in (out / "log.jsonl").read_text("utf-8").splitlines()]
    cut = [r["cut"] for r in lines if "cut" in r]
    assert len(cut) == 1 and "the time budget" in cut[0] and any("eval" in r for r in lines)
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 1  # resumable


def test_the_learning_rate_decays_over_the_steps_or_the_time_budget() -> None:
    cfg = PRESETS["tiny"].model_copy(update={"stage1_steps": 0, "stage2_steps": 1000, "warmup": 10})
    assert _lr(cfg, 0, spent=0.9) == pytest.approx(cfg.lr / 10)  # warm-up goes by the steps
    assert _lr(cfg, 10) == pytest.approx(cfg.lr)
    assert _lr(cfg, 10, spent=0.5) == pytest.approx(cfg.lr * 0.55)  # half the budget: mid-cosine
    assert _lr(cfg, 10, spent=1.0) == _lr(cfg, 1000) == pytest.approx(cfg.lr * 0.1)
    assert _lr(cfg, 505, spent=0.1) == pytest.approx(cfg.lr * 0.55)  # the steps are further on


@pytest.mark.browser
def test_loader_processes_train_the_same_model(tiny_data: Path, tmp_path: Path) -> None:
    cfg = SHORT
    run(cfg, tmp_path / "here", tiny_data)
    run(cfg, tmp_path / "loaders", tiny_data, workers=2)
    _assert_same_weights(tmp_path / "here", tmp_path / "loaders")


class _InfGrad(torch.autograd.Function):
    """Adds 0 to the loss and sends an infinite gradient back: what a bf16 overflow does."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.shape = x.shape
        return x.new_zeros(())

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        return torch.full(ctx.shape, float("inf"))


@pytest.mark.browser
def test_non_finite_steps_are_skipped_and_a_streak_ends_the_run(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from perception.builtin import train

    cfg = SHORT
    real, calls = GazeVLM.loss, [0]

    def second_overflows(self: GazeVLM, *a: Any, **k: Any) -> tuple[torch.Tensor, dict]:
        loss, parts = real(self, *a, **k)
        calls[0] += 1
        if calls[0] == 2:  # a finite loss whose gradient is not
            loss = loss + _InfGrad.apply(next(self.parameters()))
        return loss, parts

    monkeypatch.setattr(GazeVLM, "loss", second_overflows)
    run(cfg, tmp_path / "flaky", tiny_data)
    lines = (tmp_path / "flaky" / "log.jsonl").read_text(encoding="utf-8").splitlines()
    steps = [r for r in map(json.loads, lines) if "loss" in r]
    assert ["skipped" in r for r in steps] == [False, True, False, False]
    state = torch.load(tmp_path / "flaky" / "checkpoint.pt", weights_only=True)["model"]
    assert all(bool(torch.isfinite(v).all()) for v in state.values())

    def always_nan(self: GazeVLM, *a: Any, **k: Any) -> tuple[torch.Tensor, dict]:
        loss, parts = real(self, *a, **k)
        return loss * float("nan"), parts

    monkeypatch.setattr(GazeVLM, "loss", always_nan)
    monkeypatch.setattr(train, "MAX_BAD_STEPS", 2)
    with pytest.raises(train.Diverged, match="2 steps in a row up to step 2"):
        run(cfg, tmp_path / "nan", tiny_data)


@pytest.mark.browser
def test_fine_tune_starts_from_given_weights_and_pools_extra_data(
    tiny_data: Path, tmp_path: Path
) -> None:
    from perception.builtin.train import initial_weights

    tiny = PRESETS["tiny"]
    older = tiny.model.model_copy(
        update={"history_marks": 0, "context_vote": False, "verb_head": False}
    )
    base = tiny.model_copy(
        update={"eval_samples": 0, "stage1_steps": 2, "stage2_steps": 1, "model": older}
    )
    run(base, tmp_path / "base", tiny_data)
    start = initial_weights(tmp_path / "base" / "checkpoint.pt")
    assert initial_weights(tmp_path / "base" / "export").keys() == start.keys()
    # a model with history marks, the context vote and a verb head starts from weights that had
    # none of them
    tune = base.model_copy(
        update={
            "model": tiny.model,
            "stage1_steps": 0,
            "stage2_steps": 0,
            "init": str(tmp_path / "base" / "checkpoint.pt"),
            "extra_data": (str(tiny_data),),
        }
    )
    run(tune, tmp_path / "tune", tiny_data)  # zero steps: the saved weights are the initial ones
    got = torch.load(tmp_path / "tune" / "checkpoint.pt", weights_only=True)["model"]
    for k, v in start.items():
        assert torch.equal(v, got[k]), k
    assert {k for k in got.keys() - start.keys()} == {
        "mark.weight",
        "ptr_feat_q.weight",
        "ptr_feat_q.bias",
        *(f"verb.{i}.{p}" for i in (0, 2) for p in ("weight", "bias")),
    }
    wrong = tune.model_copy(update={"init": str(tmp_path / "nowhere.pt")})
    with pytest.raises(ValueError, match="no such checkpoint"):
        run(wrong, tmp_path / "wrong", tiny_data)
    # --reset verb.: the verb head starts as a new model's (the seed's), the rest from --init
    bumped = {k: v + 1 if k.startswith("verb.") else v for k, v in got.items()}
    torch.save({"model": bumped}, tmp_path / "bumped.pt")
    again = tune.model_copy(update={"init": str(tmp_path / "bumped.pt")})
    run(again, tmp_path / "again", tiny_data)
    kept = torch.load(tmp_path / "again" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(v, bumped[k]) for k, v in kept.items())
    run(again.model_copy(update={"reset": ("verb.",)}), tmp_path / "fresh", tiny_data)
    fresh = torch.load(tmp_path / "fresh" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(v, got[k]) for k, v in fresh.items())  # verb.*: the seed's again


def test_reset_names_a_head_and_needs_init() -> None:
    from pydantic import ValidationError

    tiny = PRESETS["tiny"]
    with pytest.raises(ValidationError, match="needs --init"):
        tiny.model_validate({**tiny.model_dump(), "reset": ("verb.",)})
    with pytest.raises(ValidationError, match="word_geo"):
        tiny.model_validate({**tiny.model_dump(), "reset": ("word_geo.",), "init": "x.pt"})


def test_a_verb_head_without_progress_facts_widens_to_one_with_them() -> None:
    """--init from a model whose verb head read the history's facts only (run 48): the page's
    progress facts get zero weights, so the head answers as before until trained."""
    from perception.builtin.train import widen

    tiny = PRESETS["tiny"].model
    assert tiny.progress_state
    old = GazeVLM(tiny.model_copy(update={"progress_state": False})).state_dict()
    target = GazeVLM(tiny).state_dict()
    init = dict(old)
    assert "verb.0.weight" in widen(init, target)
    w = init["verb.0.weight"]
    assert w.shape == target["verb.0.weight"].shape
    n = old["verb.0.weight"].shape[1]
    assert torch.equal(w[:, :n], old["verb.0.weight"]) and not w[:, n:].any()


def _head_tune(config: Any, base: Path, **update: Any) -> Any:
    """``config`` as a 4-step stage-2 head fine-tune from the run in ``base`` (its checkpoint),
    demonstrations only, at a learning rate that moves a head in 4 steps."""
    return config.model_copy(
        update={
            "stage1_steps": 0,
            "stage2_steps": 4,
            "lr": 0.05,
            "warmup": 1,
            "demo_mix": 1.0,
            "init": str(base / "checkpoint.pt"),
            **update,
        }
    )


@pytest.mark.browser
def test_train_only_changes_the_named_heads_and_nothing_else(
    tiny_data: Path, tmp_path: Path
) -> None:
    """A head fine-tune (``--train-only case. --train-only span_flag.``) moves those weights
    and leaves every other tensor bit for bit as ``--init`` gave it; a prefix that names no
    parameter fails before anything is made, naming itself."""
    from perception.builtin.train import ConfigMismatch, initial_weights

    tiny = PRESETS["tiny"]
    base = tiny.model_copy(update={"eval_samples": 0, "stage1_steps": 1, "stage2_steps": 1})
    run(base, tmp_path / "base", tiny_data)
    start = initial_weights(tmp_path / "base" / "checkpoint.pt")
    heads = ("case.", "span_flag.")
    # every row types: the case and span heads have a loss
    tune = _head_tune(base, tmp_path / "base", type_mix=1.0, train_only=heads)
    run(tune, tmp_path / "tune", tiny_data)
    got = torch.load(tmp_path / "tune" / "checkpoint.pt", weights_only=True)["model"]
    moved = {k for k, v in start.items() if not torch.equal(v, got[k])}
    assert moved, "the named heads did not train"
    assert all(k.startswith(heads) for k in moved), moved
    bad = tune.model_copy(update={"train_only": ("casee.",)})
    with pytest.raises(ConfigMismatch, match="casee"):
        run(bad, tmp_path / "bad", tmp_path / "no-data-made")
    assert not (tmp_path / "no-data-made").exists()


def test_textless_targets_are_the_clicks_no_word_lands_in() -> None:
    """``--textless-mix`` draws from clicks whose target box holds no OCR word's centre."""
    from types import SimpleNamespace

    from perception.builtin.reader import Word
    from perception.builtin.train import textless
    from tasks.synth.annotations import Box

    def sample(name: str, target: str, box: Box | None) -> SimpleNamespace:
        return SimpleNamespace(
            sample=SimpleNamespace(target=target, target_box=box), image_path=Path(name)
        )

    button = Box(x=10, y=10, w=60, h=20)
    bare = Box(x=10, y=50, w=120, h=20)
    words = {"a.png": [Word("Submit", 20, 12, 40, 16, 0.9)], "b.png": []}
    samples = [
        sample("a.png", "click(40, 20)", button),  # "Submit" is drawn on it
        sample("a.png", "click(60, 60)", bare),  # an empty text box
        sample("b.png", "click(40, 20)", button),  # nothing read on that screen
        sample("a.png", 'type("x")', None),  # not a click
        sample("a.png", "drag(1, 2, 3, 4)", bare),  # two points
    ]
    got = textless(samples, words)  # type: ignore[arg-type]
    assert got == [samples[1], samples[2]]


def test_state_vote_starts_silent_and_learns_from_the_pointer_loss() -> None:
    """``state_vote`` (zero-initialised, like every part ``--init`` may add) leaves a trained
    model's losses as they were, and the pointer loss reaches it through the word slots."""
    import dataclasses

    from perception.builtin.reader import Word

    torch.manual_seed(0)
    old = GazeVLM(TINY)
    new = GazeVLM(TINY.model_copy(update={"state_vote": True}))
    missing, unexpected = new.load_state_dict(old.state_dict(), strict=False)
    assert set(missing) == {"ptr_feat_s.weight", "ptr_feat_s.bias"} and not unexpected
    goal = "Goal: click the red box"
    slots = canvas_slots(score_words([Word("red", 20, 20, 16, 10, 0.9)], goal), (0, 0), TINY)
    batch = collate([dataclasses.replace(e, words=slots) for e in _examples(4)], TINY)
    a, _ = old.loss(**batch)
    b, _ = new.loss(**batch)
    assert torch.allclose(a, b)
    b.backward()
    assert new.ptr_feat_s is not None and new.ptr_feat_s.weight.grad is not None
    assert float(new.ptr_feat_s.weight.grad.abs().sum()) > 0


def test_goal_order_widens_old_weights_without_changing_their_answers() -> None:
    """``goal_order`` adds a seventh word feature; ``widen`` zero-pads the layers that read the
    features, so weights trained on six answer as before, and the pointer loss reaches the new
    column. A model of another width is not "widened": loading it still fails."""
    import dataclasses

    from perception.builtin.reader import Word
    from perception.builtin.train import WIDENABLE, widen

    torch.manual_seed(0)
    six = TINY.model_copy(update={"goal_order": False})
    old, new = GazeVLM(six), GazeVLM(TINY.model_copy(update={"goal_order": True}))
    init = old.state_dict()
    grown = widen(init, new.state_dict())
    # every feature-reading layer this config has (the case head's input did not change)
    assert set(grown) == {k for k in WIDENABLE if k.startswith(("word_geo.", "ptr_feat"))} & set(
        init
    )
    assert "word_geo.weight" in grown and "ptr_feat.weight" in grown
    new.load_state_dict(init)
    goal = "Goal: click ONE, then TWO"
    scored = score_words([Word("TWO", 20, 20, 16, 10, 0.9), Word("ONE", 20, 40, 16, 10, 0.9)], goal)
    batches = []
    for config in (six, new.config):
        slots = canvas_slots(scored, (0, 0), config)
        batches.append(collate([dataclasses.replace(e, words=slots) for e in _examples(4)], config))
    a, _ = old.loss(**batches[0])
    b, _ = new.loss(**batches[1])
    assert torch.allclose(a, b)
    b.backward()
    assert new.ptr_feat.weight.grad is not None and float(new.ptr_feat.weight.grad[0, 6]) != 0
    wider = GazeVLM(TINY.model_copy(update={"width": TINY.width * 2}))
    again = GazeVLM(six).state_dict()
    widen(again, wider.state_dict())
    with pytest.raises(RuntimeError):
        wider.load_state_dict(again)


def test_type_mix_draws_stage_two_rows_from_the_steps_that_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--type-mix``: the span head learns only from steps that type, so they can be drawn
    more often; stage 1 (alignment) never draws them."""
    from types import SimpleNamespace

    from perception.builtin import train

    drawn: list[str] = []
    monkeypatch.setattr(train, "make_example", lambda s, *a, **k: drawn.append(s.target) or s)
    monkeypatch.setattr(train, "collate", lambda exs, cfg: exs)

    def sample(target: str) -> SimpleNamespace:
        return SimpleNamespace(sample=SimpleNamespace(target=target), image_path=Path("x.png"))

    align = [sample("click(1, 2)")]
    demo = [sample("click(3, 4)")] * 9 + [sample('type("ana")')]
    cfg = PRESETS["tiny"].model_copy(
        update={"type_mix": 1.0, "demo_mix": 0.5, "stage1_steps": 1, "batch": 8}
    )
    pools = train._Batches(cfg, align, demo, {}, [])
    assert [s.sample.target for s in pools.typing] == ['type("ana")']
    pools[0]  # stage 1: alignment only
    assert drawn == ["click(1, 2)"] * 8
    drawn.clear()
    pools[1]  # stage 2, type_mix 1: every row types
    assert drawn == ['type("ana")'] * 8
    assert train._Batches(PRESETS["tiny"], align, demo, {}, []).typing == []  # off by default


def test_the_full_preset_is_the_shipped_model_config() -> None:
    """``gaze train --preset full`` builds the model that ships (parts tried since are opt-in:
    ``--preset next``); the shipped weights' config.json says which that is."""
    shipped = Path(__file__).parents[2] / "perception/builtin/weights/config.json"
    config = type(TINY).model_validate_json(shipped.read_text())
    assert PRESETS["full"].model == config
    # "next" is "full" with the parts not shipped yet, none of which the shipped model has
    assert PRESETS["next"].model == config.model_copy(update=NEXT_PARTS)
    assert all(getattr(config, k) != v for k, v in NEXT_PARTS.items())


def test_control_state_votes_for_the_outline_and_the_patch_under_it() -> None:
    """``control_state``: an outline drawn on whose label the goal names (ON_NAMED) gets the
    same vote on its slot and on the patch under its centre, from the same weights; other
    slots and patches, and a model without the part, get none."""
    from perception.builtin.words import ON_NAMED, feature_count

    assert TINY.control_state  # the tiny preset builds the "next" parts
    torch.manual_seed(0)
    model = GazeVLM(TINY)
    g, k, f = TINY.grid**2, TINY.max_words, feature_count(TINY)
    h = torch.randn(1, TINY.width)
    key_h = torch.randn(1, g + k, TINY.width)
    valid = torch.ones(1, g + k, dtype=torch.bool)
    feats = torch.zeros(1, k, f)
    feats[0, 2, ON_NAMED] = 1.0  # slot 2: a ticked box the goal names
    boxes = torch.zeros(1, k, 4)
    boxes[0, 2] = torch.tensor([20.0, 36.0, 8.0, 8.0])  # centre (24, 40)
    cell = (40 // TINY.stride) * TINY.grid + 24 // TINY.stride
    before, _ = model._pointer(h, key_h, valid, feats, boxes=boxes)
    with torch.no_grad():
        model.ptr_feat.weight[0, ON_NAMED] = -5.0
    after, _ = model._pointer(h, key_h, valid, feats, boxes=boxes)
    moved = (after - before).abs() > 1e-4
    assert moved[0].nonzero().flatten().tolist() == [cell, g + 2]
    assert torch.allclose(after[0, [cell, g + 2]] - before[0, [cell, g + 2]], torch.tensor(-5.0))
    plain = GazeVLM(TINY.model_copy(update={"control_state": False}))
    a, _ = plain._pointer(h, key_h, valid, feats[..., :-2], boxes=boxes)
    with torch.no_grad():
        plain.ptr_feat.weight[0, 0] = 3.0  # a goal word's vote reaches its slot only
    b, _ = plain._pointer(h, key_h, valid, feats[..., :-2], boxes=boxes)
    assert torch.equal(a, b)


@pytest.mark.browser
def test_train_widened_trains_the_new_columns_only(tiny_data: Path, tmp_path: Path) -> None:
    """``--train-widened`` from a model without the control state: only the columns that read
    the two new features may learn; every other value of the trained tensors (the old columns,
    ``ptr_feat``'s bias) stays bit for bit (without the option they move); the option needs
    --init."""
    from pydantic import ValidationError

    from perception.builtin.train import initial_weights

    tiny = PRESETS["tiny"]
    old_model = tiny.model.model_copy(update={"control_state": False})
    base = tiny.model_copy(
        update={"model": old_model, "eval_samples": 0, "stage1_steps": 1, "stage2_steps": 1}
    )
    run(base, tmp_path / "base", tiny_data)
    start = initial_weights(tmp_path / "base" / "checkpoint.pt")
    tune = _head_tune(
        tiny.model_copy(update={"eval_samples": 0}),
        tmp_path / "base",
        train_only=("ptr_feat",),
        train_widened=True,
    )
    run(tune, tmp_path / "tune", tiny_data)
    got = torch.load(tmp_path / "tune" / "checkpoint.pt", weights_only=True)["model"]
    moved = {n for n, v in start.items() if v.shape == got[n].shape and not torch.equal(v, got[n])}
    assert not moved, moved  # every tensor that was not widened is as --init had it (bias too)
    grown = {n for n, v in start.items() if v.shape != got[n].shape}
    assert grown >= {"ptr_feat.weight", "ptr_feat_q.weight"}, grown
    for n in grown:
        corner = tuple(slice(0, s) for s in start[n].shape)
        assert torch.equal(got[n][corner], start[n]), n
    # (the old columns did get gradients: without the option they move, as train_only shows)
    free = tune.model_copy(update={"train_widened": False})
    run(free, tmp_path / "free", tiny_data)
    loose = torch.load(tmp_path / "free" / "checkpoint.pt", weights_only=True)["model"]
    corner = tuple(slice(0, s) for s in start["ptr_feat_q.weight"].shape)
    assert not torch.equal(loose["ptr_feat_q.weight"][corner], start["ptr_feat_q.weight"])
    with pytest.raises(ValidationError, match="needs --init"):
        tiny.model_validate({**tiny.model_dump(), "train_widened": True})
