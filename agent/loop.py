"""The observe -> think -> act loop for one episode (one or more goals in one browser).

Contract:
- ``run_episode`` alternates ``env.observe`` -> ``policy.decide`` -> ``env.act`` until a goal list is
  finished or a limit is hit, and returns an ``Episode`` whose ``stop_reason`` says why it ended:
  done, gave_up, asked_user, step_limit, unparseable (retry budget for bad replies spent), stuck
  (the same action repeated with no visible effect), model_error, env_error. Every model call is
  handed to ``sink`` as a ``StepRecord`` before the next one starts.
- Failures are fed back, not raised: a reply that does not parse is retried (without spending a
  step) with the parser's message; a failed action's error and the notes an action produced
  (dialogs, new tabs) are shown in the next prompt; the same action repeated without changing the
  screen gets a warning and, past ``repeat_limit``, ends the episode.
- A terminal ``done`` moves on to the next goal; its answer is kept for the checks.

The loop imports neither Playwright nor torch: it sees only the Environment and Policy protocols.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from actions.environment import EnvError, Environment
from actions.types import (
    Action,
    ActionResult,
    AskUser,
    Done,
    GiveUp,
    Observation,
    describe,
)
from agent.policy import Decision, Policy
from agent.trajectory import ImageRecord, MessageRecord, StepRecord, StopReason, now_iso
from perception.parsers.base import ParseError
from perception.prompts import HistoryItem


@dataclass(frozen=True)
class LoopConfig:
    max_steps: int = 15  # actions executed (model calls that parsed), all goals together
    max_parse_retries: int = 3  # consecutive unparseable replies tolerated within one step
    max_model_errors: int = 2  # consecutive backend failures tolerated
    repeat_limit: int = 3  # identical no-effect actions in a row before the episode stops


@dataclass
class Episode:
    stop_reason: StopReason
    detail: str = ""
    answer: str | None = None
    steps: int = 0
    model_calls: int = 0
    goals_completed: int = 0
    model_latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    records: list[StepRecord] = field(default_factory=list)


class Sink:
    """Where step records go (the run folder). The default keeps nothing."""

    def save_screenshot(self, step: int, attempt: int, obs: Observation) -> str:
        return ""

    def record(self, rec: StepRecord) -> None:
        pass


def _digest(obs: Observation) -> str:
    """Identity of what the screen shows: the encoded bytes when available (cheap, and the same
    pixels encode to the same bytes), else the pixels."""
    data = obs.encoded if obs.encoded is not None else obs.screenshot.tobytes()
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _signature(actions: Sequence[Action]) -> str:
    return "|".join(a.model_dump_json() for a in actions)


def _outcome(results: Sequence[ActionResult]) -> str:
    if not results:
        return "ok"
    parts = []
    for r in results:
        parts.append("ok" if r.ok else f"error: {r.error}")
        parts.extend(r.notes)
    return "; ".join(parts)


def _prompt_records(decision: Decision, shot: str) -> list[MessageRecord]:
    """The prompt as logged: texts, plus which screenshot region each image showed."""
    out = []
    sources = {id(t.image): shot for t in decision.images}
    for m in decision.request.messages:
        imgs = [
            ImageRecord(source=sources.get(id(i.image), "history"), frame=i.frame, label=i.label)
            for i in m.images
        ]
        out.append(MessageRecord(role=m.role, text=m.text, images=imgs))
    return out


def run_episode(
    goals: Sequence[str],
    env: Environment,
    policy: Policy,
    *,
    config: LoopConfig | None = None,
    sink: Sink | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
) -> Episode:
    """Run the goals in order on the environment's current page; see the module contract."""
    cfg = config or LoopConfig()
    sink = sink or Sink()
    ep = Episode(stop_reason="step_limit")
    history: list[HistoryItem] = []
    feedback: list[str] = []
    goal_i = 0
    attempt = 0
    model_errors = 0
    prev: tuple[str, str] | None = None  # (action signature, screen digest) of the last step
    repeats = 0

    def finish(reason: StopReason, detail: str = "") -> Episode:
        ep.stop_reason, ep.detail = reason, detail
        return ep

    while True:
        if ep.steps >= cfg.max_steps:
            return finish("step_limit", f"{cfg.max_steps} steps used")
        t0 = time.perf_counter()
        try:
            obs = env.observe()
        except EnvError as e:
            return finish("env_error", f"could not observe the page: {e}")
        t_obs = time.perf_counter() - t0
        digest = _digest(obs)
        decision = policy.decide(
            obs,
            goal=goals[goal_i],
            history=history,
            feedback=feedback,
            done_goals=goals[:goal_i],
        )
        ep.model_calls += 1
        comp = decision.completion
        if comp is not None:
            ep.model_latency_s += comp.latency_s or decision.timings.get("model_s", 0.0)
            ep.prompt_tokens += comp.prompt_tokens
            ep.completion_tokens += comp.completion_tokens
        t_rec = time.perf_counter()
        shot = sink.save_screenshot(ep.steps, attempt, obs)
        base = StepRecord(
            step=ep.steps,
            attempt=attempt,
            goal_index=goal_i,
            time=now_iso(),
            url=obs.url,
            title=obs.title,
            screenshot=shot,
            screenshot_scale=obs.screenshot_scale,
            dialog=obs.dialog,
            notes=list(obs.notes),
            prompt=_prompt_records(decision, shot),
            model_text=comp.text if comp else None,
            model_error=decision.model_error,
            prompt_tokens=comp.prompt_tokens if comp else 0,
            completion_tokens=comp.completion_tokens if comp else 0,
        )
        t_rec = time.perf_counter() - t_rec

        def emit(**update: object) -> None:
            rec = base.model_copy(update=update)
            ep.records.append(rec)
            sink.record(rec)
            if on_step is not None:
                on_step(rec)

        timings = {"observe_s": t_obs, **decision.timings, "record_s": t_rec}

        # --- the model failed to answer at all
        if decision.model_error is not None or decision.parsed is None:
            model_errors += 1
            emit(timings=timings)
            if model_errors > cfg.max_model_errors:
                return finish("model_error", decision.model_error or "no completion")
            continue
        model_errors = 0

        # --- the reply did not parse: tell the model, retry without spending a step
        if isinstance(decision.parsed, ParseError):
            attempt += 1
            msg = decision.parsed.message
            feedback = [f"{msg}. Reply with exactly one action in the format described."]
            emit(parse_error=msg, feedback=feedback, timings=timings)
            if attempt > cfg.max_parse_retries:
                return finish("unparseable", f"{attempt} unparseable replies in a row; last: {msg}")
            continue
        attempt = 0
        parsed = decision.parsed
        actions = list(parsed.actions)

        # --- the same action again, and the last one changed nothing on screen
        sig = _signature(actions)
        if prev is not None and prev == (sig, digest):
            repeats += 1
        else:
            repeats = 0
        prev = (sig, digest)
        feedback = []
        if repeats >= cfg.repeat_limit:
            emit(thought=parsed.thought, actions=actions, timings=timings)
            return finish("stuck", f"{describe(actions[0])} repeated {repeats + 1} times with no visible effect")
        if repeats:
            feedback.append(
                f"you repeated {describe(actions[0])} and the screen did not change; "
                "the action has no effect here, so try something different"
            )

        # --- act
        t_act = time.perf_counter()
        results: list[ActionResult] = []
        terminal: Action | None = None
        for action in actions:
            if isinstance(action, (Done, GiveUp, AskUser)):
                terminal = action
                break
            try:
                result = env.act(action)
            except KeyboardInterrupt:
                # keep the model's reply and what already ran; the runner records the interrupt
                timings["act_s"] = time.perf_counter() - t_act
                emit(thought=parsed.thought, actions=actions, results=results, timings=timings)
                raise
            except EnvError as e:
                result = ActionResult.failure(f"the browser failed: {e}")
                results.append(result)
                timings["act_s"] = time.perf_counter() - t_act
                emit(thought=parsed.thought, actions=actions, results=results, timings=timings)
                ep.steps += 1
                return finish("env_error", str(e))
            results.append(result)
            if not result.ok:
                feedback.append(f"{describe(action)} failed: {result.error}")
                break
        timings["act_s"] = time.perf_counter() - t_act
        emit(
            thought=parsed.thought,
            actions=actions,
            results=results,
            feedback=feedback,
            timings=timings,
        )
        ep.steps += 1
        history.append(
            HistoryItem(
                step=ep.steps - 1,
                reply=comp.text if comp else "",
                summary="; ".join(describe(a) for a in actions),
                outcome=_outcome(results),
                image=decision.images[-1],
            )
        )

        match terminal:
            case Done(answer=answer):
                ep.goals_completed += 1
                ep.answer = answer
                if goal_i + 1 < len(goals):
                    goal_i += 1
                    prev, repeats = None, 0
                    continue
                return finish("done", answer or "")
            case GiveUp(reason=reason):
                return finish("gave_up", reason)
            case AskUser(question=question):
                return finish("asked_user", question)
            case None:
                continue
