"""The policy: from an observation and the episode so far to the model's decision.

Contract: ``ModelPolicy.decide`` tiles the screenshot as the profile says, builds the prompt, calls
the model once, and parses the reply through the Frame of the image the coordinates refer to. It
returns a ``Decision`` that holds everything the log needs (request, completion, parse result,
timings). Model infrastructure failures come back as ``Decision.model_error``: a ``ModelError``
with its message, any other exception from the backend with its type and message (only
KeyboardInterrupt and other BaseExceptions pass through). Bad text comes back as ``Decision.parsed``
being a ``ParseError``, and so does an action of a kind the profile does not offer (the message
names the ones it does). It never raises for either.

It does not execute anything and keeps no state between calls: the loop owns the episode.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from actions.types import Observation, Type
from perception.model import Completion, Model, ModelError, ModelRequest
from perception.parsers import parse
from perception.parsers.base import ParseError, ParseResult, valid_unicode
from perception.profiles import Profile
from perception.prompts import HistoryItem, build_request
from perception.tiling import TiledImage, whole


@dataclass(frozen=True)
class Decision:
    images: tuple[TiledImage, ...]
    request: ModelRequest
    completion: Completion | None
    parsed: ParseResult | None  # None when the model failed
    model_error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)


class Policy(Protocol):
    name: str
    profile: Profile

    def decide(
        self,
        obs: Observation,
        *,
        goal: str,
        history: Sequence[HistoryItem],
        feedback: Sequence[str],
        done_goals: Sequence[str],
    ) -> Decision: ...


class ModelPolicy:
    """A Model plus the Profile that says how to talk to it."""

    def __init__(self, model: Model, profile: Profile) -> None:
        self.model = model
        self.profile = profile
        self.name = model.name

    def images_for(self, obs: Observation) -> tuple[TiledImage, ...]:
        return (whole(obs, self.profile.image, self.profile.space),)

    def decide(
        self,
        obs: Observation,
        *,
        goal: str,
        history: Sequence[HistoryItem],
        feedback: Sequence[str],
        done_goals: Sequence[str],
    ) -> Decision:
        t0 = time.perf_counter()
        images = self.images_for(obs)
        request = build_request(
            self.profile,
            goal=goal,
            obs=obs,
            images=images,
            history=history,
            feedback=feedback,
            done_goals=done_goals,
        )
        t1 = time.perf_counter()
        try:
            out = self.model.generate([request])
            if len(out) != 1 or not isinstance(getattr(out[0], "text", None), str):
                raise ModelError(f"the model returned {out!r:.120} instead of one completion")
            # the text is logged and quoted back to the model: no lone surrogates (see valid_unicode)
            completion = dataclasses.replace(out[0], text=valid_unicode(out[0].text))
        except Exception as e:  # a backend bug must not end the run: it is a model failure
            timings = {"prompt_s": t1 - t0, "model_s": time.perf_counter() - t1}
            error = str(e) if isinstance(e, ModelError) else _describe_exception(e)
            error = valid_unicode(error)
            return Decision(images, request, None, None, model_error=error, timings=timings)
        t2 = time.perf_counter()
        frame = images[-1].frame
        parsed = refuse_unoffered(parse(completion.text, frame, self.profile.dialect), self.profile)
        parsed = with_profile_typing(parsed, self.profile)
        t3 = time.perf_counter()
        timings = {"prompt_s": t1 - t0, "model_s": t2 - t1, "parse_s": t3 - t2}
        return Decision(images, request, completion, parsed, timings=timings)


def _describe_exception(e: Exception) -> str:
    """``TypeError: bad operand`` for an unexpected backend exception, one line, bounded."""
    text = " ".join(str(e).split())
    text = text if len(text) <= 300 else text[:299] + "…"
    return f"the model backend raised {type(e).__name__}" + (f": {text}" if text else "")


def refuse_unoffered(parsed: ParseResult, profile: Profile) -> ParseResult:
    """``parsed``, or a ParseError naming the offered kinds if an action is not one of them."""
    if isinstance(parsed, ParseError):
        return parsed
    for action in parsed.actions:
        if action.kind not in profile.actions:
            offered = ", ".join(sorted(profile.actions))
            return ParseError(f"{action.kind} is not available here; use one of: {offered}")
    return parsed


def with_profile_typing(parsed: ParseResult, profile: Profile) -> ParseResult:
    """``parsed``, its ``Type`` actions set to replace the field's text when ``profile``'s
    typing does (``Profile.type_replaces``)."""
    if isinstance(parsed, ParseError) or not profile.type_replaces:
        return parsed
    actions = tuple(
        a.model_copy(update={"replace": True}) if isinstance(a, Type) else a for a in parsed.actions
    )
    return dataclasses.replace(parsed, actions=actions)


def is_parse_error(parsed: ParseResult | None) -> bool:
    return isinstance(parsed, ParseError)
