"""One demonstration step of a made-up page, as the data engine writes it, for ``make_example``.

Contract: ``one_step(tmp_path, task, goal, target)`` writes a blank 128x96 screenshot of a 64x48
CSS px page (device scale factor 2) and returns the ``tasks.synth.samples.Sample`` of its first
step (prompt ``Goal: <goal>``, the given target) with the screenshot's path. Test code only.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from perception.frames import Frame
from tasks.synth.samples import PageInfo, Sample


def one_step(tmp_path: Path, task: str, goal: str, target: str) -> tuple[Sample, Path]:
    image = tmp_path / "p000000-0.png"
    Image.new("RGB", (128, 96), "white").save(image)
    frame = Frame(region_x=0, region_y=0, region_w=64, region_h=48, image_w=128, image_h=96)
    info = PageInfo(page_id="p000000", template="t", theme="t", viewport_w=64, viewport_h=48,
                    dpr=2.0)  # fmt: skip
    sample = Sample(
        id="p000000-0-0", kind="demo", task=task, split="train", image="images/x.png",
        image_w=128, image_h=96, frame=frame, prompt=f"Goal: {goal}", target=target, goal=goal,
        step=0, page=info,
    )  # fmt: skip
    return sample, image
