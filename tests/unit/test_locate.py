"""gaze locate: a grounding answer in the model's space comes back in pixels of the input image."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from agent.locate import locate
from perception.model import ModelError, ModelRequest, ScriptedModel
from perception.profiles import get_profile

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("profile", "reply", "expected"),
    [
        ("gaze", "click(100, 50)", (100, 50)),
        # 1280x800 is shown as 1288x812: (644, 406) is the centre of the input image
        ("uitars-1.5", "Action: click(start_box='(644,406)')", (640, 400)),
        ("grounding-1000", "(250, 750)", (320, 600)),
        ("showui", "[0.5, 0.25]", (640, 200)),
    ],
)
def test_point_in_input_image_pixels(profile: str, reply: str, expected: tuple[int, int]) -> None:
    model = ScriptedModel([reply])
    found = locate(
        Image.new("RGB", (1280, 800), "white"), "the button", model, get_profile(profile)
    )
    assert found.error is None and (found.x, found.y) == pytest.approx(expected)
    shown = model.calls[0].last_image
    assert shown is not None and "the button" in model.calls[0].messages[-1].text


def test_unparseable_and_failing_models_are_errors_not_points() -> None:
    img = Image.new("RGB", (200, 100))
    found = locate(img, "x", ScriptedModel(["I cannot see it"]), get_profile("gaze"))
    assert found.x is None and found.error

    def broken(req: ModelRequest) -> str:
        raise ModelError("down")

    found = locate(img, "x", ScriptedModel(broken), get_profile("gaze"))
    assert found.x is None and "down" in (found.error or "")


def test_cli_prints_json_and_draws_the_point(tmp_path: Path) -> None:
    Image.new("RGB", (640, 400), "white").save(tmp_path / "screen.png")
    (tmp_path / "r.txt").write_text("click(320, 100)")
    r = subprocess.run(
        [sys.executable, "-m", "agent.cli", "locate", str(tmp_path / "screen.png"), "the logo",
         "--model", f"scripted:{tmp_path / 'r.txt'}", "--save", str(tmp_path / "out.png")],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert (data["x"], data["y"], data["image_w"], data["image_h"]) == (320, 100, 640, 400)
    drawn = Image.open(tmp_path / "out.png").convert("RGB")
    assert drawn.getpixel((320, 100 - 12)) != (255, 255, 255)  # the marker is there
    bad = subprocess.run(
        [sys.executable, "-m", "agent.cli", "locate", str(tmp_path / "missing.png"), "x", "--model", f"scripted:{tmp_path / 'r.txt'}"],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert bad.returncode == 2 and "cannot read image" in bad.stderr
