"""Screenshot tiling: turn one observation into the image(s) a model sees, each with its Frame.

Contract:
- Input is an ``Observation`` (screenshot at ``screenshot_scale`` image px per CSS px). Output is a
  list of ``TiledImage`` whose ``frame`` maps the tile's pixels back to viewport CSS px exactly.
- Three shapes: ``whole`` (the full viewport resized by an ``ImagePolicy``), ``grid`` (overlapping
  tiles covering the viewport, plus a global thumbnail first), and ``zoom`` (a crop centred on a
  point, clamped inside the viewport).
- Resizing uses one policy type: keep size, a fixed size, a longest-side cap, or Qwen's smart_resize.

It does not decide *which* shape a model gets (profiles do) nor read any model output.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from PIL import Image

from actions.types import Observation
from perception.frames import CoordinateSpace, Frame


def smart_resize(
    height: int,
    width: int,
    *,
    factor: int = 28,
    min_pixels: int = 56 * 56,
    max_pixels: int = 14 * 14 * 4 * 16384,
) -> tuple[int, int]:
    """Qwen2-VL / Qwen2.5-VL / UI-TARS-1.5 resize rule -> (height, width), multiples of ``factor``.

    Matches transformers' ``qwen2_vl.image_processing_qwen2_vl.smart_resize`` (round half to even,
    as Python's ``round``), e.g. 800x1280 -> 812x1288.
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"aspect ratio over 200 is not supported: {width}x{height}")
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@dataclass(frozen=True)
class ImagePolicy:
    """How an image is resized before a model sees it.

    mode:
      - ``keep``: the crop at CSS scale (one image px per CSS px).
      - ``native``: the crop at the resolution it was captured at (DPR px per CSS px for
        device-scale screenshots), i.e. no resampling at all.
      - ``fixed``: exactly ``width`` x ``height``.
      - ``max_side``: scale so the longest side is at most ``max_side`` (never upscaled).
      - ``smart_resize``: Qwen's rule with ``factor``/``min_pixels``/``max_pixels``, applied to the
        CSS-scale size (what the model's processor would do to a CSS-scale screenshot).
    """

    mode: Literal["keep", "native", "fixed", "max_side", "smart_resize"] = "keep"
    width: int = 0
    height: int = 0
    max_side: int = 0
    factor: int = 28
    min_pixels: int = 100 * 28 * 28
    max_pixels: int = 16384 * 28 * 28

    def target_size(self, css_w: float, css_h: float, scale: float = 1.0) -> tuple[int, int]:
        """(width, height) in image px for a region of ``css_w`` x ``css_h`` CSS px captured at
        ``scale`` image px per CSS px."""
        w, h = max(1, round(css_w)), max(1, round(css_h))
        match self.mode:
            case "keep":
                return w, h
            case "native":
                return max(1, round(css_w * scale)), max(1, round(css_h * scale))
            case "fixed":
                return self.width, self.height
            case "max_side":
                s = min(1.0, self.max_side / max(w, h))
                return max(1, round(w * s)), max(1, round(h * s))
            case "smart_resize":
                hh, ww = smart_resize(
                    h, w, factor=self.factor, min_pixels=self.min_pixels, max_pixels=self.max_pixels
                )
                return ww, hh


@dataclass(frozen=True)
class TiledImage:
    """One image for the model and the Frame that maps it to the viewport."""

    image: Image.Image
    frame: Frame
    label: str = "screen"


