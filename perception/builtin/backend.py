"""The built-in model behind the ``Model`` protocol: ``BuiltinModel(folder).generate(requests)``.

Contract:
- Loads ``config.json`` + ``model.safetensors`` + ``tokenizer.json`` from a local folder
  (``perception.builtin.weights``); never the network. A missing or broken folder is a
  ``ModelError`` that says how to train or pass one.
- Each request is answered from its last image (``ModelRequest.last_image``) and the text of its
  user turns, reduced to the goal and the newest history lines (``data.compact_prompt``). Images
  larger than the model's canvas are tiled and the tile is chosen by the pointer's own confidence
  (``perception.builtin.predict``). The answer is gaze-dialect text whose coordinates are pixels of
  that image, so the request's ``Frame`` maps them to the viewport like any other backend's.
- All requests of one call share one batched forward pass. ``Completion.extra`` holds
  ``preprocess_s``, ``model_s``, ``tiles`` (of the last request), ``confidence`` and
  ``batch_size``; ``latency_s`` is the call's wall time.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import torch

from perception.builtin.predict import Page, Predictor
from perception.builtin.weights import DEFAULT_DIR, WeightsError, load
from perception.model import Completion, ModelError, ModelRequest


def request_prompt(req: ModelRequest) -> str:
    """The text the built-in model reads: every user turn, oldest first (the goal comes first)."""
    return "\n".join(m.text for m in req.messages if m.role == "user")


class BuiltinModel:
    def __init__(self, folder: Path = DEFAULT_DIR, *, threads: int | None = None) -> None:
        try:
            model = load(folder)
        except WeightsError as e:
            raise ModelError(
                f"the built-in model cannot load: {e}. Train one with `gaze train --out DIR` "
                "and pass --model builtin:DIR/export"
            ) from None
        if threads:
            torch.set_num_threads(threads)
        self.name = f"builtin:{folder}"
        self.predictor = Predictor(model, actions_only=True)

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        t0 = time.perf_counter()
        pages = []
        for req in requests:
            img = req.last_image
            if img is None:
                raise ModelError("the built-in model needs a screenshot in every request")
            pages.append(
                Page(img.image, img.frame.scale_to_viewport()[0] ** -1, request_prompt(req))
            )
        preds = self.predictor.predict(pages, max_new=min(r.max_new_tokens for r in requests))
        latency = time.perf_counter() - t0
        timings = self.predictor.timings
        return [
            Completion(
                text=p.text,
                prompt_tokens=p.prompt_tokens,
                completion_tokens=p.completion_tokens,
                latency_s=latency,
                extra={
                    **timings,
                    "tiles": float(p.tiles),
                    "confidence": p.confidence,
                    "batch_size": float(len(requests)),
                },
            )
            for p in preds
        ]
