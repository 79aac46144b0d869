"""How well and how fast the built-in model's OCR reads generated pages, against what they say.

Every screenshot of a generated dataset split whose samples name a text on it ("Where is the
text "X"?" prompts and "Read the text at (x, y)" answers) is read by ``perception.builtin.reader``
with its caches emptied. A text counts as read when its words appear, in order, among the words
read; "loose" ignores spaces and letter case (a line read as "Booknow" for "Book now"). With
``--padded``, the same screens are also read the way rapidocr reads by default (16 lines a batch,
each padded to the widest line of its batch and to at least 320 px), side by side in one process.

Usage::

    python -m tasks.synth generate --out /tmp/cmp --split heldout --pages 24 --seed 77 --workers 2
    python bench/ocr_read.py /tmp/cmp --split heldout [--padded]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image

from perception.builtin import reader

LOCATE = re.compile(r'^Where is the text "(.*)"\?$')


def known_texts(data: Path, split: str) -> dict[Path, set[str]]:
    """Screenshot path -> the texts its samples say it shows."""
    out: dict[Path, set[str]] = {}
    for f in sorted((data / split).glob("shard-*/samples.jsonl")):
        for line in f.read_text().splitlines():
            s = json.loads(line)
            m = LOCATE.match(s["prompt"])
            text = m.group(1) if m else s["target"] if s["task"] == "read_at_point" else None
            if text:
                out.setdefault(f.parent / s["image"], set()).add(text)
    return out


def measure(truth: dict[Path, set[str]]) -> tuple[int, int, int, float]:
    """(exact, loose, texts, seconds) for the reader as it is configured now."""
    exact = loose = total = 0
    seconds = 0.0
    for path, texts in truth.items():
        image = Image.open(path).convert("RGB")
        reader.clear_cache()
        t0 = time.perf_counter()
        words = [w.text for w in reader.read_words(image)]
        seconds += time.perf_counter() - t0
        squashed = "".join(words).lower()
        for text in texts:
            want = text.split()
            total += 1
            exact += any(words[i : i + len(want)] == want for i in range(len(words)))
            loose += "".join(want).lower() in squashed
    return exact, loose, total, seconds


def padded_engine() -> object:
    """rapidocr's default recognition (batches of 16 padded lines) behind Gaze's line cache."""
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(rec_batch_num=16)
    engine.text_rec = reader._LineCache(engine.text_rec, workers=1)
    return engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="a dataset folder of python -m tasks.synth generate")
    ap.add_argument("--split", default="heldout")
    ap.add_argument("--padded", action="store_true", help="also read as rapidocr does by default")
    args = ap.parse_args()
    truth = known_texts(args.data, args.split)
    if not truth:
        sys.exit(f"no screenshot of {args.data}/{args.split} names a text")
    rows = [("Gaze's reader", None)] + (
        [("rapidocr default", padded_engine())] if args.padded else []
    )
    print(f"{len(truth)} screenshots, {sum(len(t) for t in truth.values())} known texts")
    for name, engine in rows:
        reader.clear_cache()
        saved = reader._get_engine()
        reader._engine = engine or saved
        try:
            exact, loose, total, seconds = measure(truth)
        finally:
            reader._engine = saved
        print(
            f"{name:16s} read {exact}/{total} = {exact / total:.1%} exactly, "
            f"{loose / total:.1%} ignoring spaces and case; {seconds:.1f} s"
        )


if __name__ == "__main__":
    main()
