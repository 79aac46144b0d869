"""TransformersVLM on tiny random model folders: loading, batching, token counts, timings,
forced answers through the parser, the pixel budget, and the failures that must be fast and clear."""

from __future__ import annotations

import dataclasses
import importlib.util
import time
from pathlib import Path

import pytest
from PIL import Image
from transformers import AutoProcessor

from actions.types import Click
from perception.backends.processors import image_only_processor
from perception.backends.transformers_vlm import TransformersVLM
from perception.frames import Frame
from perception.model import Message, ModelError, ModelImage, ModelRequest
from perception.parsers import parse
from perception.parsers.base import Parsed
from perception.profiles import get_profile
from perception.tiling import smart_resize
from tests.model.conftest import FolderFactory
from tests.model.tiny import FAMILIES, LLAVA_IMAGE_TOKENS, QWEN_TEMPLATE, Family, build

GAZE = get_profile("gaze")
NO_TORCHVISION = importlib.util.find_spec("torchvision") is None
# (image size, prompt text); Qwen images are smart_resize fixed points: 8x4 and 6x6 patches
INPUTS = [((112, 56), "Goal: click the red box"), ((84, 84), "Goal: sign in as alice, then stop")]


def request(
    size: tuple[int, int],
    text: str,
    *,
    color: tuple[int, int, int] = (200, 30, 30),
    frame: Frame | None = None,
    max_new_tokens: int = 12,
    stop: tuple[str, ...] = (),
) -> ModelRequest:
    w, h = size
    image = Image.new("RGB", size, color)
    image.paste((20, 20, 220), (w // 4, h // 4, w // 2, h // 2))
    frame = frame or Frame(region_x=0, region_y=0, region_w=w, region_h=h, image_w=w, image_h=h)
    return ModelRequest(
        messages=(
            Message("system", "You are Gaze. Reply with one action."),
            Message("user", text, (ModelImage(image, frame),)),
        ),
        max_new_tokens=max_new_tokens,
        stop=stop,
    )


def batch_of_two() -> list[ModelRequest]:
    return [
        request(INPUTS[0][0], INPUTS[0][1], color=(200, 30, 30)),
        request(INPUTS[1][0], INPUTS[1][1], color=(30, 200, 30)),
    ]


def expected_image_tokens(family: Family, size: tuple[int, int]) -> int:
    if family == "llava":
        return LLAVA_IMAGE_TOKENS
    w, h = size
    return (w // 14) * (h // 14) // 4


@pytest.fixture(scope="module")
def loaded(tiny_folders: dict[Family, Path]) -> dict[Family, TransformersVLM]:
    return {f: TransformersVLM(str(tiny_folders[f]), GAZE) for f in FAMILIES}


@pytest.mark.parametrize("family", FAMILIES)
def test_batch_of_two_gives_two_completions_with_costs(
    family: Family, loaded: dict[Family, TransformersVLM]
) -> None:
    model = loaded[family]
    assert model.device == "cpu" and model.attn_implementation == "sdpa"
    comps = model.generate(batch_of_two())
    assert len(comps) == 2
    for comp, (size, _) in zip(comps, INPUTS, strict=True):
        image_tokens = expected_image_tokens(family, size)
        assert comp.extra["image_tokens"] == image_tokens
        assert comp.prompt_tokens > image_tokens + 10  # the text is counted too
        assert 0 < comp.completion_tokens <= 12
        assert comp.latency_s > 0
        assert comp.extra["batch_size"] == 2
        for key in ("preprocess_s", "prefill_s", "decode_s"):
            assert comp.extra[key] > 0, key
        parts = comp.extra["preprocess_s"] + comp.extra["prefill_s"] + comp.extra["decode_s"]
        assert parts == pytest.approx(comp.latency_s, rel=0.05, abs=0.005)
    # the second prompt is longer; padding is not counted
    assert comps[1].prompt_tokens != comps[0].prompt_tokens


@pytest.mark.parametrize("family", FAMILIES)
def test_batched_greedy_output_equals_one_by_one(
    family: Family, loaded: dict[Family, TransformersVLM]
) -> None:
    """Left padding must not change what a request gets (fp32, greedy)."""
    model = loaded[family]
    reqs = batch_of_two()
    together = model.generate(reqs)
    alone = [model.generate([r])[0] for r in reqs]
    assert [c.text for c in together] == [c.text for c in alone]
    assert [c.prompt_tokens for c in together] == [c.prompt_tokens for c in alone]
    assert [c.completion_tokens for c in together] == [c.completion_tokens for c in alone]
    assert all(c.extra["batch_size"] == 1 for c in alone)


def test_max_batch_splits_into_several_calls_and_keeps_order(
    tiny_folders: dict[Family, Path],
) -> None:
    model = TransformersVLM(str(tiny_folders["qwen2_5_vl"]), GAZE, max_batch=2)
    sizes = [(56, 56), (112, 56), (84, 84), (56, 112), (112, 112)]
    comps = model.generate([request(s, f"image {i}") for i, s in enumerate(sizes)])
    assert [c.extra["image_tokens"] for c in comps] == [
        expected_image_tokens("qwen2_5_vl", s) for s in sizes
    ]
    assert [c.extra["batch_size"] for c in comps] == [2, 2, 2, 2, 1]


@pytest.mark.parametrize("family", FAMILIES)
def test_a_text_only_request_shares_a_batch_with_an_image_request(
    family: Family, loaded: dict[Family, TransformersVLM]
) -> None:
    text_only = ModelRequest(messages=(Message("user", "Goal: say done"),), max_new_tokens=12)
    comps = loaded[family].generate([text_only, request((56, 56), "Goal: click")])
    assert [c.extra["image_tokens"] for c in comps] == [0, expected_image_tokens(family, (56, 56))]
    assert all(c.completion_tokens > 0 for c in comps)


@pytest.mark.parametrize("family", FAMILIES)
def test_forced_answer_parses_to_a_click_at_the_right_viewport_point(
    family: Family, tiny_folder: FolderFactory
) -> None:
    model = TransformersVLM(str(tiny_folder(family, forced="click(123, 456)")), GAZE)
    # a 500x700 image of the viewport rectangle x 40..1040, y 20..720: x doubles, y is kept
    frame = Frame(region_x=40, region_y=20, region_w=1000, region_h=700, image_w=500, image_h=700)
    comps = model.generate(
        [request((500, 700), "Goal: go", frame=frame), request((84, 84), "another", frame=frame)]
    )
    assert [c.text for c in comps] == ["click(123, 456)"] * 2
    # click ( 123 , ␣456 ) <end of turn>: the end token is counted, padding is not
    assert [c.completion_tokens for c in comps] == [7, 7]
    parsed = parse(comps[0].text, frame, "gaze")
    assert isinstance(parsed, Parsed)
    assert parsed.actions == (Click(x=40 + 123 * 2, y=20 + 456),)


def test_stop_strings_end_generation_and_cut_the_text(tiny_folder: FolderFactory) -> None:
    model = TransformersVLM(str(tiny_folder("qwen2_5_vl", forced="click(123, 456)")), GAZE)
    comp = model.generate([request((56, 56), "go", stop=(", ",), max_new_tokens=20)])[0]
    assert comp.text == "click(123"
    assert comp.completion_tokens == 5  # stopped once " 456" completed ", "


def test_sampling_profile_runs(tiny_folder: FolderFactory) -> None:
    warm = dataclasses.replace(GAZE, temperature=0.7)
    model = TransformersVLM(str(tiny_folder("qwen2_vl", forced="click(123, 456)")), warm)
    # the forced chain's logits lead by ~80, far beyond what temperature 0.7 can overturn
    assert model.generate([request((56, 56), "go")])[0].text == "click(123, 456)"


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_uitars_pixel_budget_keeps_a_1288x812_screenshot_at_1334_tokens(
    family: Family, tiny_folders: dict[Family, Path]
) -> None:
    """A 1280x800 viewport smart-resized by the profile reaches the model unchanged."""
    profile = get_profile("uitars-1.5")
    p = profile.image
    h, w = smart_resize(
        800, 1280, factor=p.factor, min_pixels=p.min_pixels, max_pixels=p.max_pixels
    )
    assert (w, h) == (1288, 812)
    model = TransformersVLM(str(tiny_folders[family]), profile)
    comp = model.generate([request((w, h), "go", max_new_tokens=2)])[0]
    assert comp.extra["image_tokens"] == (1288 // 14) * (812 // 14) // 4 == 1334
    # the folder's own budget (16 tokens at most) would have shrunk it: the profile's applies
    assert loaded_tokens(tiny_folders[family], (w, h)) <= 16


def loaded_tokens(folder: Path, size: tuple[int, int]) -> int:
    model = TransformersVLM(str(folder), GAZE)
    return int(model.generate([request(size, "go", max_new_tokens=1)])[0].extra["image_tokens"])


def test_profile_with_another_patch_grid_is_refused(tiny_folders: dict[Family, Path]) -> None:
    profile = get_profile("uitars-1.5")
    wrong = dataclasses.replace(profile, image=dataclasses.replace(profile.image, factor=32))
    with pytest.raises(ModelError, match="multiples of 32"):
        TransformersVLM(str(tiny_folders["qwen2_5_vl"]), wrong)


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_qwen_folder_loads_with_an_image_only_processor(
    family: Family, tiny_folders: dict[Family, Path]
) -> None:
    folder = tiny_folders[family]
    processor = image_only_processor(folder, family)
    assert type(processor).__name__.endswith("ImageOnly")
    assert processor.chat_template == QWEN_TEMPLATE
    assert getattr(processor, "video_processor", None) is None
    assert "Qwen2VLImageProcessor" in type(processor.image_processor).__name__
    if NO_TORCHVISION:  # then AutoProcessor cannot build the video processor ...
        with pytest.raises(ImportError, match="orchvision"):
            AutoProcessor.from_pretrained(folder)
        # ... and the backend falls back on its own
        model = TransformersVLM(str(folder), GAZE)
        assert type(model.processor).__name__.endswith("ImageOnly")


@pytest.mark.parametrize("family", ["qwen2_vl", "qwen2_5_vl"])
def test_folder_with_the_published_tokenizer_class_loads(family: Family, tmp_path: Path) -> None:
    """tokenizer_class Qwen2Tokenizer, preprocessor_config.json, chat_template.json: as on the hub."""
    folder = build(family, tmp_path / family, qwen2_tokenizer=True)
    model = TransformersVLM(str(folder), get_profile("uitars-1.5"))
    assert type(model.tokenizer).__name__ == "Qwen2Tokenizer"
    # 280 x 280 = the profile's min_pixels (100 * 28 * 28): 20 x 20 patches, 100 tokens
    comp = model.generate([request((280, 280), "Goal: 1288 x 812", max_new_tokens=3)])[0]
    assert comp.extra["image_tokens"] == 100 and comp.completion_tokens > 0


def test_hub_id_while_offline_fails_fast_with_download_advice() -> None:
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as err:
        TransformersVLM("ByteDance-Seed/UI-TARS-1.5-7B-nonexistent", GAZE)
    assert time.perf_counter() - t0 < 5
    message = str(err.value)
    assert "HF_HUB_OFFLINE" in message and "local folder" in message
    assert "download ByteDance-Seed/UI-TARS-1.5-7B-nonexistent" in message


def test_missing_folder_and_non_model_folder_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model folder"):
        TransformersVLM(str(tmp_path / "absent"), GAZE)
    with pytest.raises(ModelError, match=r"no config\.json"):
        TransformersVLM(str(tmp_path), GAZE)


def test_float16_is_refused_for_qwen2_5_vl(tiny_folders: dict[Family, Path]) -> None:
    with pytest.raises(ModelError, match="float16"):
        TransformersVLM(str(tiny_folders["qwen2_5_vl"]), GAZE, dtype="float16")


def test_bad_input_is_a_model_error(loaded: dict[Family, TransformersVLM]) -> None:
    """An image placeholder whose image never arrives: the processor's complaint, readable."""
    bad = ModelRequest(messages=(Message("user", "<|image_pad|> where is my image?"),))
    with pytest.raises(ModelError, match="qwen2_5_vl"):
        loaded["qwen2_5_vl"].generate([bad])
