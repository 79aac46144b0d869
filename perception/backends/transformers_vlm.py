"""A vision-language model from a local transformers folder, run in-process with ``generate``.

Contract:
- ``TransformersVLM(source, profile)`` loads a model folder (``config.json``, weights, processor
  files): Qwen2.5-VL and UI-TARS-1.5, Qwen2-VL and UI-TARS 1.0, LLaVA by their own classes, any
  other image-text-to-text model through ``AutoModelForImageTextToText``. ``source`` may also be a
  hub id that is already in the local Hugging Face cache; anything else that would need the network
  while it is off (``HF_HUB_OFFLINE``, or the hub unreachable) fails at once with ``ModelError``
  saying how to download the folder elsewhere and pass its path. Loading never retries.
- Device: cuda, else mps, else cpu. Dtype: the profile's ``gpu_dtype`` (bfloat16) on a GPU, float32
  on the CPU, unless asked; float16 is refused for Qwen2.5-VL, which emits garbage in it.
  Attention: flash_attention_2 on CUDA when ``flash_attn`` is installed, else sdpa.
- For smart_resize profiles the image processor gets the profile's min/max pixels, so the images
  tiling sent (already at the fixed point) reach the model unchanged and Frames stay exact.
- ``generate(requests)`` returns one ``Completion`` per request, in order. Requests sharing
  ``max_new_tokens`` and ``stop`` run together, up to ``max_batch`` per ``generate`` call (left
  padding). Decoding is greedy when the profile's temperature is 0. Text is decoded without special
  tokens, cut at the first stop string, and stripped. Token counts exclude padding; the completion
  count includes the end-of-turn token. ``latency_s`` is the batch's wall time; ``extra`` holds
  ``preprocess_s`` (chat template + processor + copy to the device), ``prefill_s`` (vision encoder
  and prompt forward, up to the first logits), ``decode_s`` (the rest), ``image_tokens`` (this
  request's) and ``batch_size``.
- Out of memory and rejected inputs become ``ModelError`` with a readable message; the loop records
  it. Bad text is not an error here.

This is the one module (with ``processors``) that imports torch and transformers; it knows nothing
about parsing, coordinates or the loop.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

import torch
import transformers
from huggingface_hub import snapshot_download
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
from transformers import LogitsProcessor, LogitsProcessorList, PreTrainedModel, ProcessorMixin

from perception.backends.chat import processor_messages
from perception.backends.processors import load_processor, set_pixel_budget
from perception.model import Completion, ModelError, ModelRequest
from perception.profiles import Profile

log = logging.getLogger(__name__)

# config.json model_type -> the class that loads it; others go through AutoModelForImageTextToText
MODEL_CLASSES = {
    "qwen2_5_vl": "Qwen2_5_VLForConditionalGeneration",
    "qwen2_vl": "Qwen2VLForConditionalGeneration",
    "llava": "LlavaForConditionalGeneration",
}
# families that must not run in float16 (Qwen2.5-VL overflows and answers '!!!!')
NO_FLOAT16 = frozenset({"qwen2_5_vl"})
DTYPES = {
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
    "half": torch.float16,
    "float32": torch.float32,
    "fp32": torch.float32,
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_HUB_PROBE_TIMEOUT_S = 3.0


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _download_hint(repo_id: str) -> str:
    local = f"./models/{repo_id.split('/')[-1]}"
    return (
        f"On a machine with network access run\n"
        f"    hf download {repo_id} --local-dir {local}\n"
        f"(or: huggingface-cli download {repo_id} --local-dir {local}), copy the folder here, "
        f"and pass the local folder path instead of the hub id, e.g. --model {local}"
    )


def _hub_reachable() -> bool:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=_HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def resolve_source(source: str) -> Path:
    """A local model folder for ``source``: the folder itself, or a hub id's snapshot.

    A hub id is looked up in the local cache first; it is downloaded only when the hub is allowed
    (no ``HF_HUB_OFFLINE``) and answers within a few seconds. Raises ``ModelError`` otherwise.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if path.exists():
        raise ModelError(f"{source} is a file; pass the model folder that holds config.json")
    if not _HUB_ID.match(source):
        raise ModelError(f"no model folder at {source}")
    try:
        return Path(snapshot_download(source, local_files_only=True))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError):
        pass
    if _truthy("HF_HUB_OFFLINE") or _truthy("TRANSFORMERS_OFFLINE"):
        raise ModelError(
            f"{source!r} is not a local folder and HF_HUB_OFFLINE is set, so it cannot be "
            f"downloaded. {_download_hint(source)}"
        )
    if not _hub_reachable():
        raise ModelError(
            f"{source!r} is not a local folder and the model hub cannot be reached. "
            f"{_download_hint(source)}"
        )
    try:
        return Path(snapshot_download(source))
    except (HfHubHTTPError, OSError, ValueError) as e:
        raise ModelError(f"could not download {source!r}: {e}. {_download_hint(source)}") from e


