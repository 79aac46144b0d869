"""Training the built-in model from scratch: data, stage 1, stage 2, evaluation, export.

    python -m perception.builtin.train --preset full --out runs/builtin [--data DIR] [--steps N]
    gaze train --preset tiny --out /tmp/tiny          (the same, through the CLI)

Contract:
- ``TrainConfig`` (pydantic) holds everything a run depends on; ``PRESETS`` names two: ``tiny``
  (a 2-page dataset and a few steps of a miniature model: the whole pipeline in seconds, for the
  tests) and ``full`` (the shipped model). The config is written to ``OUT/train_config.json``.
- Data: ``tasks.synth`` generates the train and held-out splits into ``data`` unless they are there
  already (a subprocess, so Chromium lives and dies outside the trainer); then every screenshot is
  read once by the OCR into ``words.jsonl`` beside its shard (``perception.builtin.ocr_cache``,
  resumable), so training sees the words the agent will see.
- Stage 1 trains on alignment samples (locate text/elements, boxes, reading); stage 2 on
  demonstrations mixed with alignment (``demo_mix``). Batches are drawn from a RNG seeded by the
  step number, so a resumed run sees exactly the batches an uninterrupted one would.
- Every ``ckpt_every`` steps (and on Ctrl-C, and at the end) ``OUT/checkpoint.pt`` is replaced
  atomically with the model, optimizer and step; ``run`` resumes from it when present and the
  config matches (evaluation settings may change), and refuses another config with a message.
- A step whose loss or gradient norm is not finite (a bf16 overflow on a GPU) is not applied:
  its log line says ``skipped``; ``MAX_BAD_STEPS`` in a row end the run with ``Diverged``.
- ``workers`` processes can make the batches ahead of the step (``batches``); a batch depends on
  its step alone, so the run is the same with any number of them.
- ``OUT/log.jsonl`` gets one line per step (losses, lr, seconds) and per evaluation; ``curves.html``
  draws them. Evaluation runs the inference path (``Predictor``: tiles + pointer confidence) on
  held-out pages: click-inside-target rate, exact-answer rate for the rest, held-out loss.
- Fine-tuning: ``init`` starts a fresh run from another run's weights (its ``checkpoint.pt`` or
  an export folder) instead of random ones; ``extra_data`` adds more datasets' train splits to
  the pool (held-out samples come from ``data``). Both are part of the config, so a resume
  checks them too. ``reset`` names heads (``NEW_PARTS`` prefixes) that start fresh instead
  of from ``init``: a head refitted from scratch on new inputs (run 54's verb head).
  ``train_widened``: only the columns ``init`` lacked (``widen``) learn; every trained value
  ``init`` had is put back after every step (``_Corners``), so it stays exactly as ``init``
  had it (weight decay included).
- Export writes ``OUT/export`` (``perception.builtin.weights``) and checks the size budget.
- bf16 autocast on CPU and CUDA; CUDA when available.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from collections.abc import Collection, Generator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from torch.utils.data import DataLoader, Dataset

from perception.builtin import curves, find, type_ahead
from perception.builtin.config import ModelConfig, differing
from perception.builtin.data import Example, collate, make_example
from perception.builtin.model import GazeVLM
from perception.builtin.ocr_cache import ensure_words, load_words, shard_dirs
from perception.builtin.options import PRESET_NAMES, add_arguments
from perception.builtin.predict import Page, Predictor
from perception.builtin.reader import Word
from perception.builtin.sources import DataSource, SourceError
from perception.builtin.tokenizer import encode_target
from perception.builtin.weights import MAX_BYTES, WeightsError, export, load
from perception.builtin.words import slots_to

if TYPE_CHECKING:
    from tasks.synth.shards import LoadedSample

LOG_FORMAT = "gaze-builtin-log/1"
# parameters --init weights may lack: zero-initialised maps (the old answers stay as they were)
# and the verb and span heads (their own losses train them from the first step)
NEW_PARTS = (
    "mark.",
    "ptr_feat_q.",
    "ptr_feat_s.",
    "span.",
    "span_flag.",
    "verb.",
    "case.",
    "submit.",
    "answer.",
    "ans_q.",
    "type_ahead.",
    "type_plan.",
    "scroll_find.",
)
# tensors that read the word features or the step facts: --init may come from a model with fewer
# (widen())
WIDENABLE = frozenset(
    {
        "word_geo.weight",
        "ptr_feat.weight",
        "ptr_feat_q.weight",
        "ptr_feat_q.bias",
        "ptr_feat_s.weight",
        "ptr_feat_s.bias",
        "case.weight",  # the case head's goal words (case_words)
        "span_flag.weight",  # the span votes' page facts (span_page): rows after the first 4
        "span_flag.bias",
        "verb.0.weight",  # the verb head's step facts (progress_state)
    }
)
# A step whose loss or gradient is not finite (inf/NaN: a bf16 overflow) is skipped, not applied;
# this many in a row end the run (the saved weights are the last finite ones).
MAX_BAD_STEPS = 20
# Settings a resumed run may change: they decide when to look at the model, not what it learns.
MAY_CHANGE = frozenset({"eval_every", "eval_samples", "ckpt_every"})
err = Console(stderr=True, soft_wrap=True)
_COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TimeElapsedColumn(),
)


class TrainConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: str
    model: ModelConfig = Field(default_factory=ModelConfig)
    train_pages: int = Field(1500, description="pages generated for the train split")
    heldout_pages: int = Field(60, description="pages generated for the held-out split")
    seed: int = 0
    batch: int = 16
    stage1_steps: int = 1500
    stage2_steps: int = 2500
    lr: float = 2e-3
    warmup: int = 50
    weight_decay: float = 0.01
    demo_mix: float = Field(0.5, description="share of demonstrations in a stage-2 batch")
    textless_mix: float = Field(
        0.0,
        description="share of a batch drawn from clicks whose target box holds no OCR word "
        "(bare text boxes, icons, unlabelled controls): the pointer must use the pixels",
    )
    verb_weight: float = Field(
        1.0, description="weight of the answer's action name in the text loss (the policy)"
    )
    negative_rate: float = Field(0.15, description="crops that miss the target: 'not here'")
    decoys: float = Field(
        0.0,
        description="share of the 'not here' crops placed on a goal word that is not the target "
        "(data.decoy_origin): a tiled page's other tiles",
    )
    type_mix: float = Field(
        0.0,
        description="share of a stage-2 batch drawn from demonstration steps that type (the span "
        "head learns only from those)",
    )
    recase: float = Field(
        0.0,
        description="share of the steps that type made to ask for other letter case "
        "(rephrase.recase; for span_case)",
    )
    rephrase: float = Field(
        0.0, description="share of training goals said in other words (perception.builtin.rephrase)"
    )
    train_only: tuple[str, ...] = Field(
        (),
        description="parameter name prefixes to train (e.g. 'case.'); every other weight stays "
        "as --init gave it (a head fine-tune). Empty: train everything",
    )
    reset: tuple[str, ...] = Field(
        (),
        description="parameter name prefixes, each one of NEW_PARTS, that start fresh (as in a "
        "new model of this seed) instead of from --init",
    )
    train_widened: bool = Field(
        False,
        description="with --init: only the columns --init lacked learn (a new input's "
        "weights); every value --init had stays exactly as it was",
    )
    ckpt_every: int = 50
    eval_every: int = 1000
    eval_samples: int = Field(48, description="held-out samples per evaluation")
    bf16: bool = True
    init: str | None = Field(
        None, description="start from these weights: a run's checkpoint.pt or an export folder"
    )
    data_options: str = Field(
        "",
        description="how --data's train split joins the pool: ':weight=W:width=A-B' as in an "
        "extra_data source (perception.builtin.sources; the held-out split is used whole)",
    )
    extra_data: tuple[str, ...] = Field(
        (),
        description="more datasets whose train split joins the training pool, each "
        "'DIR[:weight=W][:width=A-B]' (perception.builtin.sources)",
    )

    @field_validator("extra_data")
    @classmethod
    def _sources_parse(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(DataSource.parse(d)) for d in v)

    @field_validator("reset")
    @classmethod
    def _resets_are_heads(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [x for x in v if x not in NEW_PARTS]
        if bad:
            raise ValueError(
                f"{', '.join(bad)}: only a part a run may add starts fresh ({' '.join(NEW_PARTS)})"
            )
        return v

    @model_validator(mode="after")
    def _reset_needs_init(self) -> TrainConfig:
        if self.reset and not self.init:
            raise ValueError("--reset needs --init (without it every part starts fresh)")
        if self.train_widened and not self.init:
            raise ValueError("--train-widened needs --init (the weights it widens)")
        return self

    @field_validator("data_options")
    @classmethod
    def _options_parse(cls, v: str) -> str:
        if v and not v.startswith(":"):
            raise ValueError(f"{v!r} does not start with ':'")
        return DataSource.parse(f"data{v}").options

    @property
    def steps(self) -> int:
        return self.stage1_steps + self.stage2_steps


# the parts of the shipped model, which every preset builds (the tiny one is the full one, smaller)
PARTS: dict[str, Any] = dict(
    history_marks=2,
    context_vote=True,
    verb_head=True,
    proposals=True,
    drop_slivers=True,
    proposal_words=True,
    proposal_labels=True,
    proposal_share=True,
    span_head=True,
    span_flags=True,
    goal_order=True,  # these three since run 31 (tried in runs 25-30 of docs/BUILTIN.md)
    span_case=True,
    case_words=64,
    span_submit=True,  # since run 42
    submit_words=64,
    page_outlines=True,  # these three since run 48 (runs 44-49 of docs/BUILTIN.md)
    field_labels=True,
    round_outlines=True,
    progress_state=True,  # since run 56 (runs 51-56 of docs/BUILTIN.md)
    reached_words=True,  # since run 59 (runs 57-59)
    span_page=True,  # since run 61 (runs 60-63)
    answer_pointer=True,  # these three since run 69 (runs 67-69)
    answer_head=True,
    answer_words=64,
    avoid_typed_field=True,  # these two since run 69 shipped (decoding; targets without amounts)
    scroll_amount=False,  # ("Scroll distance; typed fields; run 71")
    control_state=True,  # since run 84 ("Control state; runs 72-79", "Runs 80-84")
    outline_text=True,  # since 2026-11-28, on run 84's weights (an input rule: "Button captions")
    submit_typing=True,  # since 2026-11-28, on run 84's weights (decoding: "Typing replaces")
    type_ahead=256,  # since 2026-11-29, fitted onto run 84's weights ("Type before you press")
    type_plan=256,  # since 2026-11-29, fitted with it ("A plan for the typing")
    inner_outline=True,  # since 2026-11-29, on run 96's weights (decoding: "Inside the outline")
    scroll_find=256,  # since 2026-11-29, fitted onto run 96's weights ("Scroll to find")
    whole_phrase=True,  # since 2026-11-29 (decoding: "A value's whole phrase")
)
# parts tried since the shipped run, not shipped yet (none at present): the "next" preset is
# "full" with them; "tiny" builds them too, so that the tests cover them
NEXT_PARTS: dict[str, Any] = dict()
PRESETS: dict[str, TrainConfig] = {
    "tiny": TrainConfig(
        preset="tiny",
        model=ModelConfig(
            canvas=64,
            stem_channels=(8, 16, 16),
            vision_layers=1,
            width=32,
            heads=2,
            decoder_layers=1,
            pointer_dim=16,
            max_prompt_bytes=48,
            max_target_tokens=40,
            max_words=8,
            word_bytes=8,
            **PARTS,
            **NEXT_PARTS,
        ),
        train_pages=2,
        heldout_pages=1,
        batch=4,
        stage1_steps=3,
        stage2_steps=3,
        warmup=1,
        ckpt_every=2,
        eval_every=3,
        eval_samples=2,  # a 1280x800 page is ~450 tiles of the tiny 64 px canvas
    ),
    "full": TrainConfig(
        preset="full",
        model=ModelConfig(**PARTS),
    ),
    "next": TrainConfig(
        preset="next",
        model=ModelConfig(**PARTS, **NEXT_PARTS),
    ),
}
assert set(PRESETS) == set(PRESET_NAMES), "perception.builtin.options lists the presets"


def _lr(cfg: TrainConfig, step: int, spent: float = 0.0) -> float:
    """The learning rate at ``step``: linear warm-up, then a cosine to 10% of ``cfg.lr`` over the
    steps, or over the time budget where ``spent`` (the share of it used) is further along."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = max(spent, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def ensure_data(cfg: TrainConfig, data: Path) -> None:
    """Generate the splits that ``data`` lacks (``python -m tasks.synth generate``)."""
    have: set[str] = set()
    if (data / "manifest.json").is_file():
        have = set(json.loads((data / "manifest.json").read_text(encoding="utf-8"))["splits"])
    for split, pages, seed in (
        ("train", cfg.train_pages, cfg.seed),
        ("heldout", cfg.heldout_pages, cfg.seed + 1_000_003),
    ):
        if split in have:
            continue
        err.print(f"generating {pages} {split} pages into {data}", markup=False)
        cmd = [sys.executable, "-m", "tasks.synth", "generate", "--out", str(data)]
        cmd += ["--split", split, "--pages", str(pages), "--seed", str(seed)]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


