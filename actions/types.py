"""The shared vocabulary: actions, their results, and what the agent observes.

Contract:
- Every coordinate in this module is in **viewport CSS pixels** (origin at the top-left of the
  visible viewport, the same units as ``page.mouse.click``). Model-space coordinates never appear
  here; ``perception.frames.Frame`` converts them before an Action is built.
- ``Action`` is a pydantic discriminated union on ``kind``; every member is frozen and forbids extra
  fields, so an Action read back from a log is exactly the Action that was executed.
- ``ActionResult`` is how the hands report back: failures are data (``ok=False`` plus a sentence
  the model can read), never exceptions.

This module is a leaf: it imports neither Playwright, PIL nor torch, so everything may import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

if TYPE_CHECKING:  # PIL is only a type here; importing it is the caller's business
    from PIL.Image import Image


class _Frozen(BaseModel):
    # allow_inf_nan=False: a NaN or infinite coordinate is a validation error, never a click.
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class _Point(_Frozen):
    x: float = Field(description="viewport CSS px from the left edge")
    y: float = Field(description="viewport CSS px from the top edge")


class Click(_Point):
    """Left-click once at (x, y)."""

    kind: Literal["click"] = "click"


class DoubleClick(_Point):
    """Double-click at (x, y)."""

    kind: Literal["double_click"] = "double_click"


class RightClick(_Point):
    """Right-click (context menu) at (x, y)."""

    kind: Literal["right_click"] = "right_click"


class Hover(_Point):
    """Move the mouse to (x, y) without clicking (opens hover menus)."""

    kind: Literal["hover"] = "hover"


class Drag(_Frozen):
    """Press at (x, y), move to (to_x, to_y), release."""

    kind: Literal["drag"] = "drag"
    x: float
    y: float
    to_x: float
    to_y: float


class Type(_Frozen):
    """Type text into whatever has keyboard focus; ``submit`` presses Enter afterwards.
    ``replace``: when the focus is in a text field the agent has not typed into before (on this
    page), its text is selected first (Ctrl+A, Cmd+A on macOS), so a prefilled value is typed
    over; text the agent typed itself is kept and added to ("Ur", then "ay"), an empty field is
    typed into as without it, and with no text field focused nothing is selected. A model does
    not write it: the agent sets it for profiles whose typing replaces
    (``Profile.type_replaces``)."""

    kind: Literal["type"] = "type"
    text: str
    submit: bool = False
    replace: bool = False


class KeyPress(_Frozen):
    """Press a key or a combination, Playwright spelling joined by '+': 'Enter', 'Control+a'."""

    kind: Literal["key"] = "key"
    keys: str = Field(min_length=1)


class Scroll(_Point):
    """Turn the mouse wheel at (x, y) by (dx, dy) CSS px; the element under the point scrolls."""

    kind: Literal["scroll"] = "scroll"
    dx: float = 0.0
    dy: float = 0.0


class Navigate(_Frozen):
    """Load a URL in the current tab."""

    kind: Literal["navigate"] = "navigate"
    url: str = Field(min_length=1)


class Back(_Frozen):
    """Go back one entry in the tab's history."""

    kind: Literal["back"] = "back"


class Wait(_Frozen):
    """Do nothing for a while (pages that are still loading or animating)."""

    kind: Literal["wait"] = "wait"
    seconds: float = Field(default=1.0, ge=0.0, le=60.0)


class Done(_Frozen):
    """The goal is reached; ``answer`` carries the reply when the goal asked a question."""

    kind: Literal["done"] = "done"
    answer: str | None = None


class GiveUp(_Frozen):
    """The model declares the goal impossible."""

    kind: Literal["give_up"] = "give_up"
    reason: str = ""


class AskUser(_Frozen):
    """The model needs a person (a password, a CAPTCHA, a choice it should not make)."""

    kind: Literal["ask_user"] = "ask_user"
    question: str = ""


Action = Annotated[
    Click
    | DoubleClick
    | RightClick
    | Hover
    | Drag
    | Type
    | KeyPress
    | Scroll
    | Navigate
    | Back
    | Wait
    | Done
    | GiveUp
    | AskUser,
    Field(discriminator="kind"),
]
ACTION_ADAPTER: TypeAdapter[Action] = TypeAdapter(Action)

PointerAction = Click | DoubleClick | RightClick | Hover
POINTER_ACTIONS: dict[str, type[PointerAction]] = {
    "click": Click,
    "double_click": DoubleClick,
    "right_click": RightClick,
    "hover": Hover,
}

# Actions that end a goal instead of touching the page.
TERMINAL_KINDS = frozenset({"done", "give_up", "ask_user"})


def action_from_json(data: str | bytes) -> Action:
    """Parse an Action from its JSON form (raises pydantic.ValidationError)."""
    return ACTION_ADAPTER.validate_json(data)


def action_to_dict(action: Action) -> dict[str, object]:
    return action.model_dump(mode="json")


def describe(action: Action) -> str:
    """One short human line for consoles and prompts, e.g. ``click (412, 133)``. A ``Type``'s
    ``replace`` is left out: prompts quote the line back to the model as what it wrote."""
    d = action.model_dump(exclude={"kind", "replace"})
    parts = []
    for key, value in d.items():
        if isinstance(value, float):
            value = round(value, 1)
            value = int(value) if value == int(value) else value
        parts.append(f"{key}={value!r}")
    return f"{action.kind}({', '.join(parts)})"


class ActionResult(_Frozen):
    """What executing one action did. ``error`` is written for the model to read."""

    ok: bool
    error: str | None = None
    notes: tuple[str, ...] = Field(
        default=(), description="side effects worth telling the model: dialogs, new tabs, downloads"
    )
    duration_s: float = 0.0

    @classmethod
    def success(cls, *notes: str, duration_s: float = 0.0) -> ActionResult:
        return cls(ok=True, notes=tuple(notes), duration_s=duration_s)

    @classmethod
    def failure(cls, error: str, *notes: str, duration_s: float = 0.0) -> ActionResult:
        return cls(ok=False, error=error, notes=tuple(notes), duration_s=duration_s)


class DialogInfo(_Frozen):
    """A JavaScript dialog that is open and waiting (alert, confirm, prompt, beforeunload)."""

    type: Literal["alert", "confirm", "prompt", "beforeunload"]
    message: str
    default_value: str = ""


@dataclass(frozen=True)
class Observation:
    """What the agent sees at one step.

    ``screenshot`` is the viewport at CSS scale (``viewport_w`` x ``viewport_h`` pixels) unless the
    environment was asked for device-scale captures, in which case it is DPR times larger; either
    way ``screenshot_scale`` says how many image pixels make one CSS pixel.
    """

    screenshot: Image
    url: str
    title: str
    viewport_w: int
    viewport_h: int
    device_scale_factor: float
    screenshot_scale: float = 1.0
    dialog: DialogInfo | None = None
    tabs: int = 1
    notes: tuple[str, ...] = field(default=())
    # The screenshot as the browser encoded it (saved to logs without re-encoding), if available.
    encoded: bytes | None = field(default=None, repr=False)
    encoded_format: Literal["png", "jpeg"] = "png"
