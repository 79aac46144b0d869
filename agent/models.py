"""Model specs on the command line -> a Model and the Profile that says how to talk to it.

Contract: ``load_model(spec, profile=None)`` returns ``(model, profile)`` or raises ``ModelSpecError``
with a message that says what to do. Specs:

- ``/path/to/folder`` (or ``local:/path``) — a model saved with transformers (``config.json`` +
  weights + processor), run in-process on the best device (``perception.backends.transformers_vlm``).
- ``hf:org/name`` — a hub id for the same backend; it only works where the hub is reachable and
  fails fast offline with a message about local folders.
- ``openai:http://host:port/v1#model-name`` — an OpenAI-compatible server (vLLM, SGLang, LM Studio,
  Ollama's endpoint); the key comes from ``GAZE_API_KEY`` or ``OPENAI_API_KEY``.
- ``builtin`` or ``builtin:FOLDER`` — Gaze's own small model (``perception.builtin``), from the
  repo's ``perception/builtin/weights`` or an exported folder; the default when no spec is given and
  the repo holds trained weights (until then, no spec stays an error).
- ``scripted:FILE`` — replies read from a text file, separated by lines holding only ``---``. For
  debugging prompts and parsers; it does not look at the page, and the console says so.

The profile is ``--profile`` when given, else the one whose ids match the model's name (folder
name, served model name, ``_name_or_path``), else the one declared for the folder's ``model_type``.
A coordinate space is never guessed from numbers: when nothing matches, the spec is refused and the
user is asked for ``--profile``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from perception.model import Model, ModelError, ScriptedModel
from perception.profiles import PROFILES, Profile, get_profile, profile_for_model

SEPARATOR = re.compile(r"^---\s*$", re.MULTILINE)

HOW_TO_GET_A_MODEL = """Gaze needs a vision-language model to see the page. Give one with --model:
  --model /path/to/folder            a transformers model folder (UI-TARS-1.5, Qwen2.5-VL, ...)
  --model openai:http://HOST:PORT/v1#NAME   an OpenAI-compatible server (vLLM, SGLang; docs/SERVING.md)
  --model scripted:FILE              replies from a file (debugging; it does not look at the page)
  --model builtin:FOLDER             Gaze's own small model, exported by `gaze train`
Weights are never downloaded by Gaze: fetch them with `huggingface-cli download ...` on a machine
that can, and pass the folder. Without --model, Gaze's built-in model is used: its weights ship in
perception/builtin/weights (`gaze train` reproduces them, docs/BUILTIN.md), and this checkout
lacks them."""


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


def _profile_by_type(model_type: str) -> Profile | None:
    for p in PROFILES.values():
        if model_type in p.model_types:
            return p
    return None


def _choose(explicit: str | None, names: list[str], model_type: str | None, what: str) -> Profile:
    if explicit:
        try:
            return get_profile(explicit)
        except KeyError as e:
            raise ModelSpecError(str(e.args[0])) from None
    for name in names:
        found = profile_for_model(name)
        if found is not None:
            return found
    by_type = _profile_by_type(model_type) if model_type else None
    if by_type is not None:
        return by_type
    raise ModelSpecError(
        f"cannot tell which model family {what} is, so not which coordinate space its answers "
        f"use; pass --profile (one of: {', '.join(PROFILES)}; `gaze models` describes them)"
    )


def _folder_identity(folder: Path) -> tuple[list[str], str | None]:
    """Names that may identify a local model folder, and its config.json model_type."""
    names = [folder.resolve().name]
    model_type = None
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelSpecError(
            f"{folder} is not a model folder: config.json unreadable ({e})"
        ) from None
    if isinstance(config, dict):
        if isinstance(config.get("_name_or_path"), str):
            names.append(config["_name_or_path"])
        if isinstance(config.get("model_type"), str):
            model_type = config["model_type"]
    return names, model_type


def _local(source: str, folder: Path | None, profile: str | None) -> tuple[Model, Profile]:
    if folder is not None:
        names, model_type = _folder_identity(folder)
        prof = _choose(profile, names, model_type, repr(str(folder)))
    else:
        prof = _choose(profile, [source], None, repr(source))
    try:
        from perception.backends.transformers_vlm import TransformersVLM
    except ImportError as e:
        raise ModelSpecError(
            f"local models need torch and transformers ({e.name} is missing): "
            "pip install 'gaze-agent[local]'"
        ) from None
    try:
        return TransformersVLM(str(folder) if folder else source, prof), prof
    except ModelError as e:
        raise ModelSpecError(str(e)) from None


def _builtin(folder: str, profile: str | None) -> tuple[Model, Profile]:
    from perception.builtin import WEIGHTS_DIR

    path = Path(folder) if folder else WEIGHTS_DIR
    prof = _choose(profile or "gaze-builtin", [], None, "builtin")
    try:
        from perception.builtin.backend import BuiltinModel
    except ImportError as e:
        raise ModelSpecError(
            f"the built-in model needs torch ({e.name} is missing): pip install 'gaze-agent[local]'"
        ) from None
    try:
        return BuiltinModel(path), prof
    except ModelError as e:
        raise ModelSpecError(str(e)) from None


def load_model(spec: str | None, profile: str | None = None) -> tuple[Model, Profile]:
    if not spec:
        from perception.builtin import shipped

        if not shipped():
            raise ModelSpecError("no model given.\n" + HOW_TO_GET_A_MODEL)
        spec = "builtin"
    if spec == "builtin" or spec.startswith("builtin:"):
        return _builtin(spec.removeprefix("builtin").removeprefix(":"), profile)
    if spec.startswith("scripted:"):
        path = Path(spec.removeprefix("scripted:"))
        model = ScriptedModel(read_script(path), name=f"scripted:{path.name}")
        return model, _choose(profile or "gaze", [], None, spec)
    if spec.startswith("openai:"):
        from perception.backends.openai_server import OpenAIServerModel, parse_spec

        try:
            base_url, name = parse_spec(spec)
        except ValueError as e:
            raise ModelSpecError(str(e)) from None
        prof = _choose(profile, [name], None, repr(name))
        return OpenAIServerModel(base_url, name, temperature=prof.temperature), prof
    if spec.startswith("hf:"):
        return _local(spec.removeprefix("hf:"), None, profile)
    path = Path(spec.removeprefix("local:"))
    if path.is_dir():
        return _local(spec, path, profile)
    raise ModelSpecError(
        f"no model at {spec!r}: not a folder, and not a known spec.\n" + HOW_TO_GET_A_MODEL
    )