Words = dict[str, list[Word]]  # image path -> OCR words (CSS px)


def ensure_ocr(data: Path, *, read: bool = True, only: Collection[str] | None = None) -> Words:
    """Read the screenshots no ``words.jsonl`` covers yet (with ``read`` False, only those of
    the held-out split: it is small, and scored without its words it is garbage; with ``only``,
    only the train screenshots whose paths it holds, the held-out split whole); return every
    shard's words."""
    words: Words = {}
    for shard in shard_dirs(data):
        heldout = shard.parent.name == "heldout"
        if read or heldout:
            keep = None if heldout or only is None else (lambda rel, d=shard: str(d / rel) in only)
            with Progress(*_COLUMNS, console=err, transient=True) as bar:
                task = bar.add_task(f"reading {shard.name}", total=None)
                ensure_words(
                    shard,
                    lambda i, t, k=task: bar.update(k, completed=i, total=t),  # type: ignore[misc]
                    keep,
                )
        for rel, ws in load_words(shard).items():
            words[str(shard / rel)] = ws
    return words


def initial_weights(path: Path) -> dict[str, torch.Tensor]:
    """The model weights in ``path``: a run's ``checkpoint.pt`` or an export folder."""
    if path.is_dir():
        try:
            return {k: v.float() for k, v in load(path).state_dict().items()}
        except WeightsError as e:
            raise ConfigMismatch(f"--init {path}: {e}") from None
    if not path.is_file():
        raise ConfigMismatch(f"--init {path}: no such checkpoint or export folder")
    state = torch.load(path, map_location="cpu", weights_only=True)
    return dict(state["model"])


