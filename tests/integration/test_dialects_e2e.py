"""Demo tasks solved end to end through other model families' dialects, at device scale factor 2.

The oracle writes each reference action as that family would (UI-TARS-1.5 absolute pixels of the
smart-resized image, UI-TARS 0-1000, Qwen2.5-VL tool calls, ShowUI 0-1) for the image the request
actually carries; the loop must parse it back through the Frame and solve the task.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from actions.browser import BrowserEnv
from actions.environment import BrowserConfig
from agent.policy import ModelPolicy
from agent.runner import run_task
from perception.profiles import get_profile
from tasks.server import SiteServer
from tests.integration.conftest import demo_tasks
from tests.oracle import ReferenceOracle

BY_ID = {t.id: t for t in demo_tasks()}

CASES = [
    (
        "uitars-1.5",
        ["login", "drag_card", "confirm_dialog", "prompt_dialog", "hotkey_replace", "new_tab"],
    ),
    (
        "uitars-1.0",
        ["contact_form", "double_click_rename", "context_menu_delete", "question_price"],
    ),
    ("qwen2.5-vl", ["login", "modal_accept", "tabs_plan", "checkout", "search_open_result"]),
    ("showui", ["login", "modal_accept", "tabs_plan", "search_open_result"]),
]
PARAMS = [(p, t) for p, ids in CASES for t in ids]


@pytest.mark.parametrize(("profile_name", "task_id"), PARAMS, ids=[f"{p}-{t}" for p, t in PARAMS])
def test_dialect_solves_task_at_dpr2(
    profile_name: str, task_id: str, env: BrowserEnv, server: SiteServer, out_dir: Path
) -> None:
    task = BY_ID[task_id]
    task = task.model_copy(
        update={"viewport": task.viewport.model_copy(update={"device_scale_factor": 2.0})}
    )
    profile = get_profile(profile_name)
    oracle = ReferenceOracle(task, env, profile.dialect)
    result, _ = run_task(
        task,
        start_url=server.resolve_start(task.start),
        env=env,
        policy=ModelPolicy(oracle, profile),
        out=out_dir,
        browser=replace(BrowserConfig(), screenshot_scale="device"),
    )
    assert result.success, (
        result.stop_reason,
        result.detail,
        [c.detail for c in result.checks],
        oracle.texts,
    )