def pick_device(device: str | None = None) -> str:
    if device:
        return device
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def pick_dtype(dtype: str | None, device: str, profile: Profile, model_type: str) -> torch.dtype:
    name = dtype or ("float32" if device == "cpu" else profile.gpu_dtype)
    try:
        chosen = DTYPES[name.lower()]
    except KeyError:
        raise ModelError(f"unknown dtype {name!r}; use bfloat16 or float32") from None
    if chosen is torch.float16 and model_type in NO_FLOAT16:
        raise ModelError(
            f"{model_type} is not run in float16: it overflows and answers '!!!!'. "
            "Use bfloat16 (GPU) or float32."
        )
    return chosen


def pick_attention(attn: str | None, device: str, dtype: torch.dtype) -> str:
    if attn:
        return attn
    half = dtype in (torch.bfloat16, torch.float16)
    if device.startswith("cuda") and half and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "sdpa"


def read_model_type(folder: Path) -> str:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(f"{folder} is not a transformers model folder (no config.json)") from None
    except (OSError, ValueError) as e:
        raise ModelError(f"cannot read {folder / 'config.json'}: {e}") from e
    model_type = config.get("model_type") if isinstance(config, dict) else None
    if not isinstance(model_type, str):
        raise ModelError(f"{folder / 'config.json'} names no model_type")
    return model_type


def _model_class(model_type: str) -> type[PreTrainedModel]:
    name = MODEL_CLASSES.get(model_type, "AutoModelForImageTextToText")
    cls = getattr(transformers, name, None)
    if cls is None:
        raise ModelError(f"this transformers ({transformers.__version__}) has no {name}")
    return cls  # type: ignore[no-any-return]


class _PrefillClock(LogitsProcessor):
    """Notes when the first logits arrive: generate calls logits processors right after prefill."""

    def __init__(self, sync_cuda: bool) -> None:
        self.sync_cuda = sync_cuda
        self.first_s: float | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.first_s is None:
            if self.sync_cuda:
                torch.cuda.synchronize()
            self.first_s = time.perf_counter()
        return scores


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=len(text))
    return text[:cut]


def load_model(
    folder: Path, model_type: str, device: str, dtype: torch.dtype, attn_implementation: str
) -> PreTrainedModel:
    """The folder's weights on ``device`` in ``dtype``, in eval mode."""
    cls = _model_class(model_type)
    # straight onto the GPU when accelerate can place it; else load on the CPU, then move
    place = device != "cpu" and importlib.util.find_spec("accelerate") is not None
    try:
        model = cls.from_pretrained(
            folder,
            dtype=dtype,
            attn_implementation=attn_implementation,
            device_map=device if place else None,
        )
        # to() is wrapped by a decorator that mypy reads as taking the model twice
        return model.to(device).eval()  # type: ignore[arg-type]
    except torch.OutOfMemoryError as e:
        raise ModelError(f"not enough memory on {device} to load {folder.name}: {e}") from e
    except (OSError, ValueError, ImportError, RuntimeError) as e:
        raise ModelError(f"cannot load {folder.name} from {folder}: {e}") from e


