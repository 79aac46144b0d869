"""Model coordinates land on the right element at any device scale factor, for every family.

The model answers below are written by hand from the page's CSS layout and each family's documented
coordinate space (never computed with Frame), so a bug in the frame maths cannot hide itself.
The target is button B, centred at CSS (900, 500) in a 1280x800 viewport; its neighbours are 80 px
away, so an answer that is off by a DPR factor or mixes up spaces clicks another button or nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from actions.browser import BrowserEnv
from actions.environment import BrowserConfig
from agent.loop import LoopConfig, run_episode
from agent.policy import ModelPolicy
from perception.model import ScriptedModel
from perception.profiles import Profile, get_profile
from perception.tiling import ImagePolicy
from tasks.server import SiteServer

BUTTONS = {"A": (820, 500), "B": (900, 500), "C": (980, 500), "D": (900, 440), "E": (900, 560)}
PAGE = "<!doctype html><meta charset=utf-8><title>grid</title><body style='margin:0'>" + "".join(
    f"<button id={n} style='position:absolute;left:{x - 35}px;top:{y - 20}px;width:70px;"
    f"height:40px' onclick='window.clicked=(window.clicked||[]).concat(\"{n}\")'>{n}</button>"
    for n, (x, y) in BUTTONS.items()
)


@pytest.fixture(scope="module")
def grid_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root: Path = tmp_path_factory.mktemp("sites")
    (root / "grid").mkdir()
    (root / "grid" / "index.html").write_text(PAGE, encoding="utf-8")
    with SiteServer(root) as s:
        yield s.url("grid/index.html")


NATIVE_GAZE = replace(get_profile("gaze"), image=ImagePolicy(mode="native"))

CASES: list[tuple[str, Profile, str, str]] = [
    # (case id, profile, screenshot scale, the model's answer for button B)
    ("gaze-css-dpr2", get_profile("gaze"), "css", "click(900, 500)"),
    # the HiDPI case: a 2560x1600 screenshot, the model answers in its pixels
    ("gaze-device-dpr2", NATIVE_GAZE, "device", "click(1800, 1000)"),
    # smart_resize(800, 1280) = 812x1288: x 900*1288/1280 = 905.6, y 500*812/800 = 507.5
    (
        "uitars15-device-dpr2",
        get_profile("uitars-1.5"),
        "device",
        "Thought: B\nAction: click(start_box='(906,508)')",
    ),
    # 0-1000: 900/1280*1000 = 703.1, 500/800*1000 = 625
    (
        "uitars10-dpr2",
        get_profile("uitars-1.0"),
        "device",
        "Action: click(start_box='<|box_start|>(703,625)<|box_end|>')",
    ),
    (
        "showui-dpr2",
        get_profile("showui"),
        "device",
        "{'action': 'CLICK', 'value': None, 'position': [0.703, 0.625]}",
    ),
    # OS-Atlas style box in 0-1000 around B: its centre (703, 625) is the click
    (
        "grounding1000-box-dpr2",
        get_profile("grounding-1000"),
        "device",
        "<|object_ref_start|>B<|object_ref_end|><|box_start|>(690,600),(716,650)<|box_end|>",
    ),
    (
        "qwen25-dpr2",
        get_profile("qwen2.5-vl"),
        "device",
        '<tool_call>\n{"name": "computer_use", "arguments": {"action": "left_click", "coordinate": [906, 508]}}\n</tool_call>',
    ),
]


@pytest.mark.parametrize(("case", "profile", "scale", "answer"), CASES, ids=[c[0] for c in CASES])
def test_answer_clicks_button_b(
    case: str, profile: Profile, scale: str, answer: str, env: BrowserEnv, grid_url: str
) -> None:
    cfg = BrowserConfig(device_scale_factor=2.0, screenshot_scale=scale)  # type: ignore[arg-type]
    assert env.reset(grid_url, cfg).ok
    model = ScriptedModel([answer, "done()"])
    policy = ModelPolicy(model, replace(profile, history_images=1))
    ep = run_episode(["click B"], env, policy, config=LoopConfig(max_steps=3, max_parse_retries=0))
    assert ep.records[0].parse_error is None, ep.records[0].parse_error
    assert ep.records[0].results and ep.records[0].results[0].ok, ep.records[0].results
    assert env.evaluate("() => window.clicked || []") == ["B"]
    # what the model saw is what the profile promises: DPR-sized for native, resized otherwise
    shown = model.calls[0].last_image
    assert shown is not None
    if profile.image.mode == "native":
        assert shown.image.size == (2560, 1600)
    if profile.image.mode == "smart_resize":
        assert shown.image.size == (1288, 812)


def test_observation_reports_its_scale(env: BrowserEnv, grid_url: str) -> None:
    env.reset(grid_url, BrowserConfig(device_scale_factor=2.0, screenshot_scale="device"))
    obs = env.observe()
    assert obs.screenshot.size == (2560, 1600) and obs.screenshot_scale == 2.0
    env.reset(grid_url, BrowserConfig(device_scale_factor=2.0, screenshot_scale="css"))
    obs = env.observe()
    assert obs.screenshot.size == (1280, 800) and obs.screenshot_scale == 1.0


def test_point_outside_the_viewport_is_an_error_not_a_click(env: BrowserEnv, grid_url: str) -> None:
    env.reset(grid_url, BrowserConfig(device_scale_factor=2.0, screenshot_scale="css"))
    model = ScriptedModel(["click(1800, 1000)", "done()"])  # device px sent to a CSS-scale profile
    ep = run_episode(
        ["click B"], env, ModelPolicy(model, get_profile("gaze")), config=LoopConfig(max_steps=2)
    )
    res = ep.records[0].results[0]
    assert not res.ok and "outside" in (res.error or "")
    assert env.evaluate("() => window.clicked || []") == []
