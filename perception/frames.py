"""Coordinate frames: how a point in an image the model saw maps back to the viewport.

Contract:
- A ``Frame`` describes one image sent to a model: the viewport rectangle it shows (``region_*``, CSS
  px), its size in pixels (``image_w`` x ``image_h``) and the coordinate space the model answers in
  (absolute image pixels, 0-1000 relative, or 0-1 relative).
- ``to_viewport`` and ``from_viewport`` are exact inverses up to float rounding, per axis: X and Y are
  scaled separately because resizes such as smart_resize change the aspect ratio slightly.
- Device pixel ratio never appears here: the region is in CSS px whatever resolution the screenshot
  was captured at, so a HiDPI capture only changes ``image_w``/``image_h`` and is mapped back for free.

It does not know about any model's text format (see ``perception.parsers``) nor about pixels'
contents (see ``perception.tiling``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CoordinateSpace = Literal["pixels", "rel1000", "rel1"]

# The value of a full axis in each relative space.
_SPACE_EXTENT: dict[str, float] = {"rel1000": 1000.0, "rel1": 1.0}


class Frame(BaseModel):
    """An image's placement in the viewport, and the space the model's numbers are in."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region_x: float = Field(description="viewport CSS px of the image's left edge")
    region_y: float = Field(description="viewport CSS px of the image's top edge")
    region_w: float = Field(gt=0, description="viewport CSS px the image spans horizontally")
    region_h: float = Field(gt=0, description="viewport CSS px the image spans vertically")
    image_w: int = Field(gt=0, description="pixel width of the image the model saw")
    image_h: int = Field(gt=0, description="pixel height of the image the model saw")
    space: CoordinateSpace = "pixels"

    def _extent(self) -> tuple[float, float]:
        """Model-space size of the whole image along x and y."""
        if self.space == "pixels":
            return float(self.image_w), float(self.image_h)
        e = _SPACE_EXTENT[self.space]
        return e, e

    def to_viewport(self, mx: float, my: float) -> tuple[float, float]:
        """Model-space point -> viewport CSS px."""
        ex, ey = self._extent()
        return (
            self.region_x + mx / ex * self.region_w,
            self.region_y + my / ey * self.region_h,
        )

    def from_viewport(self, x: float, y: float) -> tuple[float, float]:
        """Viewport CSS px -> model-space point (the inverse of ``to_viewport``)."""
        ex, ey = self._extent()
        return (
            (x - self.region_x) / self.region_w * ex,
            (y - self.region_y) / self.region_h * ey,
        )

    def contains_viewport(self, x: float, y: float) -> bool:
        """Whether a viewport point lies inside the region this image shows."""
        return (
            self.region_x <= x <= self.region_x + self.region_w
            and self.region_y <= y <= self.region_y + self.region_h
        )

    def with_space(self, space: CoordinateSpace) -> Frame:
        return self.model_copy(update={"space": space})

    def scale_to_viewport(self) -> tuple[float, float]:
        """CSS px per image pixel along x and y (for drawing and for distances)."""
        return self.region_w / self.image_w, self.region_h / self.image_h