def widen(init: dict[str, torch.Tensor], target: dict[str, torch.Tensor]) -> list[str]:
    """Zero-pad, in place, the ``WIDENABLE`` tensors of ``init`` that ``target``'s model has grown:
    same rank, no dimension smaller, the old values kept in the leading corner. A layer whose
    inputs gained a feature (``goal_order``: 7 word features, not 6) then starts out answering
    exactly as before. Returns the widened names; other shape differences are left for
    ``load_state_dict`` to reject."""
    out = []
    for k, v in init.items():
        t = target.get(k)
        if k not in WIDENABLE or t is None or t.shape == v.shape or t.dim() != v.dim():
            continue
        if any(a < b for a, b in zip(t.shape, v.shape, strict=True)):
            continue
        grown = torch.zeros(t.shape, dtype=v.dtype)
        grown[tuple(slice(0, n) for n in v.shape)] = v
        init[k] = grown
        out.append(k)
    return out


class _Corners:
    """``train_widened``: of the trained parameters that ``init`` had, the part ``init`` had
    (the leading corner of a widened one, all of any other), with the values they hold now;
    ``restore`` writes those back after a step, so only the new columns learn."""

    def __init__(self, model: torch.nn.Module, init: dict[str, torch.Tensor]) -> None:
        self.kept: list[tuple[torch.nn.Parameter, tuple[slice, ...], torch.Tensor]] = []
        widened = False
        for name, param in model.named_parameters():
            old = init.get(name)
            if old is None or not param.requires_grad:
                continue
            widened |= old.shape != param.shape
            corner = tuple(slice(0, n) for n in old.shape)
            self.kept.append((param, corner, param.detach()[corner].clone()))
        if not widened:
            raise ConfigMismatch("--train-widened: --init lacks no column of a trained tensor")

    @torch.no_grad()
    def restore(self) -> None:
        for param, corner, values in self.kept:
            param[corner] = values


