"""The loop against a fake environment and a scripted model: every stop reason, feedback, history."""

from __future__ import annotations

import subprocess
import sys

import pytest

from actions.types import Action, Click, Observation
from agent.loop import LoopConfig, run_episode
from agent.policy import ModelPolicy
from perception.model import ModelError, ModelRequest, ScriptedModel
from perception.profiles import get_profile
from tests.fakes import two_screen_env

GAZE = get_profile("gaze")


def policy(script: list[str]) -> tuple[ModelPolicy, ScriptedModel]:
    m = ScriptedModel(script)
    return ModelPolicy(m, GAZE), m


def last_user_text(req: ModelRequest) -> str:
    return [m for m in req.messages if m.role == "user"][-1].text


def test_reaches_done_and_acts_at_the_right_places() -> None:
    env = two_screen_env()
    pol, model = policy(["Action: click(70, 60)", "click(200, 170)", 'done("finished")'])
    ep = run_episode(["reach the end"], env, pol, config=LoopConfig(max_steps=5))
    assert ep.stop_reason == "done"
    assert ep.answer == "finished"
    assert ep.steps == 3 and ep.model_calls == 3
    assert env.acted == [Click(x=70, y=60), Click(x=200, y=170)]
    assert env.state == {"done": True}
    # the second request shows the first step in its history
    assert "Goal: reach the end" in model.calls[0].messages[1].text
    assert any(m.role == "assistant" and "click(70, 60)" in m.text for m in model.calls[1].messages)


def test_unparseable_reply_is_fed_back_and_retried_without_spending_a_step() -> None:
    env = two_screen_env()
    pol, model = policy(["I think I should click the button", "click(70, 60)", "done()"])
    ep = run_episode(["go"], env, pol, config=LoopConfig(max_steps=2))
    assert ep.stop_reason == "done"
    assert ep.steps == 2 and ep.model_calls == 3
    retry_prompt = last_user_text(model.calls[1])
    assert "Problem with your last reply" in retry_prompt
    assert ep.records[0].parse_error and ep.records[1].attempt == 1


def test_retry_budget_for_unparseable_output_ends_the_episode() -> None:
    env = two_screen_env()
    pol, _ = policy(["nonsense"] * 10)
    ep = run_episode(["go"], env, pol, config=LoopConfig(max_steps=5, max_parse_retries=2))
    assert ep.stop_reason == "unparseable"
    assert ep.model_calls == 3 and ep.steps == 0
    assert env.acted == []


def test_step_limit() -> None:
    env = two_screen_env()
    pol, _ = policy(["click(250, 60)", "click(260, 60)", "click(270, 60)", "click(280, 60)"])
    ep = run_episode(["go"], env, pol, config=LoopConfig(max_steps=3))
    assert ep.stop_reason == "step_limit"
    assert ep.steps == 3


def test_repeated_action_without_effect_is_flagged_then_stops() -> None:
    env = two_screen_env()
    pol, model = policy(["click(250, 60)"] * 10)  # the 'noop' button changes nothing
    ep = run_episode(["go"], env, pol, config=LoopConfig(max_steps=10, repeat_limit=3))
    assert ep.stop_reason == "stuck"
    assert "repeated" in ep.detail
    # the model was warned before the loop gave up on it
    assert any("did not change" in last_user_text(r) for r in model.calls)
    assert len(env.acted) == 3


def test_repeating_an_action_that_changes_the_screen_is_fine() -> None:
    env = two_screen_env()
    env.screens["home"][1].on_click = lambda e: e.state.__setitem__(
        "n", int(e.state.get("n") or 0) + 1
    )  # type: ignore[assignment,misc]
    pol, _ = policy(["click(250, 60)"] * 5 + ["done()"])
    ep = run_episode(["count"], env, pol, config=LoopConfig(max_steps=10, repeat_limit=2))
    assert ep.stop_reason == "done"
    assert env.state["n"] == 5


def test_failed_action_error_reaches_the_model() -> None:
    env = two_screen_env()
    pol, model = policy(["click(900, 60)", "done()"])
    ep = run_episode(["go"], env, pol)
    assert ep.stop_reason == "done"
    assert ep.records[0].results[0].ok is False
    assert "outside the viewport" in last_user_text(model.calls[1])


@pytest.mark.parametrize(
    ("reply", "reason"),
    [('give_up("cannot")', "gave_up"), ('ask_user("password?")', "asked_user")],
)
def test_terminal_actions(reply: str, reason: str) -> None:
    env = two_screen_env()
    pol, _ = policy([reply])
    ep = run_episode(["go"], env, pol)
    assert ep.stop_reason == reason
    assert env.acted == []


def test_model_errors_are_retried_then_stop() -> None:
    env = two_screen_env()

    def broken(req: ModelRequest) -> str:
        raise ModelError("server down")

    pol = ModelPolicy(ScriptedModel(broken), GAZE)
    ep = run_episode(["go"], env, pol, config=LoopConfig(max_model_errors=2))
    assert ep.stop_reason == "model_error"
    assert ep.model_calls == 3
    assert "server down" in ep.detail


def test_environment_failure_ends_with_env_error() -> None:
    env = two_screen_env()
    env.fail_observe = True
    pol, _ = policy(["click(70, 60)"])
    assert run_episode(["go"], env, pol).stop_reason == "env_error"
    env = two_screen_env()
    env.fail_act = True
    ep = run_episode(["go"], env, policy(["click(70, 60)"])[0])
    assert ep.stop_reason == "env_error" and len(ep.records) == 1


def test_multiple_goals_run_in_order_in_one_browser() -> None:
    env = two_screen_env()
    pol, model = policy(["click(70, 60)", "done()", "click(200, 170)", 'done("ok")'])
    ep = run_episode(["open next", "finish"], env, pol)
    assert ep.stop_reason == "done" and ep.goals_completed == 2
    assert "Goal: finish" in last_user_text(model.calls[2]) or any(
        "Goal: finish" in m.text for m in model.calls[2].messages
    )
    assert any("Already done: open next" in m.text for m in model.calls[2].messages)


def test_history_keeps_the_last_k_screenshots() -> None:
    env = two_screen_env()
    pol, model = policy(
        ["click(250, 60)", "click(251, 60)", "click(252, 60)", "click(253, 60)", "done()"]
    )
    run_episode(["go"], env, pol, config=LoopConfig(max_steps=10))
    last = model.calls[-1]
    assert len(last.images) == GAZE.history_images
    assert any("Earlier steps" in m.text for m in last.messages)


def test_loop_imports_neither_playwright_nor_torch() -> None:
    code = (
        "import sys, agent.loop, agent.runner, agent.policy; "
        "bad = [m for m in ('playwright', 'torch', 'transformers') if m in sys.modules]; "
        "sys.exit(str(bad) if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr or proc.stdout


def test_guard_holds_an_action_and_stops_the_episode() -> None:
    env = two_screen_env()
    seen: list[str] = []

    def guard(action: Action, obs: Observation) -> str | None:
        seen.append(action.kind)
        return (
            "typing into a password field needs your confirmation"
            if action.kind == "type"
            else None
        )

    pol, _ = policy(["click(70, 60)", 'type("hunter2")', "done()"])
    ep = run_episode(["log in"], env, pol, guard=guard)
    assert ep.stop_reason == "asked_user" and "password" in ep.detail
    assert env.acted == [Click(x=70, y=60)] and env.typed == ""
    assert seen == ["click", "type"]
    assert ep.records[-1].actions and ep.records[-1].results == []
