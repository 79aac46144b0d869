"""Model profiles: everything that must agree between a model family, its prompt and its parser.

Contract: a ``Profile`` names the output dialect (which parser reads the text), the coordinate space
the numbers are in, how screenshots are resized before the model sees them, how many screenshots of
history it gets, and the prompt template. Choosing the wrong space is the classic zero-accuracy bug,
so a profile always states it; nothing guesses it from the numbers. ``actions`` is the set of Action
kinds the model may use: what its dialect offers unless the profile narrows it; the policy refuses
any other kind as a parse error, so the model is told which ones it has.

This is the minimal set the loop needs; full per-family details (chat templates, decoding, dtype)
grow with the model backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from perception.frames import CoordinateSpace
from perception.parsers import dialect_actions
from perception.parsers.base import Dialect
from perception.tiling import ImagePolicy

GAZE_SYSTEM = """You are Gaze, an agent that operates a web browser by looking at screenshots.
Each turn you get the goal, your previous actions with their results, and a screenshot of the
browser viewport ({width}x{height} pixels). Coordinates are pixels of the screenshot, origin at the
top-left. Reply with one short thought line starting with "Thought:" and then exactly one action line
starting with "Action:".

## Actions
{action_space}"""

UITARS_SYSTEM = """You are a GUI agent. You are given a task and your action history, with screenshots. You need to perform the next action to complete the task.

## Output Format
Thought: ...
Action: ...

## Action Space
{action_space}

## Note
- Use English in `Thought` part.
- Write a small plan and finally summarize your next action (with its target element) in one sentence in `Thought` part."""

QWEN_SYSTEM = """You are a helpful assistant operating a web browser through the computer_use tool.
The screen's resolution is {width}x{height}.

# Tools
{action_space}"""

SHOWUI_SYSTEM = """You are an assistant trained to navigate the web. Given a task instruction, a screen observation, and an action history sequence, output the next action and wait for the next observation.
Coordinates are relative to the screenshot, between 0 and 1.
{action_space}"""


@dataclass(frozen=True)
class Profile:
    name: str
    dialect: Dialect
    space: CoordinateSpace
    image: ImagePolicy
    system_prompt: str
    history_images: int = 3  # screenshots in one request, the current one included
    history_text_steps: int = 20  # older steps summarised as text
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    temperature: float = 0.0  # 0 = greedy, as the grounding models' authors recommend
    # weights dtype on a GPU: Qwen2.5-VL produces '!!!!' garbage in float16, so never "float16"
    gpu_dtype: Literal["bfloat16", "float32"] = "bfloat16"
    match_ids: tuple[str, ...] = field(default=())  # substrings of model ids that pick this profile
    model_types: tuple[str, ...] = field(default=())  # config.json model_type values it fits
    notes: str = ""
    # Action kinds ("click", "navigate"...) the model may use; empty means all its dialect offers.
    actions: frozenset[str] = frozenset()
    # Its type() replaces what the focused field holds (actions.types.Type.replace): for a model
    # that was shown selecting a prefilled value first and does not do it (docs/BUILTIN.md)
    type_replaces: bool = False

    def __post_init__(self) -> None:
        offered = dialect_actions(self.dialect)
        if not self.actions:
            object.__setattr__(self, "actions", offered)  # frozen: fill the default once
        elif not self.actions <= offered:
            extra = ", ".join(sorted(self.actions - offered))
            raise ValueError(f"profile {self.name!r}: the {self.dialect} dialect has no {extra}")


QWEN_FACTOR = 28
_UITARS_IMAGE = ImagePolicy(
    mode="smart_resize", factor=QWEN_FACTOR, min_pixels=100 * 28 * 28, max_pixels=16384 * 28 * 28
)
_QWEN_IMAGE = ImagePolicy(
    mode="smart_resize", factor=QWEN_FACTOR, min_pixels=3136, max_pixels=12_845_056
)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="gaze",
            dialect="gaze",
            space="pixels",
            image=ImagePolicy(mode="keep"),
            system_prompt=GAZE_SYSTEM,
            notes="Gaze's own dialect: click(x, y) in screenshot pixels",
        ),
        Profile(
            name="gaze-builtin",
            dialect="gaze",
            space="pixels",
            image=ImagePolicy(mode="keep"),
            system_prompt=GAZE_SYSTEM,
            history_images=1,  # it reads one screenshot; earlier steps come as text
            max_new_tokens=48,
            match_ids=("gaze-builtin", "builtin:"),
            notes="Gaze's built-in model (perception/builtin): gaze dialect, pixels of its input; "
            "it tiles screens larger than its 224 px canvas itself; its typing replaces what "
            "the focused field holds",
            type_replaces=True,
        ),
        Profile(
            name="uitars-1.5",
            dialect="uitars",
            space="pixels",
            image=_UITARS_IMAGE,
            system_prompt=UITARS_SYSTEM,
            history_images=5,
            max_new_tokens=400,
            match_ids=("ui-tars-1.5", "uitars-1.5", "ui_tars_1.5"),
            notes="UI-TARS-1.5: absolute pixels of the smart-resized image",
        ),
        Profile(
            name="uitars-1.0",
            dialect="uitars",
            space="rel1000",
            image=_UITARS_IMAGE,
            system_prompt=UITARS_SYSTEM,
            history_images=5,
            max_new_tokens=400,
            match_ids=("ui-tars", "uitars"),
            notes="UI-TARS 1.0 and Doubao-style prompts: relative 0-1000",
        ),
        Profile(
            name="qwen2.5-vl",
            dialect="qwen_tool",
            space="pixels",
            image=_QWEN_IMAGE,
            system_prompt=QWEN_SYSTEM,
            max_new_tokens=256,
            match_ids=("qwen2.5-vl", "qwen2_5_vl", "qwen2.5vl"),
            model_types=("qwen2_5_vl",),
            notes="Qwen2.5-VL computer_use tool calls: absolute pixels of the resized image",
        ),
        Profile(
            name="showui",
            dialect="showui",
            space="rel1",
            image=ImagePolicy(mode="max_side", max_side=1344),
            system_prompt=SHOWUI_SYSTEM,
            history_images=1,
            match_ids=("showui", "seeclick"),
            notes="ShowUI / SeeClick: relative 0-1 floats",
        ),
        Profile(
            name="grounding-1000",
            dialect="point",
            space="rel1000",
            image=_QWEN_IMAGE,
            system_prompt="{action_space}",
            history_images=1,
            match_ids=("os-atlas", "uground", "qwen2-vl"),
            model_types=("qwen2_vl",),
            notes="single-shot grounding models (OS-Atlas, UGround): a point or box in 0-1000",
        ),
    )
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None


def profile_for_model(model_id: str) -> Profile | None:
    """The profile whose ``match_ids`` occur in ``model_id`` (longest match wins), or None."""
    low = model_id.lower()
    best: tuple[int, Profile] | None = None
    for p in PROFILES.values():
        for m in p.match_ids:
            if m in low and (best is None or len(m) > best[0]):
                best = (len(m), p)
    return best[1] if best else None
