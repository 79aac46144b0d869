"""The shipped form of the built-in model: ``config.json`` + ``model.safetensors`` + ``tokenizer.json``.

Contract:
- ``export(model, folder)`` writes the three files (weights as bfloat16 to halve the size; they are
  loaded back as float32) and returns the size of the safetensors file in bytes.
- ``load(folder)`` rebuilds the model from them, on the CPU, in eval mode; a missing or
  mismatched file is a ``WeightsError`` naming it. No network is ever involved.
- ``tokenizer.json`` documents the byte-level tokenizer (ids of the special tokens); loading checks
  that it matches the code's ``perception.builtin.tokenizer``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from pydantic import ValidationError
from safetensors.torch import load_file, save_file

from perception.builtin import FILES, WEIGHTS_DIR
from perception.builtin.config import ModelConfig
from perception.builtin.model import GazeVLM
from perception.builtin.tokenizer import SPECIALS, VOCAB_SIZE

CONFIG, WEIGHTS, TOKENIZER = FILES
MAX_BYTES = 40 * 1024 * 1024  # the budget for shipped weights
DEFAULT_DIR = WEIGHTS_DIR


class WeightsError(RuntimeError):
    pass


def tokenizer_spec() -> dict[str, object]:
    return {
        "type": "bytes",
        "vocab_size": VOCAB_SIZE,
        "specials": {name: i for i, name in SPECIALS.items()},
    }


def export(model: GazeVLM, folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", torch.bfloat16).contiguous() for k, v in model.state_dict().items()
    }
    save_file(state, str(folder / WEIGHTS), metadata={"format": model.config.format})
    (folder / CONFIG).write_text(model.config.model_dump_json(indent=2) + "\n", encoding="utf-8")
    (folder / TOKENIZER).write_text(json.dumps(tokenizer_spec(), indent=2) + "\n", encoding="utf-8")
    return (folder / WEIGHTS).stat().st_size


def load(folder: Path) -> GazeVLM:
    for name in (CONFIG, WEIGHTS, TOKENIZER):
        if not (folder / name).is_file():
            raise WeightsError(f"{folder / name} is missing: not a built-in model folder")
    try:
        config = ModelConfig.model_validate_json((folder / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValidationError) as e:
        raise WeightsError(f"{folder / CONFIG}: {e}") from None
    try:
        tok = json.loads((folder / TOKENIZER).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise WeightsError(f"{folder / TOKENIZER}: {e}") from None
    if tok != tokenizer_spec():
        raise WeightsError(f"{folder / TOKENIZER} does not match this version's byte tokenizer")
    model = GazeVLM(config)
    state = {k: v.float() for k, v in load_file(str(folder / WEIGHTS)).items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise WeightsError(f"{folder / WEIGHTS} does not fit {folder / CONFIG}: {e}") from None
    return model.eval()
