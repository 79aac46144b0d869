"""Task logs: what the loop writes reads back identically; damage is reported, not fatal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from actions.types import ActionResult, Click, DialogInfo, Type
from agent.loop import LoopConfig, run_episode
from agent.policy import ModelPolicy
from agent.report import render_report
from agent.runner import RunSink
from agent.trajectory import (
    LogError,
    Recorder,
    RunMeta,
    RunResult,
    StepRecord,
    Versions,
    now_iso,
    read_log,
)
from perception.frames import Frame
from perception.model import ScriptedModel
from perception.profiles import get_profile
from tests.fakes import two_screen_env


def meta() -> RunMeta:
    return RunMeta(
        run_id="r1",
        started_at=now_iso(),
        task={"id": "t", "goal": "g", "viewport": {"width": 400, "height": 300}},
        model="scripted",
        profile="gaze",
        versions=Versions(gaze="dev", python="3.11"),
    )


def result(**kw: object) -> RunResult:
    base = dict(
        success=True, stop_reason="done", steps=1, model_calls=1, goals_completed=1,
        duration_s=0.5, finished_at=now_iso(),
    )  # fmt: skip
    base.update(kw)
    return RunResult.model_validate(base)


def test_loop_records_round_trip(tmp_path: Path) -> None:
    env = two_screen_env()
    rec = Recorder(tmp_path / "run", meta())
    model = ScriptedModel(
        ["Thought: go\nAction: click(70, 60)", "garbage", "click(200, 170)", 'done("x")']
    )
    ep = run_episode(
        ["g"], env, ModelPolicy(model, get_profile("gaze")), config=LoopConfig(), sink=RunSink(rec)
    )
    rec.finish(result(steps=ep.steps, model_calls=ep.model_calls))
    log = read_log(tmp_path / "run")
    assert log.warnings == []
    assert log.steps == ep.records
    assert [s.step for s in log.steps] == [0, 1, 1, 2]
    assert log.steps[0].thought == "go" and log.steps[0].actions == [Click(x=70, y=60)]
    assert log.steps[1].parse_error and log.steps[2].attempt == 1
    first = log.steps[0]
    assert (tmp_path / "run" / first.screenshot).is_file()
    img = first.prompt[-1].images[0]
    assert img.source == first.screenshot and img.frame.image_w == 400
    assert set(first.timings) >= {"observe_s", "prompt_s", "model_s", "parse_s", "act_s"}
    html = render_report(log)
    assert "data:image/png;base64," in html and "&lt;" not in first.model_text  # type: ignore[operator]
    assert html.count("<section class='step'>") == 4
    assert '<circle cx="70.0" cy="60.0"' in html


def test_truncated_last_line_is_skipped_and_reported(tmp_path: Path) -> None:
    rec = Recorder(tmp_path, meta())
    step = StepRecord(
        step=0,
        time=now_iso(),
        url="u",
        screenshot="",
        actions=[Type(text="hi")],
        results=[ActionResult.success()],
    )
    rec.step(step)
    rec.step(step.model_copy(update={"step": 1}))
    rec.close()
    with open(tmp_path / "steps.jsonl", "a") as f:
        f.write('{"step": 2, "time": "x", "url": "u", "screenshot": "", "acti')
    log = read_log(tmp_path)
    assert [s.step for s in log.steps] == [0, 1]
    assert any("truncated" in w for w in log.warnings)
    assert any("no result.json" in w for w in log.warnings)


def test_corruption_in_the_middle_names_the_line(tmp_path: Path) -> None:
    rec = Recorder(tmp_path, meta())
    step = StepRecord(step=0, time=now_iso(), url="u", screenshot="")
    rec.step(step)
    rec.close()
    text = (tmp_path / "steps.jsonl").read_text()
    (tmp_path / "steps.jsonl").write_text("not json\n" + text)
    with pytest.raises(LogError, match=r"steps.jsonl:1"):
        read_log(tmp_path)


@pytest.mark.parametrize(
    ("setup", "msg"),
    [
        (lambda d: None, "no meta.json"),
        (lambda d: (d / "meta.json").write_text("{"), "meta.json"),
        (lambda d: (d / "meta.json").write_text(json.dumps({"run_id": 3})), "meta.json"),
    ],
)
def test_unreadable_logs_raise_log_error(tmp_path: Path, setup, msg: str) -> None:  # type: ignore[no-untyped-def]
    setup(tmp_path)
    with pytest.raises(LogError, match=msg):
        read_log(tmp_path)


def test_newer_format_is_refused(tmp_path: Path) -> None:
    Recorder(tmp_path, meta().model_copy(update={"format_version": 99})).close()
    with pytest.raises(LogError, match="newer"):
        read_log(tmp_path)


def test_records_keep_frames_and_dialogs_exactly(tmp_path: Path) -> None:
    frame = Frame(
        region_x=10.5,
        region_y=3,
        region_w=640,
        region_h=400,
        image_w=1288,
        image_h=812,
        space="rel1000",
    )
    rec = Recorder(tmp_path, meta())
    step = StepRecord(
        step=0, time=now_iso(), url="u", screenshot="s.png",
        dialog=DialogInfo(type="prompt", message="Name?", default_value="x"),
        prompt=[{"role": "user", "text": "t", "images": [{"source": "s.png", "frame": frame}]}],  # type: ignore[list-item]
    )  # fmt: skip
    rec.step(step)
    rec.finish(result())
    back = read_log(tmp_path).steps[0]
    assert back == step and back.prompt[0].images[0].frame == frame
