"""Model specs on the command line -> a Model and its Profile.

Contract: ``load_model(spec, profile=None)`` returns ``(model, profile)`` or raises ``ModelSpecError``
with a message that says what to do. Specs understood today:

- ``scripted:PATH`` — replies read from a text file, separated by lines holding only ``---``. For
  debugging prompts and parsers and for reproducing a model's behaviour exactly; it is not a model
  that sees anything, and the console says so.

Real backends (a local transformers folder, an OpenAI-compatible server, the built-in model) plug in
here as they land; until then their specs fail with a message naming what is missing.
"""

from __future__ import annotations

import re
from pathlib import Path

from perception.model import Model, ScriptedModel
from perception.profiles import Profile, get_profile, profile_for_model

SEPARATOR = re.compile(r"^---\s*$", re.MULTILINE)

HOW_TO_GET_A_MODEL = """Gaze needs a vision-language model to see the page. Options:
  --model scripted:FILE     replies from a file (debugging; it does not look at the page)
Backends for local model folders (UI-TARS-1.5, Qwen2.5-VL, ...), OpenAI-compatible servers
(vLLM, SGLang) and Gaze's built-in model are being added; this build has none of them yet."""


class ModelSpecError(ValueError):
    pass


def read_script(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ModelSpecError(f"cannot read script {path}: {e}") from None
    replies = [r.strip("\n") for r in SEPARATOR.split(text)]
    replies = [r for r in replies if r.strip()]
    if not replies:
        raise ModelSpecError(f"script {path} holds no replies (separate them with '---' lines)")
    return replies


def load_model(spec: str | None, profile: str | None = None) -> tuple[Model, Profile]:
    if not spec:
        raise ModelSpecError("no model given.\n" + HOW_TO_GET_A_MODEL)
    prof = get_profile(profile) if profile else None
    if spec.startswith("scripted:"):
        path = Path(spec.removeprefix("scripted:"))
        model = ScriptedModel(read_script(path), name=f"scripted:{path.name}")
        return model, prof or get_profile("gaze")
    raise ModelSpecError(f"no backend for model {spec!r} in this build.\n" + HOW_TO_GET_A_MODEL)


def guess_profile(spec: str) -> Profile:
    return profile_for_model(spec)
