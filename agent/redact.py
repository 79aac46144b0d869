"""Redaction of run records: secret values never reach the run folder or the console.

Contract:
- ``redact_json(data, redact)`` applies ``redact`` (``Secrets.redact``: value -> placeholder) to
  every string value of JSON-shaped data, leaving keys, numbers and structure alone, so that a
  secret that happens to look like JSON punctuation cannot corrupt a log line.
- ``redact_model(model, redact)`` is the same for a pydantic record (a ``StepRecord``,
  ``RunMeta`` or ``RunResult``): it returns a record of the same type whose strings are redacted.

What gets redacted, and where: ``agent.runner`` passes every step record, the run's meta and its
result through here before the ``Recorder`` writes them and before the console prints them. The
browser (``actions.browser``) already redacts what it reports (URL, title, notes, dialogs), and the
model never sees a value (goals carry placeholders; ``actions.executor`` fills them in when
typing), so this is the last of three layers. Screenshots are pixels and are not redacted: a
password field shows bullets, a secret typed into an ordinary field is visible (the executor notes
it when that happens).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
Json = None | bool | int | float | str | list["Json"] | dict[str, "Json"]


def redact_json(data: Json, redact: Callable[[str], str]) -> Json:
    """``data`` with ``redact`` applied to every string value; see the module contract."""
    if isinstance(data, str):
        return redact(data)
    if isinstance(data, dict):
        return {k: redact_json(v, redact) for k, v in data.items()}
    if isinstance(data, list):
        return [redact_json(v, redact) for v in data]
    return data


def redact_model(model: M, redact: Callable[[str], str] | None) -> M:
    """A copy of ``model`` with every string redacted (``model`` itself when ``redact`` is None)."""
    if redact is None:
        return model
    data = redact_json(model.model_dump(mode="json", by_alias=True), redact)
    return type(model).model_validate(data)