def load_pool(data: Path, split: str, cfg: ModelConfig) -> list[LoadedSample]:
    from tasks.synth.shards import iter_samples

    return [
        s
        for s in iter_samples(data, split, verify=False)
        if len(encode_target(s.sample.target).ids) <= cfg.max_target_tokens
    ]


def training_pool(
    sources: Sequence[DataSource], cfg: ModelConfig, *, seed: int
) -> list[LoadedSample]:
    """The train samples of ``sources``: each source's pages of the widths it keeps, listed as
    its weight says (``DataSource.weighted``). A folder named by several sources (two width
    bands of one set) is loaded once."""
    out: list[LoadedSample] = []
    loaded: dict[Path, list[LoadedSample]] = {}
    for src in sources:
        if src.path not in loaded:
            loaded[src.path] = load_pool(src.path, "train", cfg)
        pool = [s for s in loaded[src.path] if src.keeps(s.sample.page.viewport_w)]
        weighted = src.weighted(pool, seed)
        out += weighted
        err.print(f"{src}: {len(pool)} samples, {len(weighted)} in the pool", markup=False)
    return out


def trainable(model: torch.nn.Module, prefixes: Sequence[str]) -> list[torch.nn.Parameter]:
    """The parameters a run trains: all of them, or with ``prefixes`` those whose names start
    with one (the rest get ``requires_grad=False``). A prefix that names no parameter of this
    model is a ``ConfigMismatch`` naming it and the model's top-level parts."""
    named = list(model.named_parameters())
    if not prefixes:
        return [p for _, p in named]
    unknown = [x for x in prefixes if not any(n.startswith(x) for n, _ in named)]
    if unknown:
        parts = sorted({n.split(".")[0] + "." for n, _ in named})
        raise ConfigMismatch(
            f"--train-only {', '.join(unknown)} names no parameter of this model "
            f"(its parts: {' '.join(parts)})"
        )
    keep = tuple(prefixes)
    for n, p in named:
        p.requires_grad_(n.startswith(keep))
    return [p for n, p in named if n.startswith(keep)]


