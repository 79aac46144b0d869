"""Gaze's built-in vision-language model: architecture, tokenizer, backend and training pipeline.

Kept light: importing this package imports neither torch nor PIL (``gaze --help`` stays fast);
``WEIGHTS_DIR`` and ``shipped()`` let the CLI decide on a default model without loading one.
"""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
FILES = ("config.json", "model.safetensors", "tokenizer.json")


def shipped(folder: Path = WEIGHTS_DIR) -> bool:
    """Whether ``folder`` holds a complete exported model (the repo's, by default)."""
    return all((folder / name).is_file() for name in FILES)