def crop(
    obs: Observation,
    region: tuple[float, float, float, float],
    policy: ImagePolicy,
    space: CoordinateSpace = "pixels",
    label: str = "crop",
) -> TiledImage:
    """Cut ``region`` (x, y, w, h in CSS px, inside the viewport) out of the screenshot and resize.

    The crop box is snapped to whole screenshot pixels and the Frame records the snapped region,
    so the mapping stays exact even at fractional device scale factors.
    """
    x, y, w, h = region
    s = obs.screenshot_scale
    left, top = round(x * s), round(y * s)
    right = min(obs.screenshot.width, round((x + w) * s))
    bottom = min(obs.screenshot.height, round((y + h) * s))
    if right <= left or bottom <= top:
        raise ValueError(
            f"empty crop region {region} for a {obs.viewport_w}x{obs.viewport_h} viewport"
        )
    rx, ry, rw, rh = left / s, top / s, (right - left) / s, (bottom - top) / s
    tw, th = policy.target_size(rw, rh, s)
    box = (left, top, right, bottom)
    if (tw, th) != (right - left, bottom - top):
        piece = obs.screenshot.resize((tw, th), Image.Resampling.BICUBIC, box=box)
    elif box == (0, 0, *obs.screenshot.size):
        piece = obs.screenshot  # the whole screenshot as captured: no copy (images are not mutated)
    else:
        piece = obs.screenshot.crop(box)
    frame = Frame(
        region_x=rx, region_y=ry, region_w=rw, region_h=rh, image_w=tw, image_h=th, space=space
    )
    return TiledImage(image=piece, frame=frame, label=label)


def whole(obs: Observation, policy: ImagePolicy, space: CoordinateSpace = "pixels") -> TiledImage:
    """The full viewport as one image."""
    return crop(obs, (0, 0, obs.viewport_w, obs.viewport_h), policy, space, label="screen")


def _starts(total: float, tile: float, overlap: float) -> list[float]:
    """Tile origins covering [0, total): evenly spread, each pair overlapping by >= ``overlap``."""
    if tile >= total:
        return [0.0]
    n = math.ceil((total - overlap) / (tile - overlap))
    step = (total - tile) / (n - 1)
    return [round(i * step, 3) for i in range(n)]


def grid(
    obs: Observation,
    *,
    tile_w: int,
    tile_h: int,
    overlap: int = 64,
    policy: ImagePolicy | None = None,
    thumbnail: ImagePolicy | None = None,
    space: CoordinateSpace = "pixels",
) -> list[TiledImage]:
    """A global thumbnail followed by overlapping ``tile_w`` x ``tile_h`` CSS-px tiles, row-major.

    Edge tiles are shifted inwards (never padded), so every tile is full size and lies inside the
    viewport; neighbouring tiles overlap by at least ``overlap`` CSS px.
    """
    if overlap >= min(tile_w, tile_h):
        raise ValueError("overlap must be smaller than the tile")
    policy = policy or ImagePolicy()
    thumb_policy = thumbnail or ImagePolicy(mode="max_side", max_side=max(tile_w, tile_h))
    out = [
        crop(obs, (0, 0, obs.viewport_w, obs.viewport_h), thumb_policy, space, label="thumbnail")
    ]
    tw, th = min(tile_w, obs.viewport_w), min(tile_h, obs.viewport_h)
    for r, y in enumerate(_starts(obs.viewport_h, th, overlap)):
        for c, x in enumerate(_starts(obs.viewport_w, tw, overlap)):
            out.append(crop(obs, (x, y, tw, th), policy, space, label=f"tile r{r} c{c}"))
    return out


def zoom(
    obs: Observation,
    x: float,
    y: float,
    *,
    region_w: float,
    region_h: float,
    policy: ImagePolicy | None = None,
    space: CoordinateSpace = "pixels",
) -> TiledImage:
    """A ``region_w`` x ``region_h`` CSS-px crop centred on (x, y), shifted to stay in the viewport."""
    rw, rh = min(region_w, obs.viewport_w), min(region_h, obs.viewport_h)
    left = min(max(0.0, x - rw / 2), obs.viewport_w - rw)
    top = min(max(0.0, y - rh / 2), obs.viewport_h - rh)
    return crop(
        obs, (left, top, rw, rh), policy or ImagePolicy(), space, label=f"zoom @({x:.0f},{y:.0f})"
    )