def is_click(s: LoadedSample) -> bool:
    """The sample's answer points once, at a target whose box is known (a click to score)."""
    return s.sample.target_box is not None and len(encode_target(s.sample.target).points) == 1


def types_value(s: LoadedSample) -> bool:
    """The sample's answer types a value (a demonstration step the span, case and submit heads
    learn from)."""
    return s.sample.target.startswith("type(")


def textless(samples: Sequence[LoadedSample], words: Words) -> list[LoadedSample]:
    """The samples that click one target whose box holds no OCR word's centre: a bare text
    box, an icon, an unlabelled checkbox. Only the pixels can find them."""
    out = []
    for s in samples:
        b = s.sample.target_box
        if b is None or not is_click(s):
            continue
        if not any(b.contains(*w.center) for w in words.get(str(s.image_path), [])):
            out.append(s)
    return out


def draw_batch(
    cfg: TrainConfig,
    step: int,
    align: Sequence[LoadedSample],
    demo: Sequence[LoadedSample],
    words: Words,
    bare: Sequence[LoadedSample] = (),
    typing: Sequence[LoadedSample] = (),
) -> dict[str, Any]:
    """One batch: ``bare`` (text-less targets) with probability ``textless_mix``, else
    ``typing`` (demonstration steps that type, stage 2) with probability ``type_mix``, else a
    demonstration (stage 2, ``demo_mix``) or an alignment sample."""
    rng = random.Random(cfg.seed * 1_000_003 + step)
    exs: list[Example] = []
    while len(exs) < cfg.batch:
        use_demo = bool(demo) and step >= cfg.stage1_steps and rng.random() < cfg.demo_mix
        pool = demo if use_demo or not align else align
        if bare and cfg.textless_mix and rng.random() < cfg.textless_mix:
            pool = bare
        elif typing and step >= cfg.stage1_steps and rng.random() < cfg.type_mix:
            pool = typing
        s = rng.choice(pool)
        ex = make_example(
            s.sample,
            s.image_path,
            cfg.model,
            rng,
            words=words.get(str(s.image_path), ()),
            negative_rate=cfg.negative_rate,
            rephrase_rate=cfg.rephrase,
            decoy_rate=cfg.decoys,
            recase_rate=cfg.recase,
        )
        if ex is not None:
            exs.append(ex)
    return collate(exs, cfg.model)


class _Batches(Dataset[dict[str, Any]]):
    """Batch ``step`` of a run, for loader processes: ``draw_batch`` depends on the step alone,
    so batches made in parallel are the ones the in-process loop would make."""

    def __init__(
        self,
        cfg: TrainConfig,
        align: Sequence[LoadedSample],
        demo: Sequence[LoadedSample],
        words: Words,
        bare: Sequence[LoadedSample],
    ) -> None:
        self.cfg, self.align, self.demo, self.words, self.bare = cfg, align, demo, words, bare
        self.typing = [d for d in demo if types_value(d)] if cfg.type_mix else []

    def __len__(self) -> int:
        return self.cfg.steps

    def __getitem__(self, step: int) -> dict[str, Any]:
        return draw_batch(self.cfg, step, self.align, self.demo, self.words, self.bare, self.typing)


def _as_is(batch: Any) -> Any:
    return batch


def _one_thread(_: int) -> None:
    import cv2

    cv2.setNumThreads(1)  # many loader processes: one core each


def batches(
    cfg: TrainConfig,
    steps: range,
    align: Sequence[LoadedSample],
    demo: Sequence[LoadedSample],
    words: Words,
    bare: Sequence[LoadedSample] = (),
    *,
    workers: int = 0,
) -> Generator[dict[str, Any], None, None]:
    """The batches of ``steps`` in order: made here (``workers`` 0) or by that many processes a
    few steps ahead of the training loop. The processes start fresh, each with a copy of the
    pools (a forked child of a process whose OpenCV and torch thread pools run can hang)."""
    data = _Batches(cfg, align, demo, words, bare)
    if workers <= 0:
        yield from map(data.__getitem__, steps)
        return
    yield from DataLoader(
        data,
        batch_size=None,
        sampler=steps,
        num_workers=workers,
        collate_fn=_as_is,
        prefetch_factor=4,
        pin_memory=torch.cuda.is_available(),
        multiprocessing_context="spawn",
        worker_init_fn=_one_thread,
    )


