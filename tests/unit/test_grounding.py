"""gaze bench grounding: ScreenSpot-layout datasets load in both conventions and score point-in-box."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from agent.grounding import DatasetError, load_dataset, render_html, run_grounding, summarise
from perception.model import ModelRequest, ScriptedModel
from perception.profiles import get_profile

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "tasks/datasets/grounding-demo"


def test_demo_dataset_loads_as_v2() -> None:
    samples = load_dataset(DEMO)
    assert len(samples) == 7 and {s.element for s in samples} == {"text", "icon"}
    first = samples[0]
    raw = json.loads((DEMO / "screenspot_web.json").read_text())[0]["bbox"]
    assert first.box == (raw[0], raw[1], raw[0] + raw[2], raw[1] + raw[3])
    assert first.image.is_file()


def centre_oracle(samples: list) -> ScriptedModel:  # type: ignore[type-arg]
    """Answers each instruction with its box centre (gaze profile: image pixels)."""
    centres = {
        s.instruction: ((s.box[0] + s.box[2]) / 2, (s.box[1] + s.box[3]) / 2) for s in samples
    }

    def answer(req: ModelRequest) -> str:
        text = req.messages[-1].text.removeprefix("Instruction: ")
        x, y = centres[text]
        return f"click({x:.0f}, {y:.0f})"

    return ScriptedModel(answer)


def test_hits_misses_and_breakdown() -> None:
    samples = load_dataset(DEMO)
    good = run_grounding(samples, centre_oracle(samples), get_profile("gaze"))
    s = summarise(good)
    assert s["overall"] == {"samples": 7, "hits": 7, "accuracy": 1.0}
    bad = run_grounding(samples, ScriptedModel(["click(2, 2)"] * 7), get_profile("gaze"))
    s = summarise(bad)
    assert s["overall"]["hits"] == 0 and set(s["by_element"]) == {"text", "icon"}  # type: ignore[index]
    page = render_html(bad, s, "demo")
    assert page.count("<figure>") == 7 and "data:image/jpeg;base64," in page


def test_pro_convention_is_detected(tmp_path: Path) -> None:
    Image.new("RGB", (100, 80)).save(tmp_path / "a.png")
    (tmp_path / "app.json").write_text(json.dumps([
        {"img_filename": "a.png", "bbox": [10, 20, 30, 60], "instruction": "x", "ui_type": "icon",
         "platform": "macos", "img_size": [100, 80]}
    ]))  # fmt: skip
    (s,) = load_dataset(tmp_path)
    assert s.box == (10, 20, 30, 60) and s.platform == "macos"
    (s,) = load_dataset(tmp_path, convention="v2")
    assert s.box == (10, 20, 40, 80)


@pytest.mark.parametrize(
    ("content", "msg"),
    [
        ("{", "not readable JSON"),
        ('{"a": 1}', "JSON list"),
        ('[{"bbox": [1,2,3,4], "instruction": "x"}]', "img_filename"),
        ('[{"img_filename": "a", "bbox": [1,2,3], "instruction": "x"}]', "4 numbers"),
        ('[{"img_filename": "a", "bbox": [5,5,1,1], "instruction": "x", "ui_type": "t"}]', "empty"),
    ],
)
def test_malformed_datasets_name_the_problem(tmp_path: Path, content: str, msg: str) -> None:
    (tmp_path / "d.json").write_text(content)
    with pytest.raises(DatasetError, match=msg):
        load_dataset(tmp_path / "d.json")


def test_cli_bench_grounding(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("\n---\n".join(["click(640, 251)"] * 7))
    r = subprocess.run(
        [sys.executable, "-m", "agent.cli", "bench", "grounding", str(DEMO), "--model",
         f"scripted:{tmp_path / 'r.txt'}", "--report", str(tmp_path / "g.html")],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    # (640, 251) is inside the username field of login.png and nothing else
    assert summary["overall"]["hits"] == 1 and summary["overall"]["samples"] == 7
    assert (tmp_path / "g.html").read_text().count("<figure>") == 6
