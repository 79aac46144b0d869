"""The observe -> think -> act loop for one episode (one or more goals in one browser).

Contract:
- ``run_episode`` alternates ``env.observe`` -> ``policy.decide`` -> ``env.act`` until a goal list is
  finished or a limit is hit, and returns an ``Episode`` whose ``stop_reason`` says why it ended:
  done, gave_up, asked_user, step_limit, unparseable (retry budget for bad replies spent), stuck
  (the same action repeated with no visible effect), model_error, env_error. Every model call is
  handed to ``sink`` as a ``StepRecord`` before the next one starts.
- Failures are fed back, not raised: a reply that does not parse is retried (without spending a
  step) with the parser's message; a failed model call (``Decision.model_error``) is retried, up to
  ``max_model_errors`` in a row, with a note that the request failed; a failed action's error and
  the notes an action produced (dialogs, new tabs) are shown in the next prompt; the same action
  repeated without changing the screen gets a warning and, past ``repeat_limit``, ends the episode.
- A browser fault during an action (``BrowserRestarted``: the environment replaced the tab or
  relaunched the browser and reloaded the page) costs the step but not the episode: the rest of
  the reply is dropped and the model is told the browser restarted and to look before repeating;
  nothing is retried blindly. Any other ``EnvError`` ends the episode with ``env_error``.
- A terminal ``done`` moves on to the next goal; its answer is kept for the checks.

The loop imports neither Playwright nor torch: it sees only the Environment and Policy protocols.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from actions.environment import BrowserRestarted, EnvError, Environment
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
from agent.trajectory import ImageRecord, MessageRecord, StepRecord, StopReason, observed_step
from perception.parsers.base import Parsed, ParseError
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


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during an episode; carries the episode so far (every step already recorded)."""

    def __init__(self, episode: Episode) -> None:
        super().__init__("interrupted")
        self.episode = episode


# How the feedback after a failed model call starts (the model never saw that request's answer).
_LOST = "the previous request for this step failed before you answered"

# Called before each page action; a sentence stops the episode (asked_user) without running it.
Guard = Callable[[Action, Observation], str | None]


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


def _prompt_records(decision: Decision, sources: dict[int, str]) -> list[MessageRecord]:
    """The prompt as logged: texts, plus which screenshot file each image was cut from."""
    return [
        MessageRecord(
            role=m.role,
            text=m.text,
            images=[
                ImageRecord(source=sources.get(id(i.image), ""), frame=i.frame, label=i.label)
                for i in m.images
            ],
        )
        for m in decision.request.messages
    ]