def evaluate(
    model: GazeVLM,
    samples: Sequence[LoadedSample],
    n: int,
    words: Words | None = None,
    answers: list[tuple[LoadedSample, str]] | None = None,
) -> dict[str, float]:
    """Inference-path scores on ``n`` held-out samples (a fixed, seeded subset). ``words``: the
    cached OCR reads (None: the predictor reads each screenshot itself); ``answers``, when
    given, gets each sample with the model's answer text."""
    from PIL import Image

    from perception.parsers import parse
    from perception.parsers.base import ParseError

    picked = random.Random(0).sample(list(samples), min(n, len(samples)))
    free, acting = Predictor(model), Predictor(model, actions_only=True)
    hits = clicks = exact = others = verbs_right = demos = 0
    by_kind: dict[str, list[int]] = {"alignment": [0, 0], "demo": [0, 0]}  # hits, clicks
    t0 = time.perf_counter()
    for s in picked:
        smp = s.sample
        with Image.open(s.image_path) as img:
            img.load()
            seen = None if words is None else words.get(str(s.image_path), [])
            scale = smp.frame.image_w / smp.frame.region_w
            pred = acting if smp.kind == "demo" else free  # the agent's decoding for demos
            out = pred.predict([Page(img, scale, smp.prompt, seen)])[0]
        if answers is not None:
            answers.append((s, out.text))
        if smp.kind == "demo":  # the policy's choice: the right action, wherever it points
            demos += 1
            verbs_right += int(out.text.split("(", 1)[0] == smp.target.split("(", 1)[0])
        if is_click(s):
            clicks += 1
            got = parse(out.text, smp.frame, "gaze")
            b = smp.target_box
            assert b is not None
            if out.points and not isinstance(got, ParseError):
                x, y = smp.frame.to_viewport(*out.points[0])
                hit = int(b.contains(x, y))
                hits += hit
                by_kind[smp.kind][0] += hit
            by_kind[smp.kind][1] += 1
        else:
            others += 1
            exact += int(out.text.strip() == smp.target.strip())
    return {
        "click_in_target": hits / clicks if clicks else float("nan"),
        "clicks": float(clicks),
        **{f"click_in_target_{k}": h / c if c else float("nan") for k, (h, c) in by_kind.items()},
        "exact": exact / others if others else float("nan"),
        "others": float(others),
        "verb_right_demo": verbs_right / demos if demos else float("nan"),
        "demos": float(demos),
        "seconds_per_sample": (time.perf_counter() - t0) / max(1, len(picked)),
    }


def _save(
    path: Path, model: GazeVLM, opt: torch.optim.Optimizer, step: int, cfg: TrainConfig
) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optim": opt.state_dict(),
            "step": step,
            "config": cfg.model_dump(mode="json"),
        },
        tmp,
    )
    os.replace(tmp, path)


class ConfigMismatch(ValueError):
    pass


class Diverged(ValueError):
    """``MAX_BAD_STEPS`` steps in a row had a non-finite loss or gradient."""


