"""Tiny random Qwen2-VL, Qwen2.5-VL and LLaVA model folders, built offline in about a second.

Contract:
- ``build(family, folder)`` writes a complete model folder as the real ones look: ``config.json``,
  ``generation_config.json``, safetensors weights, tokenizer files, ``chat_template.json`` and (for
  Qwen) a hand-written ``preprocessor_config.json`` naming ``Qwen2VLImageProcessor`` and the real
  processor class, so loading it exercises the same path as a real UI-TARS / Qwen folder
  (including the image-only processor fallback when torchvision is missing).
- Models are 2-layer, width-64 decoders with a 1-2 block vision tower; the tokenizer is a byte-level
  BPE trained on the spot (every integer below 2000 is one token, with and without a leading
  space) carrying the family's special tokens; the chat templates are the families' own, minus
  video.
- ``forced="click(123, 456)"`` makes the weights answer exactly that text and then the end-of-turn
  token, whatever the prompt: the decoder layers' outputs are zeroed, so the next token depends
  only on the current one, and embeddings and LM head are set up as a chain from the last token
  of the generation prompt through the text. The chain needs distinct tokens (``ValueError`` if
  not) and no more of them than the width.

Test code only; it never downloads anything.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (
    GenerationConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    PreTrainedModel,
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2Tokenizer,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
)

Family = Literal["qwen2_vl", "qwen2_5_vl", "llava"]
FAMILIES: tuple[Family, ...] = ("qwen2_vl", "qwen2_5_vl", "llava")

HIDDEN = 64  # decoder width; also the longest forced chain
QWEN_MIN_PIXELS = 56 * 56
QWEN_MAX_PIXELS = 28 * 28 * 16  # at most 16 image tokens unless a profile raises the budget
LLAVA_IMAGE = 56  # CLIP input side: (56 / 14)^2 = 16 image tokens
LLAVA_IMAGE_TOKENS = (LLAVA_IMAGE // 14) ** 2

QWEN_SPECIAL = (
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
)
LLAVA_SPECIAL = ("<unk>", "<s>", "</s>", "<image>", "<pad>")

# Qwen2-VL's published template without the video branch
QWEN_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\n"
    "You are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# llava-1.5-hf's template without the generation markers
LLAVA_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}"
    "{{ message['role'].upper() + ': ' }}{% endif %}"
    "{% if message['content'] is string %}{{ message['content'] + ' ' }}{% else %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{{ content['text'] + ' ' }}{% endfor %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

_WORDS = (
    "You are Gaze an agent that operates a web browser by looking at screenshots Each turn you "
    "get the goal your previous actions with their results and screenshot of viewport pixels "
    "Coordinates origin top left Reply with one short thought line starting Thought then exactly "
    "action Action Actions click double_click right_click hover drag type key scroll navigate "
    "back wait done give_up ask_user submit true false Enter URL Title Goal Sign in as alice "
    "password hunter2 Remember me system user assistant USER ASSISTANT helpful Problem reply "
    "start_box end_box content direction down up finished call_user hotkey"
)


@dataclass(frozen=True)
class Tokens:
    """The special tokens of a family and the roles they play."""

    special: tuple[str, ...]
    eos: str
    pad: str
    bos: str | None
    image: str


def family_tokens(family: Family) -> Tokens:
    if family == "llava":
        return Tokens(LLAVA_SPECIAL, eos="</s>", pad="<pad>", bos="<s>", image="<image>")
    return Tokens(
        QWEN_SPECIAL, eos="<|im_end|>", pad="<|endoftext|>", bos=None, image="<|image_pad|>"
    )


def train_tokenizer(tokens: Tokens) -> PreTrainedTokenizerFast:
    """A byte-level BPE (GPT-2 pre-tokenizer) in which every integer below 2000 is one token."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=8000,
        special_tokens=list(tokens.special),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    corpus = [_WORDS] * 5 + [f"{n} ({n}, {n})" for n in range(2000)]
    tok.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=tokens.eos,
        pad_token=tokens.pad,
        bos_token=tokens.bos,
        unk_token="<unk>" if "<unk>" in tokens.special else None,
    )


def _ids(tokenizer: PreTrainedTokenizerFast, names: Sequence[str]) -> dict[str, int]:
    out = {}
    for n in names:
        i = tokenizer.convert_tokens_to_ids(n)
        assert isinstance(i, int)
        out[n] = i
    return out


