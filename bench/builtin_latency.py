"""Latency and peak memory of Gaze's built-in model, one decision at a time, on this machine's CPU.

Two real screens, captured in headless Chromium when the bench starts: MiniWoB++'s
click-button-sequence (seed 0; the 160x210 task area, one tile) and the demo shop's search page at
1280x800 (tiled). For each it times ``BuiltinModel.generate`` on one request (greedy decoding to
``<eos>`` or ``--max-new-tokens``) with the OCR's cache emptied before every call, as each step of
an episode shows a new screen, and prints the median of ``--repeats`` calls after one warm-up,
split into OCR and model time, and the process's peak RSS. Without an export folder it measures
random weights of the default ``ModelConfig`` (the shape decides latency). Usage::

    python bench/builtin_latency.py [EXPORT_FOLDER] [--threads 2] [--repeats 5]
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

from actions.browser import BrowserEnv
from actions.environment import BrowserConfig
from perception.builtin import reader
from perception.builtin.backend import BuiltinModel
from perception.builtin.config import ModelConfig
from perception.builtin.model import GazeVLM
from perception.builtin.weights import export
from perception.frames import Frame
from perception.model import Message, ModelImage, ModelRequest
from tasks.miniwob import MiniWoBEnv, html_root
from tasks.server import SiteServer


def screens() -> list[tuple[str, Image.Image, str]]:
    """(name, CSS-scale screenshot, goal) for the two screens the bench times."""
    out = []
    env = BrowserEnv(BrowserConfig())
    try:
        with SiteServer(html_root()) as server:
            wob = MiniWoBEnv(env, server.base_url)
            goal = wob.start("click-button-sequence", 0)
            out.append(("MiniWoB 160x210", wob.observe().screenshot.convert("RGB"), goal))
        with SiteServer() as server:
            env.reset(server.url("demo/search.html"), BrowserConfig())
            shot = env.observe().screenshot.convert("RGB")
            out.append(("demo shop 1280x800", shot, 'Search the shop for "lamp"'))
    finally:
        env.close()
    return out


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
    for name, image, goal in screens():
        w, h = image.size
        frame = Frame(region_x=0, region_y=0, region_w=w, region_h=h, image_w=w, image_h=h)
        message = Message("user", f"Goal: {goal}", (ModelImage(image, frame),))
        request = ModelRequest((message,), max_new_tokens=args.max_new_tokens)
        model.generate([request])  # warm-up
        times, ocr, net = [], [], []
        for _ in range(args.repeats):
            reader.clear_cache()  # a new screen at every step
            t0 = time.perf_counter()
            completion = model.generate([request])[0]
            times.append(time.perf_counter() - t0)
            ocr.append(completion.extra["ocr_s"])
            net.append(completion.extra["model_s"])
        ms = [statistics.median(v) * 1000 for v in (times, ocr, net)]
        print(
            f"{name}: tiles {completion.extra.get('tiles', 1):.0f}, median {ms[0]:.0f} ms "
            f"(OCR {ms[1]:.0f} ms, model {ms[2]:.0f} ms; min {min(times) * 1000:.0f} ms), "
            f"{completion.completion_tokens} tokens: {completion.text!r}"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
