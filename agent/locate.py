"""``gaze locate``: single-shot grounding — where in this image is the thing the instruction names?

Contract: ``locate(image, instruction, model, profile)`` shows the model one image (resized as the
profile says, with a Frame whose "viewport" is the image itself), asks it to point at the target,
parses the reply with the profile's dialect and returns a ``Located`` with the point in *image
pixels* of the input image — or the parse error. The command prints it as one JSON object and can
save a copy of the image with the point drawn. It executes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass

from PIL import Image, ImageDraw

from actions.types import Click, DoubleClick, Drag, Hover, Observation, RightClick, Scroll
from perception.model import Message, Model, ModelError, ModelImage, ModelRequest
from perception.parsers import action_space, parse
from perception.parsers.base import ParseError
from perception.profiles import Profile
from perception.tiling import whole

GROUNDING_PROMPT = """Find the element described by the instruction in the screenshot ({width}x{height} pixels) and point at it with a single action.

## Actions
{action_space}"""


@dataclass(frozen=True)
class Located:
    x: float | None  # image px of the input image
    y: float | None
    image_w: int
    image_h: int
    model: str
    profile: str
    reply: str
    error: str | None = None
    latency_s: float = 0.0


def _as_observation(image: Image.Image) -> Observation:
    """The image as if it were a viewport at CSS scale, so Frames map to its pixels."""
    return Observation(
        screenshot=image.convert("RGB"),
        url="",
        title="",
        viewport_w=image.width,
        viewport_h=image.height,
        device_scale_factor=1.0,
    )


def locate(image: Image.Image, instruction: str, model: Model, profile: Profile) -> Located:
    tile = whole(_as_observation(image), profile.image, profile.space)
    system = GROUNDING_PROMPT.format(
        width=tile.image.width, height=tile.image.height, action_space=action_space(profile.dialect)
    )
    request = ModelRequest(
        messages=(
            Message("system", system),
            Message("user", f"Instruction: {instruction}", (ModelImage(tile.image, tile.frame),)),
        ),
        max_new_tokens=profile.max_new_tokens,
        stop=profile.stop,
    )

    def result(
        x: float | None, y: float | None, reply: str, error: str | None, latency_s: float
    ) -> Located:
        return Located(
            x=None if x is None else round(x, 2),
            y=None if y is None else round(y, 2),
            image_w=image.width,
            image_h=image.height,
            model=model.name,
            profile=profile.name,
            reply=reply,
            error=error,
            latency_s=round(latency_s, 4),
        )

    try:
        completion = model.generate([request])[0]
    except ModelError as e:
        return result(None, None, "", f"the model failed: {e}", 0.0)
    text, latency = completion.text, completion.latency_s
    parsed = parse(text, tile.frame, profile.dialect)
    if isinstance(parsed, ParseError):
        return result(None, None, text, parsed.message, latency)
    for a in parsed.actions:
        if isinstance(a, (Click, DoubleClick, RightClick, Hover, Scroll, Drag)):
            return result(a.x, a.y, text, None, latency)
    return result(None, None, text, "the reply names no point", latency)


def draw_point(image: Image.Image, x: float, y: float) -> Image.Image:
    out = image.convert("RGB")
    d = ImageDraw.Draw(out)
    r = max(6, round(min(out.size) / 60))
    d.ellipse((x - r, y - r, x + r, y + r), outline=(224, 36, 94), width=max(2, r // 3))
    d.line((x - 2 * r, y, x + 2 * r, y), fill=(224, 36, 94), width=2)
    d.line((x, y - 2 * r, x, y + 2 * r), fill=(224, 36, 94), width=2)
    return out


def _load_image(source: str, viewport: tuple[int, int]) -> Image.Image:
    """An image file, or a screenshot of an http(s) URL / bundled ``site:`` page."""
    if source.startswith(("http://", "https://", "site:")):
        from actions.browser import BrowserEnv
        from actions.environment import BrowserConfig
        from tasks.server import SiteServer

        with SiteServer() as server, BrowserEnv() as env:
            cfg = BrowserConfig(viewport_w=viewport[0], viewport_h=viewport[1])
            started = env.reset(server.resolve_start(source), cfg)
            if not started.ok:
                raise ValueError(started.error or f"could not load {source}")
            return env.observe().screenshot
    try:
        with Image.open(source) as img:
            img.load()
            return img.copy()
    except OSError as e:
        raise ValueError(f"cannot read image {source}: {e}") from None


def cmd_locate(args: argparse.Namespace) -> int:
    from agent.console import err
    from agent.models import ModelSpecError, load_model

    try:
        if not (1 <= args.width <= 10_000 and 1 <= args.height <= 10_000):
            raise ValueError(
                f"--width/--height must be 1-10000 CSS px, not {args.width}x{args.height}"
            )
        model, profile = load_model(args.model, args.profile)
        image = _load_image(args.image, (args.width, args.height))
    except (ModelSpecError, ValueError) as e:
        err.print(f"[red]error:[/red] {e}", highlight=False)
        return 2
    found = locate(image, args.instruction, model, profile)
    sys.stdout.write(json.dumps(asdict(found)) + "\n")
    if args.save and found.x is not None and found.y is not None:
        try:
            draw_point(image, found.x, found.y).save(args.save)
        except (OSError, ValueError) as e:  # a missing folder, an unknown image extension
            err.print(f"error: cannot save {args.save}: {e}", markup=False, highlight=False)
            return 2
    return 0 if found.error is None else 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("locate", help="point at what an instruction names in an image (JSON out)")
    p.add_argument("image", help="an image file, an http(s) URL, or site:demo/PAGE (screenshotted)")
    p.add_argument("instruction", help='what to find, e.g. "the Sign in button"')
    p.add_argument("--model", help="model spec, as for gaze run")
    p.add_argument("--profile", help="model profile (default: from the model id)")
    p.add_argument("--save", metavar="PNG", help="also save the image with the point drawn")
    p.add_argument("--width", type=int, default=1280, help="viewport width for URLs (CSS px)")
    p.add_argument("--height", type=int, default=800, help="viewport height for URLs (CSS px)")
    p.set_defaults(fn=cmd_locate)
