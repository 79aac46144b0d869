"""Build the small grounding dataset shipped in tasks/datasets/grounding-demo (ScreenSpot-v2 layout).

Screenshots of the bundled demo site at 1280x800, with each target's box read from the DOM, written
as ``screenspot_web.json`` (bbox = [x, y, w, h] in image px, as ScreenSpot-v2) plus ``images/``.
It is for tests and demos of ``gaze bench grounding``; it is not a benchmark of anything real.

    python bench/make_grounding_demo.py [--out tasks/datasets/grounding-demo]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actions.browser import BrowserEnv
from tasks.server import SiteServer

TARGETS = {
    "login.html": [
        ("#username", "the username field", "text"),
        ("#remember", "the Remember me checkbox", "icon"),
        ("#sign-in", "the Sign in button", "text"),
    ],
    "search.html?q=lamp": [
        ('[data-id="led-clip-lamp"] a.name', "the LED Clip Lamp result", "text"),
        (".cart-count, #cart-count, .badge", "the cart item counter", "icon"),
    ],
    "contact.html": [
        ("textarea", "the message box", "text"),
        (
            'input[type="radio"][value="high"], input[value="High"]',
            "the High priority option",
            "icon",
        ),
    ],
}

BOX_JS = """(sel) => { for (const s of sel.split(',')) { const el = document.querySelector(s.trim());
  if (el) { const r = el.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; } } return null; }"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--out", default=str(Path(__file__).resolve().parents[1] / "tasks/datasets/grounding-demo")
    )
    out = Path(ap.parse_args().out)
    (out / "images").mkdir(parents=True, exist_ok=True)
    samples = []
    with SiteServer() as server, BrowserEnv() as env:
        for page, targets in TARGETS.items():
            env.reset(server.url(f"demo/{page}"))
            name = page.split("?")[0].replace(".html", "") + ".png"
            env.observe().screenshot.save(out / "images" / name)
            for selector, instruction, kind in targets:
                box = env.evaluate(BOX_JS, selector)
                if not isinstance(box, list):
                    raise SystemExit(f"{page}: nothing matches {selector!r}")
                samples.append(
                    {
                        "img_filename": name,
                        "bbox": [round(float(v), 1) for v in box if isinstance(v, (int, float))],
                        "instruction": instruction,
                        "data_type": kind,
                        "platform": "web",
                        "data_source": "gaze-demo",
                    }
                )
    (out / "screenspot_web.json").write_text(json.dumps(samples, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(samples)} samples to {out}")


if __name__ == "__main__":
    main()