def _qwen_text_config(vocab: int, ids: dict[str, int]) -> dict[str, object]:
    return {
        "vocab_size": vocab,
        "hidden_size": HIDDEN,
        "intermediate_size": 2 * HIDDEN,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "max_position_embeddings": 4096,
        # head_dim 16: mrope sections (temporal, height, width) must sum to head_dim / 2
        "rope_parameters": {
            "rope_type": "default",
            "rope_theta": 10000.0,
            "mrope_section": [2, 3, 3],
        },
        "bos_token_id": ids["<|endoftext|>"],
        "eos_token_id": ids["<|im_end|>"],
        "pad_token_id": ids["<|endoftext|>"],
    }


def make_model(family: Family, tokenizer: PreTrainedTokenizerFast) -> PreTrainedModel:
    tokens = family_tokens(family)
    ids = _ids(tokenizer, tokens.special)
    vocab = len(tokenizer)
    model: PreTrainedModel
    if family == "qwen2_5_vl":
        cfg = Qwen2_5_VLConfig(
            text_config=_qwen_text_config(vocab, ids),
            vision_config={
                "depth": 2,
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_heads": 2,
                "out_hidden_size": HIDDEN,
                "fullatt_block_indexes": [1],
                "window_size": 112,
            },
            tie_word_embeddings=False,
            image_token_id=ids["<|image_pad|>"],
            video_token_id=ids["<|video_pad|>"],
            vision_start_token_id=ids["<|vision_start|>"],
            vision_end_token_id=ids["<|vision_end|>"],
        )
        model = Qwen2_5_VLForConditionalGeneration(cfg)
    elif family == "qwen2_vl":
        cfg2 = Qwen2VLConfig(
            text_config=_qwen_text_config(vocab, ids),
            vision_config={
                "depth": 1,
                "embed_dim": 32,
                "hidden_size": HIDDEN,
                "mlp_ratio": 2,
                "num_heads": 2,
            },
            tie_word_embeddings=False,
            image_token_id=ids["<|image_pad|>"],
            video_token_id=ids["<|video_pad|>"],
            vision_start_token_id=ids["<|vision_start|>"],
            vision_end_token_id=ids["<|vision_end|>"],
        )
        model = Qwen2VLForConditionalGeneration(cfg2)
    else:
        cfg3 = LlavaConfig(
            vision_config={
                "model_type": "clip_vision_model",
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,  # vision_feature_layer -2 needs two
                "num_attention_heads": 2,
                "image_size": LLAVA_IMAGE,
                "patch_size": 14,
            },
            text_config={
                "model_type": "llama",
                "vocab_size": vocab,
                "hidden_size": HIDDEN,
                "intermediate_size": 2 * HIDDEN,
                "num_hidden_layers": 2,
                "num_attention_heads": 4,
                "num_key_value_heads": 2,
                "max_position_embeddings": 4096,
                "bos_token_id": ids["<s>"],
                "eos_token_id": ids["</s>"],
                "pad_token_id": ids["<pad>"],
            },
            image_token_index=ids["<image>"],
            image_seq_length=LLAVA_IMAGE_TOKENS,
            vision_feature_select_strategy="default",
            vision_feature_layer=-2,
            tie_word_embeddings=False,
        )
        model = LlavaForConditionalGeneration(cfg3)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return model.eval()


def generation_prompt_end(family: Family, tokenizer: PreTrainedTokenizerFast) -> int:
    """The last token of any rendered prompt: where the model's answer starts."""
    template = LLAVA_TEMPLATE if family == "llava" else QWEN_TEMPLATE
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],  # type: ignore[arg-type]
        chat_template=template,
        tokenize=False,
        add_generation_prompt=True,
    )
    assert isinstance(text, str)
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return int(ids[-1])