class _EpisodeRun:
    """The state of one episode; ``run`` is the loop, each method one phase of a step."""

    def __init__(
        self,
        goals: Sequence[str],
        env: Environment,
        policy: Policy,
        cfg: LoopConfig,
        sink: Sink,
        on_step: Callable[[StepRecord], None] | None,
        guard: Guard | None = None,
        stop_check: Callable[[], str | None] | None = None,
    ) -> None:
        self.goals, self.env, self.policy, self.cfg = list(goals), env, policy, cfg
        self.sink, self.on_step, self.guard = sink, on_step, guard
        self.stop_check = stop_check
        self.ep = Episode(stop_reason="step_limit")
        self.history: list[HistoryItem] = []
        self.feedback: list[str] = []
        self.goal_i = 0
        self.attempt = 0  # model calls so far in this step (unparseable replies retried)
        self.model_errors = 0
        self.prev: tuple[str, str] | None = None  # (actions, screen digest) of the last step
        self.repeats = 0
        self.sources: dict[int, str] = {}  # id(image sent to the model) -> screenshot file

    def finish(self, reason: StopReason, detail: str = "") -> Episode:
        self.ep.stop_reason, self.ep.detail = reason, detail
        return self.ep

    def emit(self, base: StepRecord, **update: object) -> None:
        rec = base.model_copy(update=update)
        self.ep.records.append(rec)
        self.sink.record(rec)
        if self.on_step is not None:
            self.on_step(rec)

    def run(self) -> Episode:
        try:
            return self._steps()
        except KeyboardInterrupt:
            self.finish("interrupted", "interrupted by the user (Ctrl-C)")
            raise Interrupted(self.ep) from None

    def _steps(self) -> Episode:
        while True:
            if self.ep.steps >= self.cfg.max_steps:
                return self.finish("step_limit", f"{self.cfg.max_steps} steps used")
            t0 = time.perf_counter()
            try:
                obs = self.env.observe()
            except EnvError as e:
                return self.finish("env_error", f"could not observe the page: {e}")
            t_obs = time.perf_counter() - t0
            decision = self.policy.decide(
                obs,
                goal=self.goals[self.goal_i],
                history=self.history,
                feedback=self.feedback,
                done_goals=self.goals[: self.goal_i],
            )
            base, timings = self.record_base(obs, decision, t_obs)
            if decision.model_error is not None or decision.parsed is None:
                ended = self.on_model_error(base, decision, timings)
            elif isinstance(decision.parsed, ParseError):
                ended = self.on_parse_error(base, decision.parsed, timings)
            else:
                ended = self.on_actions(base, obs, decision, decision.parsed, timings)
            if ended is not None:
                return ended
            over = self.stop_check() if self.stop_check is not None else None
            if over is not None:
                return self.finish("task_ended", over)

    def record_base(
        self, obs: Observation, decision: Decision, t_obs: float
    ) -> tuple[StepRecord, dict[str, float]]:
        """Count the model call, save the screenshot, and start the step's record."""
        ep = self.ep
        ep.model_calls += 1
        comp = decision.completion
        if comp is not None:
            ep.model_latency_s += comp.latency_s or decision.timings.get("model_s", 0.0)
            ep.prompt_tokens += comp.prompt_tokens
            ep.completion_tokens += comp.completion_tokens
        t0 = time.perf_counter()
        shot = self.sink.save_screenshot(ep.steps, self.attempt, obs)
        for t in decision.images:
            self.sources[id(t.image)] = shot
        base = observed_step(
            obs, step=ep.steps, screenshot=shot, goal_index=self.goal_i, attempt=self.attempt
        ).model_copy(
            update={
                "prompt": _prompt_records(decision, self.sources),
                "model_text": comp.text if comp else None,
                "model_error": decision.model_error,
                "prompt_tokens": comp.prompt_tokens if comp else 0,
                "completion_tokens": comp.completion_tokens if comp else 0,
            }
        )
        timings = {"observe_s": t_obs, **decision.timings, "record_s": time.perf_counter() - t0}
        return base, timings

    def on_model_error(
        self, base: StepRecord, decision: Decision, timings: dict[str, float]
    ) -> Episode | None:
        """The backend failed: retry within the budget, telling the model its last request was
        lost (so a retry is not byte-identical; earlier feedback is kept)."""
        self.model_errors += 1
        note = f"{_LOST} ({decision.model_error or 'no completion'}); answer again"
        self.feedback = [f for f in self.feedback if not f.startswith(_LOST)] + [note]
        self.emit(base, feedback=self.feedback, timings=timings)
        if self.model_errors > self.cfg.max_model_errors:
            return self.finish("model_error", decision.model_error or "no completion")
        return None

    def on_parse_error(
        self, base: StepRecord, error: ParseError, timings: dict[str, float]
    ) -> Episode | None:
        """The reply did not parse: tell the model why and retry without spending a step."""
        self.model_errors = 0
        self.attempt += 1
        self.feedback = [f"{error.message}. Reply with exactly one action in the format described."]
        self.emit(base, parse_error=error.message, feedback=self.feedback, timings=timings)
        if self.attempt > self.cfg.max_parse_retries:
            return self.finish(
                "unparseable", f"{self.attempt} unparseable replies in a row; last: {error.message}"
            )
        return None

    def check_repeat(self, actions: list[Action], obs: Observation) -> str | None:
        """Track the same action repeated on an unchanged screen; a warning, or None."""
        sig = (_signature(actions), _digest(obs))
        self.repeats = self.repeats + 1 if self.prev == sig else 0
        self.prev = sig
        if not self.repeats:
            return None
        return (
            f"you repeated {describe(actions[0])} and the screen did not change; "
            "the action has no effect here, so try something different"
        )

    def on_actions(
        self,
        base: StepRecord,
        obs: Observation,
        decision: Decision,
        parsed: Parsed,
        timings: dict[str, float],
    ) -> Episode | None:
        self.model_errors = self.attempt = 0
        actions = list(parsed.actions)
        warning = self.check_repeat(actions, obs)
        self.feedback = [warning] if warning else []
        if self.repeats >= self.cfg.repeat_limit:
            self.emit(base, thought=parsed.thought, actions=actions, timings=timings)
            detail = (
                f"{describe(actions[0])} repeated {self.repeats + 1} times with no visible effect"
            )
            return self.finish("stuck", detail)

        t_act = time.perf_counter()
        results: list[ActionResult] = []
        terminal: Action | None = None
        env_failure: str | None = None
        held: str | None = None  # why the guard stopped an action before it ran
        try:
            for action in actions:
                if isinstance(action, (Done, GiveUp, AskUser)):
                    terminal = action
                    break
                if self.guard is not None:
                    held = self.guard(action, obs)
                    if held is not None:
                        break
                try:
                    result = self.env.act(action)
                except BrowserRestarted as e:
                    # the action may or may not have happened on a page that is gone: the model
                    # looks at the reloaded page before anything is repeated
                    results.append(ActionResult.failure(f"the browser restarted: {e}"))
                    self.feedback.append(
                        f"the browser restarted; the page was reloaded ({e}). Look at the new "
                        f"screenshot before repeating {describe(action)}"
                    )
                    self.prev, self.repeats = None, 0
                    break
                except EnvError as e:
                    env_failure = str(e)
                    results.append(ActionResult.failure(f"the browser failed: {e}"))
                    break
                results.append(result)
                if not result.ok:
                    self.feedback.append(f"{describe(action)} failed: {result.error}")
                    break
        finally:  # also on Ctrl-C: keep the model's reply and what already ran
            timings["act_s"] = time.perf_counter() - t_act
            self.emit(
                base,
                thought=parsed.thought,
                actions=actions,
                results=results,
                feedback=self.feedback,
                timings=timings,
            )
        self.ep.steps += 1
        if held is not None:
            return self.finish("asked_user", held)
        if env_failure is not None:
            return self.finish("env_error", env_failure)
        self.history.append(
            HistoryItem(
                step=self.ep.steps - 1,
                reply=decision.completion.text if decision.completion else "",
                summary="; ".join(describe(a) for a in actions),
                outcome=_outcome(results),
                image=decision.images[-1],
            )
        )
        return self.on_terminal(terminal)

    def on_terminal(self, terminal: Action | None) -> Episode | None:
        match terminal:
            case Done(answer=answer):
                self.ep.goals_completed += 1
                self.ep.answer = answer
                if self.goal_i + 1 < len(self.goals):
                    self.goal_i += 1
                    self.prev, self.repeats = None, 0
                    return None
                return self.finish("done", answer or "")
            case GiveUp(reason=reason):
                return self.finish("gave_up", reason)
            case AskUser(question=question):
                return self.finish("asked_user", question)
            case _:
                return None


def run_episode(
    goals: Sequence[str],
    env: Environment,
    policy: Policy,
    *,
    config: LoopConfig | None = None,
    sink: Sink | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
    guard: Guard | None = None,
    stop_check: Callable[[], str | None] | None = None,
) -> Episode:
    """Run the goals in order on the environment's current page; see the module contract.
    ``guard`` sees each page action before it runs; when it returns a sentence the action is not
    executed and the episode ends with ``asked_user`` and that sentence as detail. ``stop_check``
    is asked after every step; a sentence ends the episode with ``task_ended`` (benchmarks whose
    page decides when an episode is over, such as MiniWoB)."""
    if not goals:
        raise ValueError("an episode needs at least one goal")
    run = _EpisodeRun(
        goals, env, policy, config or LoopConfig(), sink or Sink(), on_step, guard, stop_check
    )
    return run.run()
