"""Per-step latency of the transformers backend, split into its phases.

One step = what ``ModelPolicy.decide`` does for one observation: tile the screenshot and build the
prompt, run the processor (chat template, image resize/patchify, tokenize, copy to the device),
prefill (vision encoder + prompt forward, up to the first logits), decode, and parse the reply.
Each phase is the median over ``--steps`` steps after one warm-up step; the screenshot is a
synthetic 1280x800 page, varied a little every step.

Two modes:

- default (CPU or GPU): the tiny random Qwen2-VL / Qwen2.5-VL / LLaVA folders of the model tests,
  each with its natural profile (UI-TARS 1.0 / UI-TARS-1.5 smart_resize at 1288x812 = 1334 image
  tokens for the Qwen ones, gaze for LLaVA). Shapes are tiny, so this measures the fixed costs
  around the model (processor, generate() overhead, parsing), not a real model's compute.
- ``--config qwen2.5-vl-7b`` (GPU only): a random-weight model with the Qwen2.5-VL-7B shapes,
  written by hand from memory of the published config.json (decoder 3584 wide, 28 layers, 28
  query / 4 key-value heads, MLP 18944, vocab 152064; vision tower 1280 wide, 32 blocks, windowed
  attention with full attention in blocks 7/15/23/31, merger to 3584), in bfloat16, with the tiny
  test tokenizer (its special-token ids are written into the config; the weights are random
  anyway). It measures a full step on a 1280x800 screenshot (1334 visual tokens, ``--new-tokens``
  40 new tokens) at batch 1 and batch 4 (four copies of the request in one generate call).

Usage::

    python bench/backend_latency.py [--steps 10] [--new-tokens 40] [--families qwen2_5_vl ...]
    python bench/backend_latency.py --config qwen2.5-vl-7b [--steps 5] [--batches 1 4]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
import transformers
from PIL import Image, ImageDraw

from actions.types import Observation
from agent.policy import ModelPolicy
from perception.backends.processors import load_processor
from perception.backends.transformers_vlm import TransformersVLM, pick_attention
from perception.parsers import parse
from perception.profiles import Profile, get_profile
from perception.prompts import build_request
from tests.model.tiny import FAMILIES, Family, build

NATURAL_PROFILE: dict[Family, str] = {
    "qwen2_vl": "uitars-1.0",
    "qwen2_5_vl": "uitars-1.5",
    "llava": "gaze",
}
PHASES = ("prompt", "preprocess", "prefill", "decode", "parse", "total")

# Qwen2.5-VL-7B-Instruct's config.json as published (from memory; token ids are set per tokenizer)
QWEN25_VL_7B_TEXT: dict[str, object] = {
    "vocab_size": 152064,
    "hidden_size": 3584,
    "intermediate_size": 18944,
    "num_hidden_layers": 28,
    "num_attention_heads": 28,
    "num_key_value_heads": 4,
    "hidden_act": "silu",
    "max_position_embeddings": 128000,
    "max_window_layers": 28,
    "rms_norm_eps": 1e-6,
    "use_sliding_window": False,
    "sliding_window": 32768,
    "attention_dropout": 0.0,
    # head_dim 128: mrope sections sum to 64
    "rope_parameters": {
        "rope_type": "default",
        "rope_theta": 1000000.0,
        "mrope_section": [16, 24, 24],
    },
}
QWEN25_VL_7B_VISION: dict[str, object] = {
    "depth": 32,
    "hidden_size": 1280,
    "intermediate_size": 3420,
    "num_heads": 16,
    "hidden_act": "silu",
    "in_channels": 3,
    "out_hidden_size": 3584,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "tokens_per_second": 2,
}


def screenshot(step: int, width: int = 1280, height: int = 800) -> Image.Image:
    """A login-page-like screen; ``step`` moves the highlighted row so no two are equal."""
    img = Image.new("RGB", (width, height), (246, 247, 249))
    d = ImageDraw.Draw(img)
    d.rectangle((0, 0, width, 56), fill=(32, 48, 96))
    d.text((24, 20), "Acme shop", fill=(255, 255, 255))
    for i, label in enumerate(("Username", "Password")):
        y = 200 + i * 90
        d.text((440, y - 22), label, fill=(20, 20, 20))
        d.rectangle((440, y, 840, y + 40), outline=(120, 120, 140), fill=(255, 255, 255))
    d.rectangle((440, 400, 600, 444), fill=(40, 110, 220))
    d.text((480, 415), "Sign in", fill=(255, 255, 255))
    y = 500 + (step % 8) * 30
    d.rectangle((100, y, 1180, y + 24), fill=(255, 240, 200))
    return img


def observation(step: int) -> Observation:
    return Observation(
        screenshot=screenshot(step),
        url="http://127.0.0.1:8000/demo/login.html",
        title="Sign in",
        viewport_w=1280,
        viewport_h=800,
        device_scale_factor=1.0,
    )


def one_step(
    model: TransformersVLM, profile: Profile, step: int, batch: int, new_tokens: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Seconds per phase, and token counts, for one step of ``batch`` identical requests."""
    policy = ModelPolicy(model, profile)
    t0 = time.perf_counter()
    obs = observation(step)
    images = policy.images_for(obs)
    request = build_request(
        profile, goal="Sign in as alice with the password hunter2.", obs=obs, images=images
    )
    request = dataclasses.replace(request, max_new_tokens=new_tokens)
    t1 = time.perf_counter()
    comps = model.generate([request] * batch)
    t2 = time.perf_counter()
    for c in comps:
        parse(c.text, images[-1].frame, profile.dialect)
    t3 = time.perf_counter()
    extra = comps[0].extra
    times = {
        "prompt": t1 - t0,
        "preprocess": extra["preprocess_s"],
        "prefill": extra["prefill_s"],
        "decode": extra["decode_s"],
        "parse": t3 - t2,
        "total": t3 - t0,
    }
    counts = {
        "image_tokens": extra["image_tokens"],
        "prompt_tokens": float(comps[0].prompt_tokens),
        "new_tokens": statistics.mean(c.completion_tokens for c in comps),
    }
    return times, counts


