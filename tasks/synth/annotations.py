"""What a rendered screen holds, as the DOM describes it: boxes, elements, the annotation.

Contract: plain pydantic models (viewport CSS px), with no browser behind them, so that reading a
dataset (``tasks.synth.shards``, the trainer) needs no Playwright; ``tasks.synth.render`` fills
them from Chromium.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Box(BaseModel):
    """A rectangle in viewport CSS px."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    x: float
    y: float
    w: float
    h: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def contains(self, x: float, y: float, *, slack: float = 0.0) -> bool:
        return (
            self.x - slack <= x <= self.x + self.w + slack
            and self.y - slack <= y <= self.y + self.h + slack
        )


class Element(BaseModel):
    """One visible element as the DOM describes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    gid: str
    tag: str  # lower-case tag name
    role: str  # explicit role, else one implied by the tag ("button", "link", "textbox", ...)
    text: str  # its own visible text (not that of descendants with their own gid); inputs: value
    name: str  # accessible-ish name: aria-label, its label's text, placeholder or title
    box: Box  # visible part, clipped to the viewport and to scrolling ancestors
    point: tuple[float, float]  # a point inside ``box`` that hit-tests to this element
    exact: bool  # the hit at ``point`` is this element itself, not a descendant with a gid
    clipped: bool  # part of the element is cut off (viewport edge or scrolling ancestor)
    scroller: str | None  # gid of the nearest scrollable ancestor with a gid
    input_type: str | None = None
    value: str | None = None  # inputs, textareas and selects (password values in clear)
    checked: bool | None = None  # checkboxes, radios, switches
    selected: bool | None = None  # tabs (aria-selected)
    expanded: bool | None = None  # menu openers (aria-expanded)
    disabled: bool = False
    focused: bool = False


class Annotation(BaseModel):
    """Everything visible on one rendered screen."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    viewport_w: int
    viewport_h: int
    dpr: float
    scroll_x: float
    scroll_y: float
    page_w: float  # scrollable document size, CSS px
    page_h: float
    elements: tuple[Element, ...]

    def get(self, gid: str) -> Element | None:
        return next((e for e in self.elements if e.gid == gid), None)
