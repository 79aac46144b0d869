"""Per-step cost of Gaze's loop without a model, against bare Playwright doing the same work.

Both sides load the same local page (1280x800, DPR 1) in Debian/Playwright Chromium and repeat one
step many times:

- bare:  ``page.screenshot(type=png)`` + ``page.mouse.click(x, y)`` with the sync Playwright API;
- bare-cdp: the capture Gaze itself uses (DevTools ``Page.captureScreenshot`` with
         ``optimizeForSpeed``) + the click, so Gaze's own overhead is visible apart from the
         faster capture;
- gaze:  one ``run_episode`` step: observe (screenshot + decode + title), tiling, prompt building,
         a zero-latency scripted model, parsing, repeat detection, act (click + navigation check),
         and the step record (screenshot bytes + a JSONL line) written to a run folder.

The two are measured in alternating blocks in one process so machine noise hits both alike; the
result is the median per-step time of each and their ratio. Usage::

    python bench/overhead.py [--steps 40] [--blocks 5] [--format png|jpeg]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from playwright.sync_api import Error, sync_playwright

from actions.browser import BrowserEnv
from actions.chromium import QUIET_ARGS, find_chromium, needs_no_sandbox
from actions.environment import BrowserConfig
from agent.loop import LoopConfig, run_episode
from agent.policy import ModelPolicy
from agent.runner import RunSink
from agent.trajectory import Recorder, RunMeta, Versions, now_iso
from perception.model import ScriptedModel
from perception.profiles import get_profile
from tasks.server import SiteServer

PAGE = (
    """<!doctype html><html><head><meta charset="utf-8"><title>bench</title>
<style>body{font:16px sans-serif;margin:40px} button{font-size:20px;padding:14px 28px}
.row{display:flex;gap:12px;flex-wrap:wrap;margin:10px 0}.card{border:1px solid #ccc;border-radius:8px;
padding:12px;width:260px}</style></head><body>
<h1>Counter</h1><button id="b" style="position:absolute;left:100px;top:120px">Add one</button>
<p style="margin-top:120px">Clicked <span id="n">0</span> times.</p>
<div class="row">"""
    + "".join(
        f'<div class="card"><b>Card {i}</b><p>Some text on card {i} to give the page content.</p></div>'
        for i in range(12)
    )
    + """</div><script>let n=0;document.getElementById('b').onclick=()=>{
document.getElementById('n').textContent=String(++n)}</script></body></html>"""
)

CLICK = (160.0, 145.0)  # inside the button


def bare_block(url: str, steps: int, fmt: str, *, cdp: bool) -> list[float]:
    with sync_playwright() as p:
        args = [*QUIET_ARGS, *(["--no-sandbox"] if needs_no_sandbox() else [])]
        exe = find_chromium(None, p.chromium.executable_path)
        browser = p.chromium.launch(executable_path=exe, args=args)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url)
        session = page.context.new_cdp_session(page)

        def shot() -> None:
            if cdp:
                for attempt in range(
                    3
                ):  # Chromium now and then refuses one capture; Gaze retries too
                    try:
                        session.send(
                            "Page.captureScreenshot", {"format": fmt, "optimizeForSpeed": True}
                        )
                        break
                    except Error:
                        if attempt == 2:
                            raise
            else:
                page.screenshot(type=fmt)  # type: ignore[arg-type]

        shot()  # warm-up
        times = []
        for _ in range(steps):
            t = time.perf_counter()
            shot()
            page.mouse.click(*CLICK)
            times.append(time.perf_counter() - t)
        browser.close()
    return times


def gaze_block(url: str, steps: int, fmt: str, out: Path) -> list[float]:
    cfg = BrowserConfig(screenshot_format=fmt)  # type: ignore[arg-type]
    model = ScriptedModel(lambda req: f"click({CLICK[0]:.0f}, {CLICK[1]:.0f})", name="zero-latency")
    policy = ModelPolicy(model, get_profile("gaze"))
    with BrowserEnv(cfg) as env:
        env.reset(url)
        env.observe()  # warm-up
        meta = RunMeta(
            run_id="bench",
            started_at=now_iso(),
            task={},
            model=model.name,
            profile="gaze",
            versions=Versions(gaze="dev", python=sys.version.split()[0]),
        )
        run_dir = Path(tempfile.mkdtemp(dir=out))
        recorder = Recorder(run_dir, meta)
        stamps = [time.perf_counter()]
        run_episode(
            ["click the button"],
            env,
            policy,
            config=LoopConfig(max_steps=steps, repeat_limit=steps + 1),
            sink=RunSink(recorder),
            on_step=lambda rec: stamps.append(time.perf_counter()),
        )
        recorder.close()
    # wall time per step, from one step's record written to the next's (the model takes ~0 s)
    return [b - a for a, b in itertools.pairwise(stamps)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--blocks", type=int, default=5)
    ap.add_argument("--format", choices=["png", "jpeg"], default="png")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bench").mkdir()
        (root / "bench" / "index.html").write_text(PAGE, encoding="utf-8")
        bare: list[float] = []
        bare_cdp: list[float] = []
        gaze: list[float] = []
        with SiteServer(root) as server:
            url = server.url("bench/index.html")
            for _ in range(args.blocks):
                bare += bare_block(url, args.steps, args.format, cdp=False)
                bare_cdp += bare_block(url, args.steps, args.format, cdp=True)
                gaze += gaze_block(url, args.steps, args.format, root)
    mb, mc, mg = (statistics.median(x) for x in (bare, bare_cdp, gaze))
    print(f"steps per variant: {len(bare)} ({args.blocks} alternating blocks of {args.steps})")
    print(f"screenshot format: {args.format}, viewport 1280x800, DPR 1")
    print(f"bare Playwright page.screenshot+click: median {mb * 1000:.1f} ms")
    print(f"bare CDP captureScreenshot+click:      median {mc * 1000:.1f} ms")
    print(f"Gaze loop step (no model):             median {mg * 1000:.1f} ms")
    print(f"ratio gaze / bare Playwright: {mg / mb:.2f}x")
    print(f"ratio gaze / bare CDP capture: {mg / mc:.2f}x")


if __name__ == "__main__":
    main()