@torch.no_grad()
def force_output(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, start_id: int, text: str
) -> None:
    """Make ``model`` answer ``text`` then end-of-turn after ``start_id`` (see the contract)."""
    eos = tokenizer.eos_token_id
    assert isinstance(eos, int)
    chain = [start_id, *tokenizer(text, add_special_tokens=False)["input_ids"], eos]
    if len(set(chain[:-1])) != len(chain) - 1:
        pieces = tokenizer.convert_ids_to_tokens(chain)
        raise ValueError(f"cannot force {text!r}: repeated tokens in {pieces}")
    embedding, head = model.get_input_embeddings(), model.get_output_embeddings()
    assert isinstance(embedding, torch.nn.Embedding) and isinstance(head, torch.nn.Linear)
    width = embedding.weight.shape[1]
    if len(chain) - 1 > width:
        raise ValueError(f"cannot force {text!r}: {len(chain)} tokens for width {width}")
    for name, p in model.named_parameters():
        if "language_model" in name and ("o_proj" in name or "down_proj" in name):
            p.zero_()  # each decoder layer now adds nothing: the residual is the token embedding
    emb = embedding.weight
    for i, (tok, nxt) in enumerate(itertools.pairwise(chain)):
        emb[tok] = 0.0
        emb[tok, i] = 1.0  # RMSNorm turns this into sqrt(width) along axis i
        head.weight[nxt] = 0.0
        head.weight[nxt, i] = 10.0
    if head.bias is not None:
        head.bias.zero_()


def as_qwen2(tokenizer: PreTrainedTokenizerFast) -> PreTrainedTokenizerFast:
    """The same vocabulary and merges as a ``Qwen2Tokenizer``."""
    model = json.loads(tokenizer.backend_tokenizer.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    qwen = Qwen2Tokenizer(
        vocab=model["vocab"],
        merges=merges,  # type: ignore[arg-type]  # annotated list[str]; the backend wants pairs
        eos_token=str(tokenizer.eos_token),
        pad_token=str(tokenizer.pad_token),
    )
    # the published tokenizers list these as added special tokens (same ids as in the vocab)
    qwen.add_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN_SPECIAL])
    return qwen


def _clip_image_processor() -> type:
    """CLIP's PIL image processor (named so since transformers 5.x), else the plain one."""
    import transformers

    pil = getattr(transformers, "CLIPImageProcessorPil", None)
    return pil if isinstance(pil, type) else transformers.CLIPImageProcessor


def _write_json(path: Path, data: dict[str, object]) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def build(
    family: Family,
    folder: Path,
    *,
    forced: str | None = None,
    max_pixels: int = QWEN_MAX_PIXELS,
    seed: int = 0,
    qwen2_tokenizer: bool = False,
) -> Path:
    """Write a tiny random ``family`` model folder to ``folder`` (see the module contract).

    ``qwen2_tokenizer`` saves the Qwen tokenizer as the published folders do (``tokenizer_class``
    Qwen2Tokenizer, whose own pre-tokenizer splits numbers into digits, so not with ``forced``).
    """
    folder.mkdir(parents=True, exist_ok=True)
    tokens = family_tokens(family)
    tokenizer = train_tokenizer(tokens)
    torch.manual_seed(seed)
    model = make_model(family, tokenizer)
    if forced is not None:
        force_output(model, tokenizer, generation_prompt_end(family, tokenizer), forced)
    model.save_pretrained(folder)
    if family == "llava":
        image_processor = _clip_image_processor()(
            size={"shortest_edge": LLAVA_IMAGE},
            crop_size={"height": LLAVA_IMAGE, "width": LLAVA_IMAGE},
        )
        processor = LlavaProcessor(
            image_processor=image_processor,
            tokenizer=tokenizer,
            patch_size=14,
            vision_feature_select_strategy="default",
            num_additional_image_tokens=1,  # CLIP's class token, dropped by "default"
            chat_template=LLAVA_TEMPLATE,
        )
        processor.save_pretrained(folder)
        return folder
    if qwen2_tokenizer:
        as_qwen2(tokenizer).save_pretrained(folder)
    else:
        tokenizer.save_pretrained(folder)
    # as in the published Qwen2-VL / Qwen2.5-VL / UI-TARS folders
    _write_json(
        folder / "preprocessor_config.json",
        {
            "min_pixels": QWEN_MIN_PIXELS,
            "max_pixels": max_pixels,
            "patch_size": 14,
            "temporal_patch_size": 2,
            "merge_size": 2,
            "image_mean": [0.48145466, 0.4578275, 0.40821073],
            "image_std": [0.26862954, 0.26130258, 0.27577711],
            "image_processor_type": "Qwen2VLImageProcessor",
            "processor_class": (
                "Qwen2_5_VLProcessor" if family == "qwen2_5_vl" else "Qwen2VLProcessor"
            ),
        },
    )
    _write_json(folder / "chat_template.json", {"chat_template": QWEN_TEMPLATE})
    return folder
