"""``python -m tasks.synth``: generate training data, and look at what was generated.

    python -m tasks.synth generate --out DIR --split train|heldout --pages N --seed S
                                   [--kinds alignment,demos] [--goals login,entry,...]
                                   [--compact-share 0.5] [--phrases 0.0] [--prefill 0.25]
                                   [--workers 3] [--fast-png]
    python -m tasks.synth show DIR [--split SPLIT] [--n 24] [--html FILE]

``generate`` draws a progress bar on stderr and prints a summary (pages/s, samples/s, bytes on
disk); ``show`` prints the manifest's counts and writes an HTML contact sheet (default
``DIR/contact.html``). Exit codes: 0 done, 1 generation produced no samples, 2 bad arguments or a
dataset that does not verify.
"""

from __future__ import annotations

import argparse
import asyncio
import random
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tasks.synth.engine import GenConfig, Stats, generate
from tasks.synth.goals import GOAL_KINDS, GoalKind
from tasks.synth.pages import PREFILL_SHARE
from tasks.synth.render import RenderConfig
from tasks.synth.samples import SampleKind
from tasks.synth.shards import DatasetError, iter_samples, read_manifest
from tasks.synth.sheet import contact_sheet, pick
from tasks.synth.vocab import SPLITS, Split

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
KIND_NAMES: dict[str, SampleKind] = {"alignment": "alignment", "demos": "demo", "demo": "demo"}


def _kinds(text: str) -> tuple[SampleKind, ...]:
    kinds: list[SampleKind] = []
    for name in text.split(","):
        kind = KIND_NAMES.get(name.strip())
        if kind is None:
            raise argparse.ArgumentTypeError(f"unknown kind {name!r}; use alignment and/or demos")
        if kind not in kinds:
            kinds.append(kind)
    return tuple(kinds)


def goal_kinds(text: str) -> tuple[GoalKind, ...]:
    """A comma-separated list of goal kinds (argparse ``type=``), in ``GOAL_KINDS`` order."""
    names = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in names if k not in GOAL_KINDS]
    if bad or not names:
        raise argparse.ArgumentTypeError(
            f"unknown goal kind(s) {', '.join(bad) or '(none)'}; choose from {', '.join(GOAL_KINDS)}"
        )
    return tuple(k for k in GOAL_KINDS if k in names)


def _share(text: str) -> float:
    v = float(text)
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {v}")
    return v


def _positive(text: str) -> int:
    v = int(text)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {v}")
    return v


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m tasks.synth", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate", help="render pages and write samples")
    g.add_argument(
        "--out", type=Path, required=True, help="dataset folder (manifest.json goes here)"
    )
    g.add_argument("--split", choices=SPLITS, required=True)
    g.add_argument("--pages", type=_positive, required=True, help="pages to generate")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--kinds", type=_kinds, default=("alignment", "demo"), help="alignment,demos")
    g.add_argument(
        "--goals", type=goal_kinds, default=GOAL_KINDS, help="goal kinds demonstrations draw from"
    )
    g.add_argument(
        "--compact-share", type=_share, default=0.5, help="share of widget-sized screens"
    )
    g.add_argument(
        "--phrases",
        type=_share,
        default=0.0,
        help="share of typed values (entry, form, search goals) drawn as two-word phrases",
    )
    g.add_argument(
        "--prefill",
        type=_share,
        default=PREFILL_SHARE,
        help="share of a form's fields shown holding a value (the goal replaces it: ctrl+a)",
    )
    g.add_argument("--workers", type=_positive, default=3, help="tabs rendering at once")
    g.add_argument(
        "--per-screen", type=_positive, default=8, help="alignment samples per screenshot"
    )
    g.add_argument("--shard-samples", type=_positive, default=5000)
    g.add_argument("--fast-png", action="store_true", help="faster capture, ~35%% larger PNGs")
    g.add_argument("--chromium", default=None, help="Chromium binary (default: detect)")
    s = sub.add_parser("show", help="counts and an HTML contact sheet of a dataset")
    s.add_argument("dir", type=Path)
    s.add_argument("--split", choices=SPLITS, default=None)
    s.add_argument("--n", type=_positive, default=24, help="samples on the contact sheet")
    s.add_argument("--html", type=Path, default=None, help="where to write it (DIR/contact.html)")
    s.add_argument("--seed", type=int, default=0, help="which samples are picked")
    return p


def _disk_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def run_generate(a: argparse.Namespace) -> int:
    split: Split = a.split
    config = GenConfig(
        out=a.out,
        split=split,
        pages=a.pages,
        seed=a.seed,
        kinds=a.kinds,
        goals=a.goals,
        compact_share=a.compact_share,
        phrases=a.phrases,
        prefill=a.prefill,
        per_screen=a.per_screen,
        shard_samples=a.shard_samples,
        render=RenderConfig(workers=a.workers, executable=a.chromium, fast_png=a.fast_png),
    )
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[samples]} samples · {task.fields[dropped]} dropped"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        bar = progress.add_task(f"{split} pages", total=a.pages, samples=0, dropped=0)

        def on_page(st: Stats) -> None:
            progress.update(bar, completed=st.pages_done, samples=st.samples, dropped=st.dropped)

        manifest, stats = asyncio.run(generate(config, on_page))
    info = manifest.splits[split]
    size = _disk_bytes(a.out / split)
    secs = max(stats.elapsed_s, 1e-9)
    per_1000 = size / max(1, info.samples) * 1000
    out.print(
        f"{split}: {a.pages} pages -> {info.samples} samples ({stats.dropped} pages dropped) in "
        f"{secs:.1f} s: {a.pages / secs:.2f} pages/s, {info.samples / secs:.1f} samples/s, "
        f"{size / 1e6:.1f} MB on disk ({per_1000 / 1e6:.1f} MB per 1000 samples)",
        markup=False,
    )
    out.print(f"manifest: {a.out / 'manifest.json'}", markup=False)
    return 0 if info.samples else 1


def run_show(a: argparse.Namespace) -> int:
    manifest = read_manifest(a.dir)
    table = Table(title=f"{a.dir} ({manifest.format}, generator {manifest.generator_version})")
    for col in ("split", "what", "count"):
        table.add_column(col)
    for name, info in manifest.splits.items():
        if a.split is not None and name != a.split:
            continue
        table.add_row(
            name, "pages / samples / shards", f"{info.pages} / {info.samples} / {len(info.shards)}"
        )
        for group, counts in (
            ("kind", info.counts),
            ("task", info.tasks),
            ("dropped", info.dropped),
        ):
            for key, n in counts.items():
                table.add_row("", f"{group}: {key}", str(n))
    out.print(table)
    samples = list(iter_samples(a.dir, a.split))
    chosen = pick(samples, a.n, random.Random(a.seed))
    path = a.html or a.dir / "contact.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    root = path.parent.resolve()
    for s in chosen:  # image paths in the sheet are relative to where it is saved
        if not s.image_path.resolve().is_relative_to(root):
            err.print("--html must be inside the dataset folder (images are linked, not copied)")
            return 2
    resolved = [type(s)(s.sample, s.image_path.resolve()) for s in chosen]
    path.write_text(
        contact_sheet(root, resolved, f"Gaze synthetic data: {a.dir.name}"), encoding="utf-8"
    )
    out.print(f"contact sheet: {path} ({len(chosen)} samples)", markup=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)
    try:
        if a.command == "generate":
            return run_generate(a)
        return run_show(a)
    except DatasetError as e:
        err.print(str(e), markup=False)
        return 2
