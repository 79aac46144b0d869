"""Chat rendering shared by backends: a ``ModelRequest`` as OpenAI-style or processor-style messages.

Contract:
- ``openai_messages`` gives the ``messages`` array of ``/v1/chat/completions``: images as base64
  ``data:`` URLs, placed before the text of their message, exactly as the request orders them.
- ``processor_messages`` gives the list ``processor.apply_chat_template`` takes (``{"type":
  "image"}`` placeholders) and the images in the same order, for in-process backends.
- Images are sent at the size the request carries: tiling already resized them to the profile's
  fixed point (e.g. smart_resize), so a server's or processor's own resize leaves them unchanged and
  the Frames stay exact.

Pure data shaping: no network, no torch.
"""

from __future__ import annotations

import base64
import io
from typing import Literal

from PIL.Image import Image

from perception.model import ModelRequest

ImageFormat = Literal["png", "jpeg"]
ContentPart = dict[str, object]
ChatMessage = dict[str, object]


def encode_image(image: Image, fmt: ImageFormat = "png", quality: int = 90) -> bytes:
    buf = io.BytesIO()
    rgb = image.convert("RGB") if image.mode not in ("RGB", "L") else image
    if fmt == "jpeg":
        rgb.save(buf, format="JPEG", quality=quality)
    else:
        rgb.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def data_url(image: Image, fmt: ImageFormat = "png", quality: int = 90) -> str:
    mime = "image/jpeg" if fmt == "jpeg" else "image/png"
    b64 = base64.b64encode(encode_image(image, fmt, quality)).decode("ascii")
    return f"data:{mime};base64,{b64}"


def openai_messages(
    request: ModelRequest, fmt: ImageFormat = "png", quality: int = 90
) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for m in request.messages:
        if not m.images:
            out.append({"role": m.role, "content": m.text})
            continue
        parts: list[ContentPart] = [
            {"type": "image_url", "image_url": {"url": data_url(i.image, fmt, quality)}}
            for i in m.images
        ]
        if m.text:
            parts.append({"type": "text", "text": m.text})
        out.append({"role": m.role, "content": parts})
    return out


def processor_messages(request: ModelRequest) -> tuple[list[ChatMessage], list[Image]]:
    msgs: list[ChatMessage] = []
    images: list[Image] = []
    for m in request.messages:
        parts: list[ContentPart] = []
        for i in m.images:
            parts.append({"type": "image"})
            images.append(i.image)
        if m.text:
            parts.append({"type": "text", "text": m.text})
        msgs.append({"role": m.role, "content": parts})
    return msgs, images