def run(
    cfg: TrainConfig,
    out: Path,
    data: Path,
    *,
    stop_after: int | None = None,
    export_now: bool = False,
    read_all: bool = True,
    workers: int = 0,
    minutes: float | None = None,
) -> dict[str, float]:
    """Train (or resume) into ``out``; returns the step and export size. ``stop_after`` ends the
    run early after that many steps in total (a checkpoint is written), as an interruption would;
    ``minutes`` is a time budget for this call's steps: the learning rate's cosine follows
    whichever of the steps and the budget is further along, and when the budget is spent the run
    ends as if its last step were the last (evaluation, export; ``result["cut"]`` = 1), so a
    lent machine's minutes are used whole whatever its speed (such a run is not repeatable
    step for step: its rates depend on the clock);
    ``export_now`` evaluates and exports the checkpoint as it is, without training;
    ``read_all=False`` trains only on samples whose screenshots the OCR has read already (the
    held-out split, which evaluations score, is read either way: it is small);
    ``workers`` processes make the batches (0: this one; the batches are the same either way)."""
    out.mkdir(parents=True, exist_ok=True)
    cfg_path, ckpt = out / "train_config.json", out / "checkpoint.pt"
    if cfg_path.is_file():
        old = json.loads(cfg_path.read_text(encoding="utf-8"))
        new = cfg.model_dump(mode="json")
        differ = differing(old, new)
        if set(differ) - MAY_CHANGE:
            raise ConfigMismatch(
                f"{out} holds a run with another config ({', '.join(differ)} differ); "
                "use the same options to resume, or a new --out"
            )
    cfg_path.write_text(cfg.model_dump_json(indent=2) + "\n", encoding="utf-8")
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(cfg.seed)
    model = GazeVLM(cfg.model).to(dev)
    params = trainable(model, cfg.train_only)  # a bad prefix fails before any data is made
    ensure_data(cfg, data)
    sources = [
        DataSource.parse(f"{data}{cfg.data_options}"),
        *(DataSource.parse(d) for d in cfg.extra_data),
    ]
    align_all = training_pool(sources, cfg.model, seed=cfg.seed)
    pooled = {str(s.image_path) for s in align_all}  # only these are read (and the held-out)
    words: Words = {}
    for d in dict.fromkeys(src.path for src in sources):
        words |= ensure_ocr(d, read=read_all, only=pooled)
    if not read_all:
        unread = sum(str(s.image_path) not in words for s in align_all)
        align_all = [s for s in align_all if str(s.image_path) in words]
        err.print(f"training on {len(align_all)} read samples ({unread} unread left out)")
    align = [s for s in align_all if s.sample.kind == "alignment"]
    demo = [s for s in align_all if s.sample.kind == "demo"]
    bare = textless(align_all, words) if cfg.textless_mix else []
    if cfg.textless_mix:
        err.print(f"{len(bare)} samples click a target without text (--textless-mix)")
    heldout = load_pool(data, "heldout", cfg.model)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    start = 0
    if cfg.init and not ckpt.is_file():
        init = initial_weights(Path(cfg.init))
        init = {k: v for k, v in init.items() if not k.startswith(cfg.reset)}
        widened = widen(init, model.state_dict())
        if widened:
            err.print(f"--init tensors widened with zeros: {', '.join(widened)}", markup=False)
        try:
            missing, unexpected = model.load_state_dict(init, False)
        except RuntimeError as e:  # another architecture: mis-shaped tensors
            raise ConfigMismatch(f"--init {cfg.init} is another model config: {e}") from None
        # only the parts NEW_PARTS names may be new
        if unexpected or any(not k.startswith(NEW_PARTS) for k in missing):
            raise ConfigMismatch(
                f"--init {cfg.init} is another model config: missing {missing}, "
                f"unexpected {unexpected}"
            )
        err.print(f"starting from the weights in {cfg.init}", markup=False)
    if ckpt.is_file():
        state = torch.load(ckpt, map_location=dev, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        start = int(state["step"])
        err.print(f"resuming {out} at step {start}", markup=False)
    # the shapes --init had (on a resume the checkpoint holds the kept corners as they were)
    corners = (
        _Corners(model, initial_weights(Path(cfg.init))) if cfg.train_widened and cfg.init else None
    )
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)
    if export_now:
        end = start
    log = (out / "log.jsonl").open("a", encoding="utf-8")

    def write(rec: dict[str, object]) -> None:
        log.write(json.dumps({"format": LOG_FORMAT, **rec}) + "\n")
        log.flush()

    step, bad, cut = start, 0, False
    began = time.perf_counter()

    def spent() -> float:
        return 0.0 if minutes is None else (time.perf_counter() - began) / (60 * minutes)

    # closed when the loop ends, however it ends: a time budget's cut stops the loader
    # processes here, not at interpreter exit (where they die with "terminate called")
    stream = batches(cfg, range(start, end), align, demo, words, bare, workers=workers)
    try:
        with Progress(*_COLUMNS, console=err, transient=False) as bar:
            task = bar.add_task("train", total=cfg.steps, completed=start)
            t0 = time.perf_counter()
            for drawn in stream:
                model.train()
                for g in opt.param_groups:
                    g["lr"] = lr = _lr(cfg, step, spent())
                batch: dict[str, Any] = {
                    k: slots_to(v, dev) if k == "words" else v if v is None else v.to(dev)
                    for k, v in drawn.items()
                }
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=cfg.bf16):
                    loss, parts = model.loss(**batch, verb_weight=cfg.verb_weight)
                opt.zero_grad(set_to_none=True)
                if loss.requires_grad:  # else no trained part reads this batch (--train-only)
                    loss.backward()
                norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
                # an inf gradient would be clipped to NaN and poison every weight: skip the step
                finite = bool(torch.isfinite(loss.detach()) & torch.isfinite(norm))
                if finite:
                    opt.step()
                    if corners is not None:
                        corners.restore()
                    bad = 0
                else:
                    bad += 1
                step += 1
                stage = 1 if step <= cfg.stage1_steps else 2
                write({"step": step, "stage": stage, "loss": float(loss.detach()), **parts,
                       "lr": lr, "seconds": time.perf_counter() - t0,
                       **({} if finite else {"skipped": "non-finite loss or gradient"})})  # fmt: skip
                if bad >= MAX_BAD_STEPS:
                    raise Diverged(
                        f"{bad} steps in a row up to step {step} had a non-finite loss or "
                        f"gradient; {ckpt} holds finite weights (skipped steps change nothing): "
                        "start a new --out from it (--init) with a lower --lr"
                    )
                bar.update(
                    task,
                    completed=step,
                    description=f"stage {stage} loss {float(loss.detach()):.3f}",
                )
                if step % cfg.ckpt_every == 0:
                    _save(ckpt, model, opt, step, cfg)
                cut = step < cfg.steps and spent() >= 1.0
                if cfg.eval_samples and (step % cfg.eval_every == 0 or step == cfg.steps or cut):
                    scores = evaluate(model, heldout, cfg.eval_samples, words)
                    write({"step": step, "eval": scores})
                    curves.write(out / "log.jsonl", out / "curves.html")
                if cut:
                    write({"step": step, "cut": f"the time budget ({minutes} min) is spent"})
                    break
                t0 = time.perf_counter()
    except (KeyboardInterrupt, Diverged) as stop:
        if isinstance(stop, KeyboardInterrupt):  # the same command resumes from here
            _save(ckpt, model, opt, step, cfg)
        log.close()
        curves.write(out / "log.jsonl", out / "curves.html")
        raise
    finally:
        stream.close()
    if model.type_ahead is not None and model.type_ahead.weight.requires_grad:
        # trained by this run (``trainable``'s choice): seconds, on the goals alone; again on
        # every call, the same result
        fitted = type_ahead.fit(model, demo, seed=cfg.seed)
        write({"step": step, "type_ahead": asdict(fitted)})
        err.print(f"type-ahead head fitted: {fitted}", markup=False)
    if model.scroll_find is not None and model.scroll_find.weight.requires_grad:
        # the same way: seconds, on the demonstrations' goals and their pages' OCR words
        found = find.fit(model, demo, words)
        write({"step": step, "scroll_find": asdict(found)})
        err.print(f"scroll-find head fitted: {found}", markup=False)
    _save(ckpt, model, opt, step, cfg)
    log.close()
    curves.write(out / "log.jsonl", out / "curves.html")
    result: dict[str, float] = {"step": float(step), **({"cut": 1.0} if cut else {})}
    if export_now:
        scores = evaluate(model, heldout, cfg.eval_samples, words)
        result |= {k: v for k, v in scores.items()}
        with (out / "log.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps({"format": LOG_FORMAT, "step": step, "eval": scores}) + "\n")
    if step >= cfg.steps or export_now or cut:
        size = export(model.cpu(), out / "export")
        if size > MAX_BYTES:
            raise ValueError(f"exported weights are {size / 2**20:.1f} MiB, over the 40 MiB budget")
        result["export_bytes"] = float(size)
    return result


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gaze train", description="train Gaze's built-in model")
    add_arguments(p)
    return p


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    cfg = PRESETS[args.preset]
    upd = {
        k: v
        for k, v in (
            ("seed", args.seed),
            ("stage1_steps", args.stage1_steps),
            ("stage2_steps", args.stage2_steps),
            ("batch", args.batch),
            ("eval_every", args.eval_every),
            ("eval_samples", args.eval_samples),
            ("lr", args.lr),
            ("demo_mix", args.demo_mix),
            ("textless_mix", args.textless_mix),
            ("rephrase", args.rephrase),
            ("recase", args.recase),
            ("type_mix", args.type_mix),
            ("negative_rate", args.negative_rate),
            ("decoys", args.decoys),
            ("verb_weight", args.verb_weight),
            ("init", str(args.init) if args.init else None),
            ("train_only", tuple(args.train_only) if args.train_only else None),
            ("train_widened", True if args.train_widened else None),
            ("reset", tuple(args.reset) if args.reset else None),
            ("extra_data", tuple(args.extra_data) if args.extra_data else None),
            ("data_options", data_source(args).options if args.data else None),
        )
        if v is not None
    }
    # model_copy does not validate: a bad source spec must fail here, not mid-run
    return TrainConfig.model_validate(cfg.model_copy(update=upd).model_dump())


def data_source(args: argparse.Namespace) -> DataSource:
    """``--data`` (default OUT/data) as a source."""
    return DataSource.parse(args.data) if args.data else DataSource(path=args.out / "data")


def main_args(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        cfg = config_from_args(args)
    except (SourceError, ValidationError) as e:
        err.print(f"error: {e}", markup=False)
        return 2
    data = data_source(args).path
    try:
        result = run(
            cfg,
            args.out,
            data,
            export_now=args.export_now,
            read_all=not args.read_only_cached,
            workers=args.workers,
            minutes=args.minutes,
        )
    except KeyboardInterrupt:
        err.print("interrupted: the checkpoint is saved; the same command resumes", markup=False)
        return 130
    except (ConfigMismatch, Diverged, subprocess.CalledProcessError) as e:
        err.print(f"error: {e}", markup=False)
        return 2
    err.print(json.dumps(result), markup=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    return main_args(parser().parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