class TransformersVLM:
    """A local transformers VLM behind the ``Model`` protocol; see the module contract."""

    def __init__(
        self,
        source: str,
        profile: Profile,
        *,
        device: str | None = None,
        dtype: str | None = None,
        attn_implementation: str | None = None,
        max_batch: int = 8,
    ) -> None:
        folder = resolve_source(source)
        model_type = read_model_type(folder)
        chosen_device = pick_device(device)
        chosen_dtype = pick_dtype(dtype, chosen_device, profile, model_type)
        attn = pick_attention(attn_implementation, chosen_device, chosen_dtype)
        processor = load_processor(folder, model_type)
        t0 = time.perf_counter()
        model = load_model(folder, model_type, chosen_device, chosen_dtype, attn)
        name = (
            folder.resolve().name if Path(source).expanduser().is_dir() else source.split("/")[-1]
        )
        self._setup(model, processor, profile, name=name, max_batch=max_batch)
        self.folder: Path | None = folder
        self.load_s = time.perf_counter() - t0
        log.info(
            "loaded %s (%s) on %s as %s with %s attention in %.1f s",
            self.name,
            self.model_type,
            self.device,
            str(self.dtype).removeprefix("torch."),
            self.attn_implementation,
            self.load_s,
        )

    @classmethod
    def from_loaded(
        cls,
        model: PreTrainedModel,
        processor: ProcessorMixin,
        profile: Profile,
        *,
        name: str,
        max_batch: int = 8,
    ) -> TransformersVLM:
        """Wrap a model and processor already in memory (benchmarks of random full-size models)."""
        self = cls.__new__(cls)
        self._setup(model.eval(), processor, profile, name=name, max_batch=max_batch)
        self.folder, self.load_s = None, 0.0
        return self

    def _setup(
        self,
        model: PreTrainedModel,
        processor: ProcessorMixin,
        profile: Profile,
        *,
        name: str,
        max_batch: int,
    ) -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.name = name
        self.profile = profile
        self.max_batch = max_batch
        self.model = model
        self.model_type = str(model.config.model_type)
        self.device = str(model.device)
        self.dtype = model.dtype
        if self.dtype is torch.float16 and self.model_type in NO_FLOAT16:
            raise ModelError(f"{self.model_type} is not run in float16 (see pick_dtype)")
        self.attn_implementation = str(getattr(model.config, "_attn_implementation", "") or "")
        self.processor = processor
        set_pixel_budget(processor, profile.image)
        self.tokenizer = processor.tokenizer
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.image_token_id = self._image_token_id()
        self.eos_ids = self._eos_ids()

    def _image_token_id(self) -> int | None:
        tid = getattr(self.processor, "image_token_id", None)
        if isinstance(tid, int):
            return tid
        token = getattr(self.processor, "image_token", None)
        if isinstance(token, str):
            converted = self.tokenizer.convert_tokens_to_ids(token)
            return converted if isinstance(converted, int) else None
        return None

    def _eos_ids(self) -> frozenset[int]:
        ids: set[int] = set()
        for source in (self.model.generation_config.eos_token_id, self.tokenizer.eos_token_id):
            if isinstance(source, int):
                ids.add(source)
            elif isinstance(source, list):
                ids.update(i for i in source if isinstance(i, int))
        return frozenset(ids)

    def _sampling(self) -> dict[str, object]:
        if self.profile.temperature == 0:
            return {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        return {"do_sample": True, "temperature": self.profile.temperature}

    def encode(self, requests: Sequence[ModelRequest]) -> transformers.BatchFeature:
        """Requests -> the processor's batch (left padded) on the model's device."""
        texts: list[str] = []
        images = []
        for req in requests:
            messages, imgs = processor_messages(req)
            # the annotation says str contents; the templates take lists of parts (images, text)
            text = self.processor.apply_chat_template(
                messages,  # type: ignore[arg-type]
                tokenize=False,
                add_generation_prompt=True,
            )
            texts.append(str(text))
            images.extend(imgs)
        batch = self.processor(text=texts, images=images or None, return_tensors="pt", padding=True)
        return batch.to(self.device, dtype=self.dtype)

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        out: list[Completion | None] = [None] * len(requests)
        groups: dict[tuple[int, tuple[str, ...]], list[int]] = {}
        for i, req in enumerate(requests):
            groups.setdefault((req.max_new_tokens, req.stop), []).append(i)
        for (max_new_tokens, stop), indices in groups.items():
            for start in range(0, len(indices), self.max_batch):
                chunk = indices[start : start + self.max_batch]
                batch = [requests[i] for i in chunk]
                for i, comp in zip(chunk, self._run(batch, max_new_tokens, stop), strict=True):
                    out[i] = comp
        return [c for c in out if c is not None]

    def _run(
        self, requests: Sequence[ModelRequest], max_new_tokens: int, stop: tuple[str, ...]
    ) -> list[Completion]:
        t0 = time.perf_counter()
        try:
            inputs = self.encode(requests)
        except (ValueError, TypeError, KeyError, IndexError, RuntimeError) as e:
            raise ModelError(f"{self.name}: the processor rejected the request: {e}") from e
        t1 = time.perf_counter()
        clock = _PrefillClock(sync_cuda=self.device.startswith("cuda"))
        stop_kwargs: dict[str, object] = (
            {"stop_strings": list(stop), "tokenizer": self.tokenizer} if stop else {}
        )
        try:
            with torch.inference_mode():
                sequences = self.model.generate(  # type: ignore[operator]
                    **inputs,
                    max_new_tokens=max_new_tokens,
                    logits_processor=LogitsProcessorList([clock]),
                    pad_token_id=self.tokenizer.pad_token_id,
                    **self._sampling(),
                    **stop_kwargs,
                )
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()
        except torch.OutOfMemoryError as e:
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
            raise ModelError(
                f"{self.name} ran out of memory on {self.device} with a batch of {len(requests)}: "
                "lower max_batch, the number of history images or the profile's max_pixels"
            ) from e
        except (ValueError, TypeError, IndexError, RuntimeError) as e:
            raise ModelError(f"{self.name}: generation failed: {e}") from e
        t2 = time.perf_counter()
        first = clock.first_s if clock.first_s is not None else t2
        timings = {
            "preprocess_s": t1 - t0,
            "prefill_s": first - t1,
            "decode_s": t2 - first,
            "batch_size": float(len(requests)),
        }
        return self._completions(inputs, sequences, stop, timings, t2 - t0)

    def _completions(
        self,
        inputs: transformers.BatchFeature,
        sequences: torch.Tensor,
        stop: tuple[str, ...],
        timings: dict[str, float],
        latency_s: float,
    ) -> list[Completion]:
        input_ids = inputs["input_ids"]
        prompt_len = input_ids.shape[1]
        pad_id = self.tokenizer.pad_token_id
        out = []
        for row in range(sequences.shape[0]):
            new = sequences[row, prompt_len:].tolist()
            n = len(new)
            for j, tok in enumerate(new):
                if tok in self.eos_ids:
                    n = j + 1
                    break
                if tok == pad_id:
                    n = j
                    break
            text = self.tokenizer.decode(new[:n], skip_special_tokens=True)
            image_tokens = (
                int((input_ids[row] == self.image_token_id).sum())
                if self.image_token_id is not None
                else 0
            )
            out.append(
                Completion(
                    text=_cut_at_stop(text, stop).strip(),
                    prompt_tokens=int(inputs["attention_mask"][row].sum()),
                    completion_tokens=n,
                    latency_s=latency_s,
                    extra={**timings, "image_tokens": float(image_tokens)},
                )
            )
        return out
