"""The Environment protocol and its configuration: what the loop needs from a browser.

Contract:
- ``reset`` opens a fresh browser context at a URL; ``observe`` returns an Observation (never
  raises for page trouble: a dialog or a crash shows up in the Observation); ``act`` executes one
  Action and returns an ActionResult (page-level failures are results, not exceptions);
  ``evaluate`` runs a JS expression for success checks and reference solutions and raises
  ``EnvError`` when it cannot; ``close`` releases everything and may be called twice.
- Browser faults (crashed page, dead or hung browser) are recovered within a budget: ``observe``
  then notes what happened, ``act`` raises ``BrowserRestarted`` (its effect is unknown); past the
  budget, or when recovery fails, they raise ``EnvError``.
- Terminal actions (done, give_up, ask_user) never reach ``act``: the loop handles them.

No Playwright here; ``actions.browser`` implements it with Playwright and tests implement fakes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Protocol

from actions.safety import Secrets, UrlPolicy
from actions.types import Action, ActionResult, Observation

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]


def first_line(error: BaseException) -> str:
    """The first line of an exception's message (Playwright's carry call logs after it), or the
    exception's type when the message is empty (asyncio's TimeoutError)."""
    return next(iter(str(error).splitlines()), "") or type(error).__name__


class EnvError(RuntimeError):
    """The environment cannot answer (browser gone, page blocked by a dialog, script error)."""


class BrowserRestarted(EnvError):
    """``act`` could not finish because the page crashed, hung or the browser died; the
    environment recovered (new tab or relaunched browser at the last good URL) before raising.
    Whether the action took effect is unknown; the message says what happened, for the model.
    The next ``observe`` shows the reloaded page."""


@dataclass(frozen=True)
class BrowserConfig:
    """How the browser is launched and observed. Sizes are CSS px."""

    viewport_w: int = 1280
    viewport_h: int = 800
    device_scale_factor: float = 1.0  # device px per CSS px (2 = HiDPI)
    headless: bool = True
    executable: str | None = None  # Chromium binary; None = detect (see actions.chromium)
    screenshot_format: Literal["jpeg", "png"] = "png"
    jpeg_quality: int = 90
    # "css": screenshots are viewport-sized whatever the DPR; "device": DPR times larger.
    screenshot_scale: Literal["css", "device"] = "css"
    action_timeout_s: float = 10.0  # one action, including waiting for a navigation it started
    navigation_timeout_s: float = 20.0  # reset / navigate / back
    downloads_dir: Path | None = None  # where downloads are saved; None = refuse downloads
    extra_args: tuple[str, ...] = ()
    # crashed page / dead or hung browser recoveries allowed between two resets; one more fault
    # raises EnvError (the loop then stops with env_error)
    max_restarts: int = 2
    max_tabs: int = 10  # tabs a page may have open at once; further popups are closed at once
    max_downloads: int = 20  # downloads kept per reset; further ones are refused
    # Safety (actions.safety): hosts the browser may reach at all (None = any host; patterns as in
    # UrlPolicy: example.com, *.example.com, 127.0.0.1:8123, *), whether file: URLs and browser
    # pages (chrome:, devtools:) may load, and the secrets a Type action's placeholders name
    allowed_domains: tuple[str, ...] | None = None
    allow_file: bool = False
    allow_chrome: bool = False
    secrets: Secrets = field(default_factory=Secrets)

    @property
    def url_policy(self) -> UrlPolicy:
        """What this configuration lets the browser load (ValueError for a bad host pattern)."""
        return UrlPolicy.from_patterns(
            self.allowed_domains, allow_file=self.allow_file, allow_chrome=self.allow_chrome
        )

    def for_viewport(
        self, width: int, height: int, device_scale_factor: float, downloads_dir: Path | None = None
    ) -> BrowserConfig:
        """This configuration with a task's viewport (and where its downloads go)."""
        return replace(
            self,
            viewport_w=width,
            viewport_h=height,
            device_scale_factor=device_scale_factor,
            downloads_dir=downloads_dir,
        )


class Environment(Protocol):
    def reset(self, url: str, config: BrowserConfig | None = None) -> ActionResult: ...

    def observe(self) -> Observation: ...

    def act(self, action: Action) -> ActionResult: ...

    def evaluate(self, expression: str, arg: JsonValue = None) -> JsonValue: ...

    @property
    def url(self) -> str: ...

    def close(self) -> None: ...


def open_start_page(env: Environment, url: str, config: BrowserConfig) -> str | None:
    """Reset ``env`` at ``url``; None when the page loaded, else a sentence saying why not."""
    try:
        started = env.reset(url, config)
    except EnvError as e:
        return f"the browser could not start: {e}"
    return None if started.ok else f"the start page failed: {started.error}"
