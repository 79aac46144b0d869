"""Grounding benchmark on datasets in ScreenSpot's layout: is the model's point inside the box?

Contract:
- ``load_dataset(path, images=None, convention="auto")`` reads a JSON list (or a folder of JSON
  lists) of ``{img_filename, bbox, instruction, data_type | ui_type, platform}``. ``bbox`` is
  ``[x, y, w, h]`` in ScreenSpot / ScreenSpot-v2 ("v2") and ``[x1, y1, x2, y2]`` in ScreenSpot-Pro
  ("pro"); "auto" picks "pro" when records carry ``ui_type`` or ``img_size``. A malformed record is
  an error naming the file and index. Images are looked up in ``images`` (default: an ``images``
  folder beside the JSON, else the JSON's own folder).
- ``gaze bench grounding`` (parsed by ``agent.sweep_cli``, options from ``add_grounding_options``)
  prints the summary as JSON.
- ``run_grounding`` asks the model for each sample with ``agent.locate.locate`` and scores a hit
  when the point lies inside the box (edges included). ``summarise`` gives accuracy overall, per
  element type and per platform; ``render_html`` draws every miss (box in green, point in red).
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PIL import Image, ImageDraw

from agent.locate import Located, locate
from perception.model import Model
from perception.profiles import Profile

Convention = Literal["auto", "v2", "pro"]


class DatasetError(ValueError):
    pass


@dataclass(frozen=True)
class Sample:
    image: Path
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in image px
    instruction: str
    element: str  # "text", "icon", ...
    platform: str


@dataclass(frozen=True)
class Scored:
    sample: Sample
    found: Located
    hit: bool


def _records(path: Path) -> list[tuple[Path, int, dict[str, object]]]:
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    if not files:
        raise DatasetError(f"{path}: no *.json annotation files")
    out: list[tuple[Path, int, dict[str, object]]] = []
    for f in files:
        try:
            data = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise DatasetError(f"{f}: not readable JSON ({e})") from None
        if not isinstance(data, list):
            raise DatasetError(f"{f}: expected a JSON list of samples")
        out.extend((f, i, r) for i, r in enumerate(data))  # records are checked by load_dataset
    return out


def load_dataset(
    path: Path, images: Path | None = None, convention: Convention = "auto"
) -> list[Sample]:
    recs = _records(path)
    if convention == "auto":
        pro = any(isinstance(r, dict) and ("ui_type" in r or "img_size" in r) for _, _, r in recs)
        convention = "pro" if pro else "v2"
    samples = []
    for f, i, r in recs:
        where = f"{f}[{i}]"
        if not isinstance(r, dict):
            raise DatasetError(f"{where}: a sample is a JSON object")
        try:
            name, bbox, instruction = r["img_filename"], r["bbox"], r["instruction"]
        except KeyError as e:
            raise DatasetError(f"{where}: missing field {e.args[0]!r}") from None
        if not (
            isinstance(bbox, list)
            and len(bbox) == 4
            and all(isinstance(v, (int, float)) for v in bbox)
        ):
            raise DatasetError(f"{where}: bbox must be 4 numbers, got {bbox!r}")
        a, b, c, d = (float(v) for v in bbox)
        box = (a, b, a + c, b + d) if convention == "v2" else (a, b, c, d)
        if box[2] < box[0] or box[3] < box[1]:
            raise DatasetError(f"{where}: bbox {bbox} is empty under the {convention} convention")
        folder = images or (f.parent / "images" if (f.parent / "images").is_dir() else f.parent)
        samples.append(
            Sample(
                image=folder / str(name),
                box=box,
                instruction=str(instruction),
                element=str(r.get("data_type") or r.get("ui_type") or "unknown"),
                platform=str(r.get("platform") or r.get("data_source") or "unknown"),
            )
        )
    return samples


def run_grounding(
    samples: list[Sample],
    model: Model,
    profile: Profile,
    on_result: Callable[[Scored], None] | None = None,
) -> list[Scored]:
    out = []
    for s in samples:
        try:
            with Image.open(s.image) as img:
                img.load()
                found = locate(img, s.instruction, model, profile)
        except OSError as e:
            raise DatasetError(f"cannot read image {s.image}: {e}") from None
        x1, y1, x2, y2 = s.box
        hit = (
            found.x is not None
            and found.y is not None
            and x1 <= found.x <= x2
            and y1 <= found.y <= y2
        )
        scored = Scored(s, found, hit)
        out.append(scored)
        if on_result is not None:
            on_result(scored)
    return out


def summarise(results: list[Scored]) -> dict[str, object]:
    def acc(group: list[Scored]) -> dict[str, float | int]:
        hits = sum(r.hit for r in group)
        return {
            "samples": len(group),
            "hits": hits,
            "accuracy": round(hits / len(group), 4) if group else 0.0,
        }

    by_type: dict[str, list[Scored]] = defaultdict(list)
    by_platform: dict[str, list[Scored]] = defaultdict(list)
    for r in results:
        by_type[r.sample.element].append(r)
        by_platform[r.sample.platform].append(r)
    return {
        "overall": acc(results),
        "by_element": {k: acc(v) for k, v in sorted(by_type.items())},
        "by_platform": {k: acc(v) for k, v in sorted(by_platform.items())},
        "unparsed": sum(r.found.error is not None for r in results),
    }


def _miss_image(r: Scored, max_w: int = 720) -> str:
    with Image.open(r.sample.image) as img:
        im = img.convert("RGB")
    d = ImageDraw.Draw(im)
    d.rectangle(r.sample.box, outline=(10, 160, 60), width=max(2, im.width // 400))
    if r.found.x is not None and r.found.y is not None:
        x, y, rad = r.found.x, r.found.y, max(5, im.width // 150)
        d.ellipse(
            (x - rad, y - rad, x + rad, y + rad), outline=(224, 36, 94), width=max(2, rad // 2)
        )
    if im.width > max_w:
        im = im.resize((max_w, round(im.height * max_w / im.width)))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def render_html(results: list[Scored], summary: dict[str, object], title: str) -> str:
    e = html.escape
    rows = []
    for section in ("by_element", "by_platform"):
        groups = summary[section]
        assert isinstance(groups, dict)
        for k, v in groups.items():
            rows.append(
                f"<tr><td>{e(section[3:])}</td><td>{e(k)}</td><td>{v['hits']}/{v['samples']}</td><td>{v['accuracy']:.1%}</td></tr>"
            )
    misses = "".join(
        f"<figure><img src='{_miss_image(r)}'><figcaption>{e(r.sample.instruction)} — "
        f"{e(r.found.error or f'point ({r.found.x}, {r.found.y})')} · box {tuple(round(v) for v in r.sample.box)}"
        f"</figcaption></figure>"
        for r in results
        if not r.hit
    )
    overall = summary["overall"]
    assert isinstance(overall, dict)
    return (
        f"<!doctype html><meta charset='utf-8'><title>{e(title)}</title>"
        "<style>body{font:14px system-ui,sans-serif;margin:24px}td,th{padding:2px 12px 2px 0;text-align:left}"
        "figure{display:inline-block;margin:8px;max-width:740px}img{max-width:100%}</style>"
        f"<h1>{e(title)}</h1><p>accuracy {overall['accuracy']:.1%} ({overall['hits']}/{overall['samples']}); "
        f"the green box is the target, the red circle the model's point</p>"
        f"<table><tr><th>by</th><th>group</th><th>hits</th><th>accuracy</th></tr>{''.join(rows)}</table>"
        f"<h2>Misses</h2>{misses or '<p>none</p>'}"
    )


def cmd_bench_grounding(args: argparse.Namespace) -> int:
    from agent.console import err
    from agent.models import ModelSpecError, load_model

    try:
        model, profile = load_model(args.model, args.profile)
        samples = load_dataset(
            Path(args.dataset), Path(args.images) if args.images else None, args.convention
        )
        if args.limit:
            samples = samples[: args.limit]
        results = run_grounding(
            samples, model, profile,
            on_result=lambda r: err.print(("hit " if r.hit else "miss") + f"  {r.sample.instruction[:70]}", highlight=False, markup=False),
        )  # fmt: skip
    except (ModelSpecError, DatasetError) as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        return 2
    summary = summarise(results)
    summary.update({"model": model.name, "profile": profile.name, "dataset": args.dataset})
    sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    if args.report:
        Path(args.report).write_text(
            render_html(results, summary, f"Grounding: {args.dataset}"), encoding="utf-8"
        )
    return 0


def add_grounding_options(g: argparse._ArgumentGroup) -> None:
    """The options of ``gaze bench grounding DATASET``; the ``gaze bench`` parser (with --model,
    --profile and the dataset as its second positional) lives in ``agent.sweep_cli``."""
    g.add_argument(
        "--images", help="image folder (default: images/ beside the JSON, else its folder)"
    )
    g.add_argument(
        "--convention", choices=["auto", "v2", "pro"], default="auto",
        help="bbox as [x, y, w, h] (ScreenSpot, -v2) or [x1, y1, x2, y2] (ScreenSpot-Pro); auto: pro "
        "when samples carry ui_type/img_size",
    )  # fmt: skip
    g.add_argument("--limit", type=int, default=0, help="only the first N samples")
    g.add_argument("--report", metavar="HTML", help="write a report with every miss drawn")
