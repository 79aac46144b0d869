"""One training sample: an image, a prompt and the target text, with everything needed to check it.

Contract:
- ``Sample`` is what one line of a shard's ``samples.jsonl`` holds (frozen pydantic, extra fields
  forbidden). ``image`` is a path relative to the shard folder; ``frame`` maps that image's pixels
  to the viewport in CSS px, so ``perception.parsers.parse(target, frame, "gaze")`` turns an action
  target back into ``action`` (viewport CSS px) exactly. A trainer that resizes or tiles the image
  rewrites the target with ``format_action(action, new_frame, dialect)``.
- Coordinates written in ``prompt`` and ``target`` are integer pixels of the stored image (device
  pixels: a 1280x800 page at DPR 2 is a 2560x1600 image), counted from its top-left corner.
- ``Screen`` is one rendered screenshot with its annotation; several samples share one screen.

It does not read or write files (``tasks.synth.shards`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from actions.types import Action
from perception.frames import Frame
from perception.parsers.base import Dialect
from tasks.synth.annotations import Annotation, Box
from tasks.synth.vocab import Split

SampleKind = Literal["alignment", "demo"]
DIALECT: Dialect = "gaze"  # the dialect every target is written in


class HistoryStep(BaseModel):
    """One earlier step of a demonstration, as ``perception.prompts.HistoryItem`` holds it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reply: str  # the target text of that step (image px of that step's screenshot)
    summary: str  # ``actions.types.describe`` of the action: viewport CSS px, as the agent logs it
    outcome: str = "ok"


class PageInfo(BaseModel):
    """Which generated page a sample comes from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    page_id: str
    template: str
    theme: str
    viewport_w: int
    viewport_h: int
    dpr: float


class Sample(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    kind: SampleKind
    task: str  # alignment: read_at_point, locate_text, ...; demo: the goal kind
    split: Split
    image: str  # relative to the shard folder, e.g. "images/p000012-0.png"
    image_w: int
    image_h: int
    frame: Frame
    prompt: str
    target: str
    action: Action | None = Field(
        default=None, description="the target as an Action in viewport CSS px, when it is one"
    )
    target_gid: str | None = None  # the element the target is about
    target_box: Box | None = None  # that element's visible box, viewport CSS px
    goal: str | None = None  # demos: the instruction
    history: tuple[HistoryStep, ...] = ()  # demos: the steps before this one
    step: int | None = None  # demos: 0-based index of this step
    page: PageInfo


@dataclass(frozen=True)
class Screen:
    """One screenshot (PNG bytes at device pixels) and what the DOM said about it."""

    name: str  # file stem, unique within the run: "p000012-0"
    png: bytes
    annotation: Annotation

    @property
    def image_path(self) -> str:
        return f"images/{self.name}.png"

    @property
    def image_size(self) -> tuple[int, int]:
        a = self.annotation
        return round(a.viewport_w * a.dpr), round(a.viewport_h * a.dpr)

    def frame(self) -> Frame:
        """Image pixels <-> viewport CSS px for this screenshot (coordinate space: pixels)."""
        a = self.annotation
        w, h = self.image_size
        return Frame(
            region_x=0,
            region_y=0,
            region_w=a.viewport_w,
            region_h=a.viewport_h,
            image_w=w,
            image_h=h,
        )
