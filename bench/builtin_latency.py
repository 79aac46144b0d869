"""Latency and peak memory of Gaze's built-in model, one decision at a time, on this machine's CPU.

For a MiniWoB-sized screen (160x210, one tile) and a 1280x800 page (tiled), it times
``BuiltinModel.generate`` on one request (greedy decoding to ``<eos>`` or ``--max-new-tokens``)
and prints the median of ``--repeats`` calls after one warm-up, and the peak RSS of the process.
Without an export folder it measures random weights of the default ``ModelConfig`` (the shape
is what decides latency). Usage::

    python bench/builtin_latency.py [EXPORT_FOLDER] [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from PIL import Image

from perception.builtin.backend import BuiltinModel
from perception.builtin.config import ModelConfig
from perception.builtin.model import GazeVLM
from perception.builtin.weights import export
from perception.frames import Frame
from perception.model import Message, ModelImage, ModelRequest

SCREENS = ((160, 210), (1280, 800))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export", nargs="?", type=Path, help="an exported model folder")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    folder = args.export
    if folder is None:
        folder = Path(tempfile.mkdtemp()) / "random"
        torch.manual_seed(0)
        export(GazeVLM(ModelConfig()), folder)
    model = BuiltinModel(folder)
    for w, h in SCREENS:
        image = Image.new("RGB", (w, h), "white")
        frame = Frame(region_x=0, region_y=0, region_w=w, region_h=h, image_w=w, image_h=h)
        message = Message("user", "Goal: click the Submit button", (ModelImage(image, frame),))
        request = ModelRequest((message,), max_new_tokens=args.max_new_tokens)
        model.generate([request])  # warm-up
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            completion = model.generate([request])[0]
            times.append(time.perf_counter() - t0)
        print(
            f"{w}x{h}: tiles {completion.extra.get('tiles', 1):.0f}, "
            f"median {statistics.median(times) * 1000:.0f} ms (min {min(times) * 1000:.0f} ms), "
            f"{completion.completion_tokens} tokens"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
