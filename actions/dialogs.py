"""JavaScript dialogs made visible: draw an open alert/confirm/prompt onto the screenshot.

Why: while a native dialog is open Chromium can neither take a screenshot nor run scripts, and
headless Chromium never paints the dialog anyway. A vision-only agent must still *see* it, so the
environment keeps the last screenshot and this module paints a dialog box over it, with buttons at
known places. ``DialogLayout.hit`` tells which button a click lands on.

Contract: geometry is in viewport CSS px (the image is scaled by ``scale`` image px per CSS px).
Pure PIL; no Playwright.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageDraw, ImageFont

from actions.types import DialogInfo

Box = tuple[float, float, float, float]  # x, y, w, h in CSS px

_W, _PAD, _BTN_W, _BTN_H, _LINE_H = 440.0, 20.0, 96.0, 34.0, 20.0


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("LiberationSans-Regular.ttf", "DejaVuSans.ttf", "Arial.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size)


@dataclass(frozen=True)
class DialogLayout:
    box: Box
    lines: tuple[str, ...]
    ok: Box
    cancel: Box | None
    field: Box | None  # the prompt's text field

    def hit(self, x: float, y: float) -> Literal["ok", "cancel", "field", "inside", "outside"]:
        def inside(b: Box | None) -> bool:
            return b is not None and b[0] <= x <= b[0] + b[2] and b[1] <= y <= b[1] + b[3]

        if inside(self.ok):
            return "ok"
        if inside(self.cancel):
            return "cancel"
        if inside(self.field):
            return "field"
        return "inside" if inside(self.box) else "outside"


def layout(dialog: DialogInfo, viewport_w: int, viewport_h: int) -> DialogLayout:
    title = "This page says" if dialog.type != "beforeunload" else "Leave site?"
    body = dialog.message or (
        "Changes you made may not be saved." if dialog.type == "beforeunload" else ""
    )
    lines = [title, *textwrap.wrap(body, 52)[:8]]
    w = min(_W, viewport_w - 20.0)
    h = _PAD * 2 + _LINE_H * len(lines) + 12 + _BTN_H + (40.0 if dialog.type == "prompt" else 0.0)
    x, y = (viewport_w - w) / 2, max(10.0, viewport_h * 0.18)
    field = None
    cursor = y + _PAD + _LINE_H * len(lines) + 6
    if dialog.type == "prompt":
        field = (x + _PAD, cursor, w - 2 * _PAD, 30.0)
        cursor += 40.0
    btn_y = cursor + 6
    ok = (x + w - _PAD - _BTN_W, btn_y, _BTN_W, _BTN_H)
    cancel = None
    if dialog.type != "alert":
        cancel = (ok[0] - 10 - _BTN_W, btn_y, _BTN_W, _BTN_H)
    return DialogLayout(box=(x, y, w, h), lines=tuple(lines), ok=ok, cancel=cancel, field=field)


def render(
    screenshot: Image.Image, dialog: DialogInfo, lay: DialogLayout, scale: float, prompt_text: str
) -> Image.Image:
    """The screenshot dimmed, with the dialog box painted on top (a new image)."""
    base = screenshot.convert("RGB")
    shade = Image.new("RGB", base.size, (0, 0, 0))
    img = Image.blend(base, shade, 0.35)
    d = ImageDraw.Draw(img)

    def px(b: Box) -> tuple[float, float, float, float]:
        return (b[0] * scale, b[1] * scale, (b[0] + b[2]) * scale, (b[1] + b[3]) * scale)

    font, bold = _font(round(14 * scale)), _font(round(15 * scale))
    d.rounded_rectangle(
        px(lay.box), radius=8 * scale, fill=(255, 255, 255), outline=(120, 120, 120)
    )
    x, y = lay.box[0] + _PAD, lay.box[1] + _PAD
    for i, line in enumerate(lay.lines):
        d.text(
            (x * scale, (y + i * _LINE_H) * scale),
            line,
            fill=(20, 20, 20),
            font=bold if i == 0 else font,
        )
    if lay.field is not None:
        d.rectangle(
            px(lay.field),
            fill=(255, 255, 255),
            outline=(26, 115, 232),
            width=max(1, round(2 * scale)),
        )
        d.text(
            ((lay.field[0] + 6) * scale, (lay.field[1] + 7) * scale),
            prompt_text or dialog.default_value,
            fill=(20, 20, 20),
            font=font,
        )
    buttons = [(lay.ok, "OK" if dialog.type != "beforeunload" else "Leave", True)]
    if lay.cancel is not None:
        buttons.append((lay.cancel, "Cancel" if dialog.type != "beforeunload" else "Stay", False))
    for box, label, primary in buttons:
        fill, ink = (
            ((26, 115, 232), (255, 255, 255)) if primary else ((255, 255, 255), (26, 115, 232))
        )
        d.rounded_rectangle(px(box), radius=6 * scale, fill=fill, outline=(26, 115, 232))
        tw = d.textlength(label, font=font)
        d.text(
            ((box[0] + box[2] / 2) * scale - tw / 2, (box[1] + 9) * scale),
            label,
            fill=ink,
            font=font,
        )
    return img
