"""Page events for ``BrowserEnv``: what Playwright reports about tabs, requests, dialogs, downloads.

Contract:
- ``PageEvents.on_new_page`` is the context's ``page`` handler; it subscribes every tab to the
  other handlers here (and to ``Recovery.on_crash``). A tab opened while there is one already is
  a popup: it becomes the active tab, with a note, unless ``max_tabs`` are open (then it is
  closed, with a note). While recovery opens a replacement tab (``arrivals`` is a list) new tabs
  are only collected there. Closing the active tab makes the previous one active again.
- Top-level navigation requests, commits, failed navigations and popups are reported to the
  environment's ``Settler`` (``actions.settle``), which waits on them; each commit of the active
  tab is remembered as the URL to reload after a fault.
- A JavaScript dialog is recorded, not answered (``DialogAnswers`` shows it and answers it with
  the next action). Its message and default value are redacted (secrets become placeholders).
- A request the filtering proxy refused becomes a note (``actions.proxy.block_note``).
- Downloads are saved under ``downloads_dir`` with a sanitized, unique name, at most
  ``max_downloads`` per task; refused when downloads are off.
- Every event worth telling the model becomes a note in the environment's ``_notes``;
  ``coalesce`` merges repeats and caps them at ``_MAX_NOTES``.

Not here: answering dialogs (``actions.dialog_answers``), waiting for navigations
(``actions.settle``), faults (``actions.recovery``). Handlers run on the environment's loop thread,
except ``on_blocked_threadsafe`` (called from proxy threads).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from playwright.async_api import Dialog, Download, Frame, Page, Request
from playwright.async_api import Error as PlaywrightError

from actions.dialog_answers import dialog_phrase
from actions.environment import first_line
from actions.proxy import block_note
from actions.recovery import close_page
from actions.types import DialogInfo

if TYPE_CHECKING:
    from actions.browser import BrowserEnv

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_MAX_NOTES = 8  # notes per observation or result after merging repeats


def coalesce(notes: Sequence[str]) -> list[str]:
    """Notes as the model reads them: repeats merged ("... (x49)"), at most ``_MAX_NOTES``."""
    counts: dict[str, int] = {}
    for n in notes:
        counts[n] = counts.get(n, 0) + 1
    merged = [n if k == 1 else f"{n} (x{k})" for n, k in counts.items()]
    if len(merged) > _MAX_NOTES:
        rest = len(merged) - (_MAX_NOTES - 1)
        merged = [*merged[: _MAX_NOTES - 1], f"... and {rest} more notes"]
    return merged


class PageEvents:
    """The Playwright event handlers of one ``BrowserEnv``; see the module contract."""

    def __init__(self, env: BrowserEnv) -> None:
        self._env = env
        self.arrivals: list[Page] | None = None  # tabs opened while a replacement tab opens
        self._downloads = 0  # downloads accepted since the last reset
        self._download_names: set[Path] = set()  # targets taken, also by saves in flight

    def start_task(self) -> None:
        """A reset: the download budget is full again."""
        self._downloads = 0
        self._download_names.clear()

    # ------------------------------------------------------------ tabs

    def on_new_page(self, page: Page) -> None:
        env = self._env
        page.on("dialog", self.on_dialog)
        page.on("download", lambda d: env._background(self.on_download(d)))
        page.on("request", self.on_request)
        page.on("close", self.on_close)
        page.on("crash", env._recovery.on_crash)
        page.on("framenavigated", self.on_navigated)
        page.on("requestfailed", self.on_request_failed)
        if self.arrivals is not None:  # Recovery._replace_tab places its tab and closes any other
            self.arrivals.append(page)
            return
        if env._pages:
            env._settler.nav_started = env._settler.popup_opened = True
            env._settler.popup_event.set()
            if len(env._pages) >= env.config.max_tabs:
                env._notes.append(
                    f"the page opened more than {env.config.max_tabs} tabs; the extra tab was closed"
                )
                env._background(close_page(page))
                return
            env._notes.append("a new tab opened and is now the active tab")
        env._pages.append(page)

    def on_close(self, page: Page) -> None:
        env = self._env
        env._capture.forget(page)
        was_active = bool(env._pages) and env._pages[-1] is page
        if page in env._pages:
            env._pages.remove(page)
        if was_active and env._pages:
            env._notes.append("the tab closed; back on the previous tab")
            env._recovery.remember(env._pages[-1].url)

    # ------------------------------------------------------------ navigations and requests

    def on_request(self, request: Request) -> None:
        env = self._env
        if request.is_navigation_request() and request.frame.parent_frame is None:
            env._settler.nav_started = True
            if env._policy.check(request.url) is not None:
                # the proxy answers it 204 (the page stays): there will be no commit to wait for
                env._settler.committed.set()

    def on_request_failed(self, request: Request) -> None:
        # a navigation that failed or turned into a download will never commit: stop waiting
        if request.is_navigation_request() and request.frame.parent_frame is None:
            self._env._settler.committed.set()

    def on_navigated(self, frame: Frame) -> None:
        env = self._env
        if frame.parent_frame is None:
            env._settler.committed.set()
            env._slow_pages.discard(frame.page)
            if env._pages and frame.page is env._pages[-1]:
                env._recovery.remember(frame.url)

    def on_blocked_threadsafe(self, target: str, reason: str) -> None:
        """From a proxy thread: note a blocked request on the loop thread."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody will read it
            self._env._loop.call_soon_threadsafe(self._on_blocked, target, reason)

    def _on_blocked(self, target: str, reason: str) -> None:
        log.info("blocked %s: %s", target, reason)
        self._env._notes.append(block_note(target, reason))

    # ------------------------------------------------------------ dialogs and downloads

    def on_dialog(self, dialog: Dialog) -> None:
        env = self._env
        if env._dialog is not None:  # cannot happen while scripts are blocked; be safe
            env._background(dialog.dismiss())
            return
        kind = (
            dialog.type
            if dialog.type in ("alert", "confirm", "prompt", "beforeunload")
            else "alert"
        )
        env._dialog = dialog
        message = env._redact(dialog.message)  # a page may show a typed secret in a dialog
        env._dialog_info = DialogInfo.model_validate(
            {"type": kind, "message": message, "default_value": env._redact(dialog.default_value)}
        )  # type: ignore[arg-type]
        env._prompt_text = None
        env._notes.append(f"{dialog_phrase(kind)} opened: {message!r}")
        if env._dialog_event is not None:
            env._dialog_event.set()

    async def on_download(self, download: Download) -> None:
        env = self._env
        folder = env.config.downloads_dir
        name = _SAFE_NAME.sub("_", download.suggested_filename).strip(" .") or "download"
        if folder is None:
            await download.cancel()
            env._notes.append(f"download of {name!r} refused (downloads are off)")
            return
        limit = env.config.max_downloads
        if self._downloads >= limit:
            env._notes.append(
                f"download of {name!r} refused: {limit} files were downloaded already"
            )
            with contextlib.suppress(PlaywrightError):
                await download.cancel()
            return
        self._downloads += 1
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        n = 1
        # saves run concurrently: a name is taken as soon as it is chosen, not once it is on disk
        while target.exists() or target in self._download_names:
            target = folder / f"{Path(name).stem}-{n}{Path(name).suffix}"
            n += 1
        self._download_names.add(target)
        try:
            await download.save_as(target)
            env._notes.append(f"downloaded {target.name}")
        except PlaywrightError as e:
            env._notes.append(f"download of {name!r} failed: {first_line(e)}")