def measure(
    model: TransformersVLM, profile: Profile, *, steps: int, batch: int, new_tokens: int
) -> dict[str, float]:
    one_step(model, profile, -1, batch, new_tokens)  # warm-up: kernels, allocator, caches
    rows = [one_step(model, profile, s, batch, new_tokens) for s in range(steps)]
    out = {p: statistics.median(r[0][p] for r in rows) for p in PHASES}
    for key in ("image_tokens", "prompt_tokens", "new_tokens"):
        out[key] = statistics.median(r[1][key] for r in rows)
    return out


def machine_facts(device: str) -> list[str]:
    facts = [
        f"command: {' '.join([Path(sys.executable).name, *sys.argv])}",
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"transformers {transformers.__version__}, {platform.platform()}",
        f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {torch.get_num_threads()}",
    ]
    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(0)
        facts.append(
            f"gpu: {props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}"
        )
    return facts


def print_table(title: str, facts: list[str], rows: list[tuple[str, dict[str, float]]]) -> None:
    print(f"\n## {title}\n")
    for f in facts:
        print(f"- {f}")
    head = ["run", "img tok", "prompt tok", "new tok"] + [f"{p} ms" for p in PHASES]
    head.append("ms/new tok")
    print("\n| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for name, r in rows:
        per_token = r["decode"] / max(1.0, r["new_tokens"] - 1) * 1000  # first token is prefill's
        cells = [
            name,
            f"{r['image_tokens']:.0f}",
            f"{r['prompt_tokens']:.0f}",
            f"{r['new_tokens']:.0f}",
        ]
        cells += [f"{r[p] * 1000:.1f}" for p in PHASES]
        cells.append(f"{per_token:.2f}")
        print("| " + " | ".join(cells) + " |")


def run_tiny(args: argparse.Namespace) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.families:
            profile = get_profile(NATURAL_PROFILE[family])
            folder = build(family, Path(tmp) / family)
            model = TransformersVLM(str(folder), profile, device=args.device)
            for batch in args.batches:
                r = measure(
                    model, profile, steps=args.steps, batch=batch, new_tokens=args.new_tokens
                )
                rows.append((f"{family} / {profile.name} / batch {batch}", r))
            device = model.device
    print_table(
        f"Tiny random models, median of {args.steps} steps (tests/model/tiny.py shapes)",
        machine_facts(device),
        rows,
    )


def qwen25_vl_7b(device: str) -> TransformersVLM:
    """Random Qwen2.5-VL-7B-shaped weights in bfloat16 on ``device``, with the tiny processor."""
    profile = get_profile("uitars-1.5")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "processor"
        build("qwen2_5_vl", folder)  # tiny weights are written too (a few MB); only files are used
        processor = load_processor(folder, "qwen2_5_vl")
    tokenizer = processor.tokenizer

    def tid(token: str) -> int:
        i = tokenizer.convert_tokens_to_ids(token)
        assert isinstance(i, int)
        return i

    text = {
        **QWEN25_VL_7B_TEXT,
        "bos_token_id": tid("<|endoftext|>"),
        "eos_token_id": tid("<|im_end|>"),
        "pad_token_id": tid("<|endoftext|>"),
    }
    config = transformers.Qwen2_5_VLConfig(
        text_config=text,
        vision_config=QWEN25_VL_7B_VISION,
        image_token_id=tid("<|image_pad|>"),
        video_token_id=tid("<|video_pad|>"),
        vision_start_token_id=tid("<|vision_start|>"),
        vision_end_token_id=tid("<|vision_end|>"),
        tie_word_embeddings=False,
    )
    attn = pick_attention(None, device, torch.bfloat16)
    t0 = time.perf_counter()
    with torch.device(device):
        model = transformers.Qwen2_5_VLForConditionalGeneration._from_config(
            config, dtype=torch.bfloat16, attn_implementation=attn
        )
    params = sum(p.numel() for p in model.parameters())
    print(
        f"built {params / 1e9:.2f} B random parameters with {attn} in {time.perf_counter() - t0:.1f} s"
    )
    return TransformersVLM.from_loaded(model, processor, profile, name="qwen2.5-vl-7b-random")


def run_7b(args: argparse.Namespace) -> None:
    if not torch.cuda.is_available():
        sys.exit(
            "--config qwen2.5-vl-7b needs a CUDA GPU (about 17 GiB for bf16 weights plus "
            "activations); this machine has none. Run the default mode for the tiny models."
        )
    device = args.device or "cuda"
    model = qwen25_vl_7b(device)
    profile = model.profile
    rows = []
    for batch in args.batches:
        torch.cuda.reset_peak_memory_stats()
        r = measure(model, profile, steps=args.steps, batch=batch, new_tokens=args.new_tokens)
        r["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
        rows.append((f"qwen2.5-vl-7b bf16 / batch {batch} / peak {r['peak_gib']:.1f} GiB", r))
    print_table(
        f"Random Qwen2.5-VL-7B shapes, 1280x800 screenshot, median of {args.steps} steps",
        machine_facts(device),
        rows,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--config", choices=["tiny", "qwen2.5-vl-7b"], default="tiny")
    ap.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    ap.add_argument("--steps", type=int, default=None, help="measured steps (tiny 10, 7b 5)")
    ap.add_argument("--batches", type=int, nargs="+", default=None, help="tiny: 1; 7b: 1 4")
    ap.add_argument("--new-tokens", type=int, default=40)
    ap.add_argument("--device", default=None, help="default: cuda, mps, else cpu")
    args = ap.parse_args()
    big = args.config == "qwen2.5-vl-7b"
    args.steps = args.steps or (5 if big else 10)
    args.batches = args.batches or ([1, 4] if big else [1])
    if big:
        run_7b(args)
    else:
        run_tiny(args)


if __name__ == "__main__":
    main()
