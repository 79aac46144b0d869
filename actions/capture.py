"""Screenshot capture for ``BrowserEnv``: a tab's viewport pixels, as fast as Chromium allows.

Contract:
- ``ScreenCapture.capture(page, config)`` returns the viewport as PNG/JPEG bytes
  (``config.screenshot_format``), at CSS scale, or DPR times larger with
  ``screenshot_scale="device"`` (``shot_scale`` says which).
- It asks DevTools first (``Page.captureScreenshot`` with ``optimizeForSpeed``, one cached
  DevTools session per tab). A capture Chromium refuses is retried once, then taken with
  Playwright's ``page.screenshot``; after ``_CDP_MAX_FAILURES`` refusals in a row, or one image of
  the wrong size, Playwright's screenshot is used for good (for the life of the ScreenCapture).
- ``forget(page)`` drops a closed tab's session; ``clear()`` drops all of them with the context.
- ``image_size`` reads a PNG/JPEG size from its header; ``blank`` is the white image shown when
  there is nothing to capture.

Not here: waiting for the page to load, the title, deadlines, notes and faults (the caller,
``BrowserEnv._screenshot``, does those); Playwright errors other than DevTools refusals propagate.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from typing import Any

from PIL import Image
from playwright.async_api import CDPSession, Page
from playwright.async_api import Error as PlaywrightError

from actions.environment import BrowserConfig

log = logging.getLogger(__name__)

_CDP_MAX_FAILURES = 3  # consecutive refused captures before Playwright's screenshot is kept


def image_size(data: bytes) -> tuple[int, int] | None:
    """Image size from the header alone (no decode); None when it is no image PIL knows."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except OSError:
        return None


def shot_scale(config: BrowserConfig) -> float:
    """Image px per CSS px of the screenshots taken under ``config``."""
    return config.device_scale_factor if config.screenshot_scale == "device" else 1.0


def blank(config: BrowserConfig) -> Image.Image:
    """A white screenshot-sized image, for when there is no page to capture."""
    s = shot_scale(config)
    size = (round(config.viewport_w * s), round(config.viewport_h * s))
    return Image.new("RGB", size, (255, 255, 255))


class ScreenCapture:
    """Viewport captures of one browser's tabs; see the module contract. Loop thread only."""

    def __init__(self) -> None:
        self._sessions: dict[Page, CDPSession] = {}
        self._failures = 0  # consecutive captures where DevTools failed

    def forget(self, page: Page) -> None:
        """Drop the DevTools session of a tab that closed or is being replaced."""
        self._sessions.pop(page, None)

    def clear(self) -> None:
        """Drop every session (the context is closing)."""
        self._sessions.clear()

    async def capture(self, page: Page, config: BrowserConfig) -> bytes:
        """The viewport as PNG/JPEG bytes, straight from Chromium's DevTools protocol.

        ``Page.captureScreenshot`` with ``optimizeForSpeed`` is about 15 ms faster than
        ``page.screenshot`` (which also waits for fonts and injects a caret-hiding style; our
        init script hides the caret once per document instead) and yields PNGs that decode 2-3x
        faster. Without a clip Chromium captures the viewport at CSS scale; device scale needs a
        clip in document coordinates at the visual viewport's scroll offset. A capture Chromium
        refuses is retried, then taken with Playwright's screenshot; after repeated refusals (or an
        image of the wrong size) Playwright's screenshot is used for good.
        """
        c = config
        if self._failures < _CDP_MAX_FAILURES:
            for _ in range(2):  # Chromium sometimes answers "Unable to capture screenshot" once
                data = await self._capture_cdp(page, c)
                if data is not None:
                    self._failures = 0
                    return data
                await asyncio.sleep(0.02)
            self._failures += 1
        opts: dict[str, Any] = {"type": c.screenshot_format, "scale": c.screenshot_scale}
        if c.screenshot_format == "jpeg":
            opts["quality"] = c.jpeg_quality
        return await page.screenshot(timeout=c.action_timeout_s * 1000, **opts)

    async def _capture_cdp(self, page: Page, c: BrowserConfig) -> bytes | None:
        """One DevTools capture of the viewport, or None if Chromium refused or it came out at an
        unexpected size (then Playwright's screenshot is used instead)."""
        scale = shot_scale(c)
        try:
            cdp = self._sessions.get(page)
            if cdp is None:
                cdp = self._sessions[page] = await page.context.new_cdp_session(page)
            params: dict[str, Any] = {"format": c.screenshot_format, "optimizeForSpeed": True}
            if c.screenshot_format == "jpeg":
                params["quality"] = c.jpeg_quality
            if scale != 1.0:
                vv = (await cdp.send("Page.getLayoutMetrics"))["cssVisualViewport"]
                params["clip"] = {
                    "x": vv["pageX"], "y": vv["pageY"], "width": c.viewport_w,
                    "height": c.viewport_h, "scale": scale,
                }  # fmt: skip
            data = base64.b64decode((await cdp.send("Page.captureScreenshot", params))["data"])
        except PlaywrightError as e:
            log.debug("CDP screenshot failed: %s", e)
            return None
        want = (round(c.viewport_w * scale), round(c.viewport_h * scale))
        if image_size(data) != want:
            log.warning("CDP screenshot is not %sx%s; using Playwright's screenshot", *want)
            self._failures = _CDP_MAX_FAILURES
            return None
        return data
