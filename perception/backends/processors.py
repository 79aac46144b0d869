"""Processors for local model folders: ``AutoProcessor``, or an image-only one without torchvision.

Contract:
- ``load_processor(folder, model_type)`` returns the folder's processor. It first tries
  ``AutoProcessor``; when that fails only because the processor also wants a video processor and
  torchvision is missing (Qwen2-VL, Qwen2.5-VL, SmolVLM on a CPU-only torch), it builds the same
  processor class without its video processor from the folder's own tokenizer, image processor and
  chat template. Images then go through the PIL image processor, whose output equals the
  torchvision one's; only video input is lost, which Gaze never sends.
- ``set_pixel_budget(processor, policy)`` makes a smart_resize image processor use the profile's
  min/max pixels, so an image tiling already resized to the fixed point is not resized again and
  the Frame the parser uses stays exact. It raises ``ModelError`` when the model's patch grid
  (patch x merge) differs from the profile's factor: coordinates would silently be off.

Anything that goes wrong comes back as ``ModelError`` with the folder and the cause. This module
imports transformers (it is part of the transformers backend) but no model code.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import transformers
from transformers import AutoImageProcessor, AutoProcessor, AutoTokenizer, ProcessorMixin
from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES

from perception.model import ModelError
from perception.tiling import ImagePolicy

log = logging.getLogger(__name__)

# config files that may name the processor class, in the order transformers reads them
_PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json")


def _read_json(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _needs_torchvision(error: BaseException) -> bool:
    return "torchvision" in str(error).lower()


def load_processor(folder: Path, model_type: str) -> ProcessorMixin:
    """The folder's processor (see the module contract)."""
    try:
        processor = AutoProcessor.from_pretrained(folder)
    except (ImportError, AttributeError, ValueError) as e:
        # transformers reports a missing torchvision as ImportError, or (for a processor built
        # without its video processor) as an AttributeError of the video processor mapping
        if not _needs_torchvision(e) and "VIDEO_PROCESSOR" not in str(e):
            raise ModelError(f"cannot load the processor of {folder}: {e}") from e
        log.info("no torchvision: building an image-only processor for %s", folder)
        return image_only_processor(folder, model_type)
    except OSError as e:
        raise ModelError(f"cannot load the processor of {folder}: {e}") from e
    if not isinstance(processor, ProcessorMixin):
        raise ModelError(
            f"{folder} has no multimodal processor (found {type(processor).__name__}); "
            "is this a vision-language model folder?"
        )
    return processor


def processor_class_name(folder: Path, model_type: str) -> str:
    """The processor class the folder names, else the one transformers maps its model type to."""
    for name in _PROCESSOR_FILES:
        cls = _read_json(folder / name).get("processor_class")
        if isinstance(cls, str) and cls:
            return cls
    mapped = PROCESSOR_MAPPING_NAMES.get(model_type)
    if isinstance(mapped, str):
        return mapped
    raise ModelError(f"{folder}: no processor class for model type {model_type!r}")


def read_chat_template(folder: Path) -> str | None:
    """The processor's chat template: chat_template.jinja, chat_template.json, processor_config."""
    jinja = folder / "chat_template.jinja"
    if jinja.is_file():
        return jinja.read_text(encoding="utf-8")
    for name in ("chat_template.json", "processor_config.json"):
        template = _read_json(folder / name).get("chat_template")
        if isinstance(template, str):
            return template
    return None


def image_only_processor(folder: Path, model_type: str) -> ProcessorMixin:
    """The folder's processor class, built without its video processor.

    transformers derives a processor's parts from its ``__init__`` signature, so a subclass whose
    ``__init__`` takes only (image_processor, tokenizer, chat_template) is a complete processor
    that never asks for the video processor.
    """
    name = processor_class_name(folder, model_type)
    base = getattr(transformers, name, None)
    if not (isinstance(base, type) and issubclass(base, ProcessorMixin)):
        raise ModelError(f"{folder}: unknown processor class {name!r} in this transformers")

    def __init__(
        self: ProcessorMixin,
        image_processor: object = None,
        tokenizer: object = None,
        chat_template: str | None = None,
        **kwargs: object,
    ) -> None:
        base.__init__(
            self,
            image_processor=image_processor,
            tokenizer=tokenizer,
            video_processor=None,
            chat_template=chat_template,
            **kwargs,
        )

    cls = type(f"{name}ImageOnly", (base,), {"__init__": __init__})
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        image_processor = AutoImageProcessor.from_pretrained(folder)
        template = read_chat_template(folder) or getattr(tokenizer, "chat_template", None)
        processor = cls(
            image_processor=image_processor, tokenizer=tokenizer, chat_template=template
        )
    except (OSError, ValueError, TypeError, ImportError, AttributeError) as e:
        raise ModelError(f"cannot build an image-only processor for {folder}: {e}") from e
    if not isinstance(processor, ProcessorMixin):  # pragma: no cover - type() keeps the base
        raise ModelError(f"cannot build an image-only processor for {folder}")
    return processor


def set_pixel_budget(processor: ProcessorMixin, policy: ImagePolicy) -> None:
    """Give a smart_resize image processor the profile's min/max pixels (see the contract)."""
    if policy.mode != "smart_resize":
        return
    ip = processor.image_processor
    patch, merge = getattr(ip, "patch_size", None), getattr(ip, "merge_size", None)
    if not isinstance(patch, int) or not isinstance(merge, int):
        log.warning(
            "%s does not resize with smart_resize; the profile's %d..%d pixel budget is not "
            "applied and coordinates may not match the image it sees",
            type(ip).__name__,
            policy.min_pixels,
            policy.max_pixels,
        )
        return
    if patch * merge != policy.factor:
        raise ModelError(
            f"the model's image grid is {patch}x{merge} = {patch * merge} px but the profile "
            f"resizes to multiples of {policy.factor}: choose the profile made for this model"
        )
    # this transformers keeps the budget in ``size``; older ones also had min/max_pixels fields
    ip.size = {"shortest_edge": policy.min_pixels, "longest_edge": policy.max_pixels}
    if getattr(ip, "min_pixels", None) is not None:
        ip.min_pixels = policy.min_pixels
    if getattr(ip, "max_pixels", None) is not None:
        ip.max_pixels = policy.max_pixels
