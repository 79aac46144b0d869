"""Prompt building: goal, history, feedback and screenshots -> one ``ModelRequest``.

Contract:
- ``build_request`` lays out a chat the way grounding models are trained to read it: a system prompt
  (the profile's template with the action space of its dialect and the image size), then the last
  ``history_images - 1`` steps as (screenshot, the model's own reply, what happened) turns, older
  steps as one line of text each, and finally the current screenshot with the goal, the URL, any
  open dialog, and feedback about what went wrong last time.
- The coordinates of the answer refer to the *last* image of the request (``ModelRequest.last_image``).

It never calls a model and never parses; it only arranges text and images.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from actions.types import Observation
from perception.model import Message, ModelImage, ModelRequest
from perception.parsers import action_space
from perception.profiles import Profile
from perception.tiling import TiledImage


@dataclass(frozen=True)
class HistoryItem:
    """One past step as the model will be reminded of it."""

    step: int
    reply: str  # the model's raw text for that step
    summary: str  # the action(s) in words, e.g. "click(x=412, y=133)"
    outcome: str  # "ok", or the error / notes
    image: TiledImage | None = None


def system_text(profile: Profile, image: TiledImage) -> str:
    return profile.system_prompt.format(
        action_space=action_space(profile.dialect),
        width=image.image.width,
        height=image.image.height,
    )


def _goal_block(goal: str, done_goals: Sequence[str]) -> str:
    lines = []
    if done_goals:
        lines.append("Already done: " + " | ".join(done_goals))
    lines.append(f"Goal: {goal}")
    return "\n".join(lines)


def _observation_block(obs: Observation, feedback: Sequence[str]) -> str:
    lines = [f"URL: {obs.url}"]
    if obs.title:
        lines.append(f"Title: {obs.title}")
    if obs.tabs > 1:
        lines.append(f"Open tabs: {obs.tabs} (you see the newest)")
    if obs.dialog is not None:
        d = obs.dialog
        lines.append(
            f"{'An' if d.type == 'alert' else 'A'} {d.type} dialog is open with the message {d.message!r}. Answer it before anything "
            "else: click its OK or Cancel button (or press Enter / Escape)"
            + ("; type text first to answer the prompt." if d.type == "prompt" else ".")
        )
    lines.extend(f"Note: {n}" for n in obs.notes)
    lines.extend(f"Problem with your last reply: {f}" for f in feedback)
    return "\n".join(lines)


def build_request(
    profile: Profile,
    *,
    goal: str,
    obs: Observation,
    images: Sequence[TiledImage],
    history: Sequence[HistoryItem] = (),
    feedback: Sequence[str] = (),
    done_goals: Sequence[str] = (),
) -> ModelRequest:
    """The request for the next action; see the module contract."""
    if not images:
        raise ValueError("a request needs at least one image")
    msgs: list[Message] = [Message("system", system_text(profile, images[-1]))]
    keep = max(0, profile.history_images - 1)
    with_image = [h for h in history if h.image is not None][-keep:] if keep else []
    older = [h for h in history if h not in with_image][-profile.history_text_steps :]
    intro = _goal_block(goal, done_goals)
    if older:
        intro += "\nEarlier steps:\n" + "\n".join(
            f"{h.step + 1}. {h.summary} -> {h.outcome}" for h in older
        )
    for i, h in enumerate(with_image):
        assert h.image is not None
        text = (intro + "\n" if i == 0 else "") + f"Screenshot before step {h.step + 1}."
        msgs.append(
            Message("user", text, (ModelImage(h.image.image, h.image.frame, h.image.label),))
        )
        msgs.append(Message("assistant", h.reply))
        if h.outcome != "ok":
            msgs.append(Message("user", f"Result of step {h.step + 1}: {h.outcome}"))
    current = tuple(ModelImage(t.image, t.frame, t.label) for t in images)
    head = intro + "\n" if not with_image else ""
    msgs.append(Message("user", head + _observation_block(obs, feedback), current))
    return ModelRequest(
        messages=tuple(msgs), max_new_tokens=profile.max_new_tokens, stop=profile.stop
    )
