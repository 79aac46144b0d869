"""Latency and peak memory of Gaze's built-in model, one decision at a time, on this machine's CPU.

Two real screens, captured in headless Chromium when the bench starts: MiniWoB++'s enter-text
(seed 0; the 160x210 task area, one tile) and the demo shop's search page at 1280x800 (tiled), each
also a second time after typing into its text box (the next step of an episode). For each it times
``BuiltinModel.generate`` on one request (greedy decoding to ``<eos>`` or ``--max-new-tokens``):

- "first step": every OCR cache emptied before the call (a screen never seen);
- "next step": the typed screen, after the first screen was read (the screen cache emptied, the
  OCR's text-line cache kept, as in an episode: ``perception.builtin.reader``).

It prints the median of ``--repeats`` calls after one warm-up, split into OCR and model time, and
the process's peak RSS. Without an export folder it measures random weights of the default
``ModelConfig`` (the shape decides latency). Usage::

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
from actions.types import Type
from perception.builtin import reader
from perception.builtin.backend import BuiltinModel
from perception.builtin.config import ModelConfig
from perception.builtin.model import GazeVLM
from perception.builtin.weights import export
from perception.frames import Frame
from perception.model import Message, ModelImage, ModelRequest
from tasks.miniwob import MiniWoBEnv, html_root
from tasks.server import SiteServer

FOCUS_JS = (
    "document.querySelector('input[type=text], input[type=search], input:not([type])').focus()"
)


def screens() -> list[tuple[str, Image.Image, Image.Image, str]]:
    """(name, CSS-scale screenshot, the same after typing into its box, goal) per screen."""
    out = []
    env = BrowserEnv(BrowserConfig())
    try:
        with SiteServer(html_root()) as server:
            wob = MiniWoBEnv(env, server.base_url)
            goal = wob.start("enter-text", 0)
            first = wob.observe().screenshot.convert("RGB")
            env.evaluate(FOCUS_JS)
            env.act(Type(text="Kasey"))
            out.append(("MiniWoB 160x210", first, wob.observe().screenshot.convert("RGB"), goal))
        with SiteServer() as server:
            env.reset(server.url("demo/search.html"), BrowserConfig())
            first = env.observe().screenshot.convert("RGB")
            env.evaluate(FOCUS_JS)
            env.act(Type(text="lamp"))
            shot = env.observe().screenshot.convert("RGB")
            out.append(("demo shop 1280x800", first, shot, 'Search the shop for "lamp"'))
    finally:
        env.close()
    return out


def _request(image: Image.Image, goal: str, max_new: int) -> ModelRequest:
    w, h = image.size
    frame = Frame(region_x=0, region_y=0, region_w=w, region_h=h, image_w=w, image_h=h)
    return ModelRequest(
        (Message("user", f"Goal: {goal}", (ModelImage(image, frame),)),), max_new_tokens=max_new
    )


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
    for name, first, typed, goal in screens():
        request = _request(first, goal, args.max_new_tokens)
        following = _request(typed, goal, args.max_new_tokens)
        model.generate([request])  # warm-up
        for step in ("first step", "next step"):
            times, ocr, net = [], [], []
            for _ in range(args.repeats):
                reader.clear_cache()  # a screen never seen ...
                timed = request
                if step == "next step":  # ... or the typed one, after the first was read
                    model.generate([request])
                    reader.clear_cache(lines=False)
                    timed = following
                t0 = time.perf_counter()
                completion = model.generate([timed])[0]
                times.append(time.perf_counter() - t0)
                ocr.append(completion.extra["ocr_s"])
                net.append(completion.extra["model_s"])
            ms = [statistics.median(v) * 1000 for v in (times, ocr, net)]
            print(
                f"{name}, {step}: tiles {completion.extra.get('tiles', 1):.0f}, median "
                f"{ms[0]:.0f} ms (OCR {ms[1]:.0f} ms, model {ms[2]:.0f} ms; min "
                f"{min(times) * 1000:.0f} ms), {completion.completion_tokens} tokens: "
                f"{completion.text!r}"
            )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
