"""Read every screenshot of a generated data set once: ``words.jsonl`` beside each shard's samples.

Contract:
- ``ensure_words(shard_dir)`` reads (``perception.builtin.reader``) each image referenced by the
  shard's ``samples.jsonl`` that ``words.jsonl`` does not list yet, at CSS scale (device-pixel
  images are scaled down first, as the predictor does), and appends one line per image:
  ``{"image": "images/...", "words": [[text, x, y, w, h, score], ...]}`` in CSS px. Appending
  makes it resumable: an interrupted run keeps every finished line; a torn last line is dropped.
  Small screens are read first, so an interrupted run leaves the most images read.
- ``load_words(shard_dir)`` -> {image path: [Word]}.

Training reads the same OCR output the agent will see at run time, errors included.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from perception.builtin.reader import Word, read_words, set_threads, to_css

WORDS = "words.jsonl"


def css_image(path: Path, scale: float) -> Image.Image:
    """The screenshot at 1 px per CSS px."""
    with Image.open(path) as im:
        return to_css(im, scale)


def shard_dirs(root: Path) -> list[Path]:
    """The shard folders (those holding a ``samples.jsonl``) under ``root``, in order."""
    return sorted(p.parent for p in root.rglob("samples.jsonl"))


def load_words(shard: Path) -> dict[str, list[Word]]:
    out: dict[str, list[Word]] = {}
    path = shard / WORDS
    if not path.is_file():
        return out
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line from an interrupted run
        out[rec["image"]] = [Word.from_json(r) for r in rec["words"]]
    return out


def ensure_words(
    shard: Path,
    progress: Callable[[int, int], None] | None = None,
    keep: Callable[[str], bool] | None = None,
) -> int:
    """Read the images ``words.jsonl`` lacks (with ``keep``, only those whose path relative to
    the shard it keeps); returns how many were read now."""
    done = load_words(shard)
    todo: dict[str, float] = {}
    area: dict[str, float] = {}
    for line in (shard / "samples.jsonl").read_text(encoding="utf-8").splitlines():
        s = json.loads(line)
        if keep is not None and not keep(s["image"]):
            continue
        if s["image"] not in done and s["image"] not in todo:
            todo[s["image"]] = s["frame"]["image_w"] / s["frame"]["region_w"]
            area[s["image"]] = s["frame"]["region_w"] * s["frame"]["region_h"]
    todo = dict(sorted(todo.items(), key=lambda kv: area[kv[0]]))  # small screens first
    path = shard / WORDS
    if path.is_file() and not path.read_bytes().endswith(b"\n"):
        path.write_text(
            "".join(f"{json.dumps({'image': k, 'words': [w.to_json() for w in v]})}\n"
                    for k, v in done.items()),
            encoding="utf-8",
        )  # fmt: skip
    with path.open("a", encoding="utf-8") as f:
        for i, (rel, scale) in enumerate(todo.items()):
            words = read_words(css_image(shard / rel, scale))
            f.write(json.dumps({"image": rel, "words": [w.to_json() for w in words]}) + "\n")
            f.flush()
            if progress:
                progress(i + 1, len(todo))
    return len(todo)


def main(argv: list[str] | None = None) -> int:
    """``python -m perception.builtin.ocr_cache [--threads N] DIR...``: read every shard under
    each DIR (run one process per shard with ``--threads 1`` to use several cores)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m perception.builtin.ocr_cache")
    p.add_argument("--threads", type=int, default=None, help="OCR threads (default: all cores)")
    p.add_argument("dirs", nargs="+", type=Path)
    args = p.parse_args(argv)
    if args.threads:
        set_threads(args.threads)
    for root in args.dirs:
        for shard in shard_dirs(root):
            n = ensure_words(
                shard,
                lambda i, t, name=shard: print(f"\r{name}: {i}/{t}", end="", flush=True),  # type: ignore[misc]
            )
            print(f"\n{shard}: read {n} images")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
