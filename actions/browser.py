"""The Playwright browser environment: the only place Playwright is driven.

Contract (see ``actions.environment.Environment``):
- A synchronous facade over async Playwright running on its own event-loop thread. Every call has a
  deadline, so a hung page costs at most ``action_timeout_s``/``navigation_timeout_s``, never a hang.
- Screenshots are viewport-sized at CSS scale whatever the device scale factor (or DPR times larger
  with ``screenshot_scale="device"``; the Observation says which).
- JavaScript dialogs are *surfaced*, not dismissed: the action that opened one returns at once, the
  next Observation shows the dialog painted over the last screenshot (``actions.dialogs``), and the
  next action answers it (click OK/Cancel, Enter/Escape, type into a prompt). The interrupted action
  then completes.
- New tabs and popups are followed (the newest tab becomes the active one; closing it returns to
  the previous). Downloads are saved into ``downloads_dir`` or refused when it is None.
- Navigations started by an action are waited for (DOMContentLoaded), bounded by the timeout;
  a page that never gets there is captured as it is, and later looks wait for it only briefly.
- Faults are recovered at the next call (``_recover``): a crashed or hung active tab is replaced by
  a new tab in the same context, a dead or unanswering browser is relaunched (killed by pid when
  it does not close); either reloads the last committed top-level URL. ``observe`` reports it as a
  note, ``act`` raises ``BrowserRestarted``; past ``max_restarts`` per reset an ``EnvError`` stops
  the episode. Tabs (``max_tabs``) and downloads (``max_downloads``) are capped so a storm of
  either stays bounded; repeated notes are merged.
- Safety (``actions.safety``): when ``allowed_domains`` restricts hosts, every request of the
  context goes through a ``FilteringProxy`` (loopback included), and each request it refuses
  becomes a note ("Gaze blocked a request to ..."); a start URL the policy refuses is not loaded;
  service workers are always blocked. Everything reported (URL, title, notes, dialog text, action
  errors) has the task's secret values replaced by their placeholders.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import io
import logging
import re
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from importlib.metadata import version as pkg_version
from pathlib import Path
from typing import Any, Literal, TypeVar

from PIL import Image
from playwright.async_api import (
    Browser,
    BrowserContext,
    CDPSession,
    Dialog,
    Download,
    Frame,
    Page,
    Playwright,
    ProxySettings,
    Request,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from actions import dialogs, procs
from actions.chromium import (
    QUIET_ARGS,
    ChromiumNotFound,
    find_chromium,
    install_hint,
    needs_no_sandbox,
)
from actions.environment import BrowserConfig, BrowserRestarted, EnvError, JsonValue, first_line
from actions.executor import execute
from actions.keys import normalize_combo
from actions.safety import FilteringProxy, SecretError, UrlPolicy, block_note, launch_args
from actions.types import (
    Action,
    ActionResult,
    Click,
    DialogInfo,
    KeyPress,
    Observation,
    Type,
    Wait,
    describe,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
# One macrotask turn in the page: lets script-initiated navigations start before we look, and
# reports how many new tabs the page asked for since the last look (see _POPUP_COUNTER_JS).
_TICK_JS = (
    "() => new Promise(r => setTimeout(() => "
    "r(window.__gazeTakePopups ? window.__gazeTakePopups() : 0), 0))"
)
# Counts requests for new tabs (window.open, target=_blank links and forms) as the page makes
# them, because the browser reports the new tab itself only some time after the click returns.
_POPUP_COUNTER_JS = """(() => {
  let n = 0;
  const open = window.open;
  window.open = function (...args) { n++; return open.apply(this, args); };
  const isNewTab = (t) => t && !['_self', '_parent', '_top'].includes(t.toLowerCase());
  window.addEventListener('click', (e) => {
    const a = e.target && e.target.closest && e.target.closest('a[href], area[href]');
    if (a && !e.defaultPrevented && (isNewTab(a.target) || e.ctrlKey || e.metaKey || e.shiftKey)) n++;
  }, false);
  window.addEventListener('submit', (e) => {
    if (!e.defaultPrevented && isNewTab(e.target.target)) n++;
  }, false);
  Object.defineProperty(window, '__gazeTakePopups', { value: () => { const k = n; n = 0; return k; } });
  // a blinking caret makes two screenshots of an unchanged page differ; hide it, as Playwright does
  const hideCaret = () => {
    const st = document.createElement('style');
    st.textContent = '*, *::before, *::after { caret-color: transparent !important; }';
    (document.head || document.documentElement).appendChild(st);
  };
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', hideCaret);
  else hideCaret();
})();"""
_POPUP_WAIT_S = 5.0
_CDP_MAX_FAILURES = 3
_NAV_POLL_S = 0.05
_TICK_TIMEOUT_S = 1.0
# Errors that mean "a navigation replaced the document under us": retry after it settles.
_NAVIGATED_AWAY = ("Execution context was destroyed", "navigation")
_PROBE_TIMEOUT_S = 2.0  # a tab that cannot evaluate `1` this fast after a timeout is hung
_SLOW_WAIT_S = 0.5  # DOMContentLoaded wait for a tab that already missed it once
_CLOSE_TIMEOUT_S = 5.0  # closing a tab, a context or the browser; then the browser is killed
_FAULT_WAIT_S = 1.0  # how long a "target closed" error waits for the crash/disconnect event
_MAX_NOTES = 8  # notes per observation or result after merging repeats
# Errors that mean the tab or the browser is gone rather than that the action was wrong.
_FATAL = ("has been closed", "Target crashed", "Browser closed", "Connection closed")
_RELOADABLE = ("http:", "https:", "file:", "data:")


A = TypeVar("A")
B = TypeVar("B")


def _retrieve(fut: asyncio.Future[Any]) -> None:
    """Mark a finished future's outcome as seen (no 'exception was never retrieved' noise)."""
    if not fut.cancelled():
        fut.exception()


async def _both(
    a: Coroutine[Any, Any, A], b: Coroutine[Any, Any, B], timeout_s: float
) -> tuple[A, B]:
    """Run two coroutines concurrently within a deadline; if either fails, cancel the other.

    Unlike ``wait_for(gather(...))`` this leaves no orphaned future behind when it is itself
    cancelled (``_look`` cancels a capture that a navigation made pointless)."""
    ta, tb = asyncio.ensure_future(a), asyncio.ensure_future(b)
    try:
        _, pending = await asyncio.wait(
            {ta, tb}, timeout=timeout_s, return_when=asyncio.FIRST_EXCEPTION
        )
        for t in (ta, tb):
            error = t.exception() if t.done() and not t.cancelled() else None
            if error is not None:
                raise error
        if pending:
            raise TimeoutError(f"no answer within {timeout_s:.0f} s")
        return ta.result(), tb.result()
    finally:
        ta.cancel()
        tb.cancel()
        ta.add_done_callback(_retrieve)
        tb.add_done_callback(_retrieve)


def _png_or_jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Image size from the header alone (no decode)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except OSError:
        return None


@dataclass(frozen=True)
class _Fault:
    kind: Literal["page", "browser"]  # page: a new tab is enough; browser: relaunch it
    what: str  # "the page crashed", for the model and the log


def _coalesce(notes: Sequence[str]) -> list[str]:
    """Notes as the model reads them: repeats merged ("... (x49)"), at most ``_MAX_NOTES``."""
    counts: dict[str, int] = {}
    for n in notes:
        counts[n] = counts.get(n, 0) + 1
    merged = [n if k == 1 else f"{n} (x{k})" for n, k in counts.items()]
    if len(merged) > _MAX_NOTES:
        rest = len(merged) - (_MAX_NOTES - 1)
        merged = [*merged[: _MAX_NOTES - 1], f"... and {rest} more notes"]
    return merged


class BrowserEnv:
    """A Chromium browser driven through Playwright; see the module contract."""

    def __init__(self, config: BrowserConfig | None = None) -> None:
        self.config = config or BrowserConfig()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="gaze-browser", daemon=True
        )
        self._thread.start()
        self._pw: Playwright | None = None
        self._browser: Browser | None = None
        self._context: BrowserContext | None = None
        self._pages: list[Page] = []
        self._dialog: Dialog | None = None
        self._dialog_info: DialogInfo | None = None
        self._prompt_text: str | None = None
        self._pending: asyncio.Task[ActionResult] | None = None
        self._dialog_event: asyncio.Event | None = None
        self._notes: list[str] = []
        self._nav_started = False
        self._popup_opened = False
        self._committed = asyncio.Event()  # the main frame committed a navigation during an action
        self._popup_event = asyncio.Event()  # a new tab appeared during an action
        self._last_shot: Image.Image | None = None
        self._cdp: dict[Page, CDPSession] = {}
        self._cdp_failures = 0  # consecutive captures where DevTools failed
        self._settle_pending = False  # the last action may have started a navigation or a tab
        self._tasks: set[asyncio.Future[object]] = set()
        self._closed = False
        self.executable: str | None = None
        self._policy = UrlPolicy()  # what the current context may load (actions.safety)
        self._proxy: FilteringProxy | None = None  # enforces it when it restricts hosts
        self._fault: _Fault | None = None  # what broke since the last call (first one wins)
        self._restarts = 0  # recoveries since the last reset, at most config.max_restarts
        self._good_url: str | None = None  # the active tab's last committed top-level URL
        self._browser_pid: int | None = None
        self._suspect: Page | None = None  # a tab an action or capture timed out on: probe it
        self._acted_on: Page | None = None  # the tab the last action ran in
        self._arrivals: list[Page] | None = None  # tabs opened while a replacement tab opens
        self._slow_pages: set[Page] = set()  # tabs that missed DOMContentLoaded once
        self._downloads = 0  # downloads accepted since the last reset
        self._download_names: set[Path] = set()  # targets taken, also by saves in flight

    # ------------------------------------------------------------ plumbing

    def _run(self, coro: Coroutine[Any, Any, T], timeout_s: float) -> T:
        if self._closed:
            coro.close()
            raise EnvError("the browser environment is closed")
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout_s)
        except concurrent.futures.TimeoutError:
            deadline_hit = not fut.done()  # else a timeout raised inside the call
            fut.cancel()
            message = f"the browser did not answer within {timeout_s:.0f} s"
            if deadline_hit:
                self._set_fault("browser", message)
            raise EnvError(message) from None
        except KeyboardInterrupt:
            # Ctrl-C stops the action too, rather than leaving it running in the browser thread
            fut.cancel()
            raise

    @property
    def _page(self) -> Page:
        if not self._pages:
            raise EnvError("no open tab (call reset first)")
        return self._pages[-1]

    @property
    def url(self) -> str:
        """The active tab's URL, once whatever the last action started has settled."""
        if self._settle_pending and not self._closed and self._dialog_info is None:
            try:
                self._run(self._settle(), self.config.navigation_timeout_s + 10)
            except EnvError as e:
                log.warning("settling before reading the URL: %s", e)
        return self._pages[-1].url if self._pages else "about:blank"

    @property
    def browser_version(self) -> str:
        return self._browser.version if self._browser else "not started"

    @property
    def browser_pid(self) -> int | None:
        """The running browser's process id (None before launch or when DevTools hid it)."""
        return self._browser_pid

    @staticmethod
    def playwright_version() -> str:
        return pkg_version("playwright")

    # ------------------------------------------------------------ lifecycle

    async def _launch(self) -> None:
        if self._pw is None:
            self._pw = await async_playwright().start()
        if self._browser is not None and self._browser.is_connected():
            return
        args = launch_args([*QUIET_ARGS, *self.config.extra_args])
        if needs_no_sandbox():
            args.append("--no-sandbox")
        try:
            exe = find_chromium(self.config.executable, self._pw.chromium.executable_path)
            self._browser = await self._pw.chromium.launch(
                executable_path=exe, headless=self.config.headless, args=args, timeout=30_000
            )
        except (ChromiumNotFound, PlaywrightError) as e:
            raise EnvError(f"Chromium did not start: {first_line(e)}. {install_hint()}") from None
        self.executable = exe or self._pw.chromium.executable_path
        self._browser.on("disconnected", self._on_disconnected)
        self._browser_pid = await self._find_browser_pid(self._browser)
        log.info("launched Chromium %s from %s", self._browser.version, self.executable)

    @staticmethod
    async def _find_browser_pid(browser: Browser) -> int | None:
        """The browser's process id, from DevTools (Playwright does not expose it)."""
        try:
            cdp = await browser.new_browser_cdp_session()
            info = await cdp.send("SystemInfo.getProcessInfo")
            await cdp.detach()
        except PlaywrightError as e:
            log.debug("no browser pid: %s", first_line(e))
            return None
        pids = [int(p["id"]) for p in info.get("processInfo", []) if p.get("type") == "browser"]
        return pids[0] if pids else None

    async def _new_context(self, url: str) -> ActionResult:
        await self._launch()
        assert self._browser is not None
        if self._context is not None:
            await self._close_context()
        c = self.config
        self._dialog_event = asyncio.Event()
        self._policy = c.url_policy
        self._context = await self._browser.new_context(
            viewport={"width": c.viewport_w, "height": c.viewport_h},
            device_scale_factor=c.device_scale_factor,
            accept_downloads=c.downloads_dir is not None,
            # every request goes through the filtering proxy, which sees what a route does not
            # (redirect hops, workers, websockets); service workers would answer from a cache
            proxy=self._proxy_for(self._policy),
            service_workers="block",
        )
        self._context.on("page", self._on_new_page)
        await self._context.add_init_script(_POPUP_COUNTER_JS)
        self._context.set_default_timeout(c.action_timeout_s * 1000)
        page = await self._context.new_page()  # _on_new_page registers it
        self._notes.clear()
        refused = self._policy.check_navigation(url)
        if refused is not None:
            return ActionResult.failure(f"the start page {url} is blocked: {refused}")
        return await self._goto(page, url)

    def _proxy_for(self, policy: UrlPolicy) -> ProxySettings | None:
        """The proxy a new context uses: Gaze's filtering proxy when hosts are restricted."""
        if not policy.restricts_hosts:
            return None
        if self._proxy is None:
            self._proxy = FilteringProxy(policy, self._on_blocked_threadsafe)
        self._proxy.policy = policy
        return {"server": self._proxy.server}

    def _on_blocked_threadsafe(self, target: str, reason: str) -> None:
        """From a proxy thread: note a blocked request on the loop thread."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody will read it
            self._loop.call_soon_threadsafe(self._on_blocked, target, reason)

    def _on_blocked(self, target: str, reason: str) -> None:
        log.info("blocked %s: %s", target, reason)
        self._notes.append(block_note(target, reason))

    def _redact(self, text: str) -> str:
        """``text`` with the task's secret values replaced by their placeholders."""
        return self.config.secrets.redact(text)

    async def _goto(self, page: Page, url: str) -> ActionResult:
        """Load ``url`` in ``page`` up to DOMContentLoaded. A dialog the page opens while loading
        ends the wait: it is surfaced like any other, and the load goes on once it is answered."""
        assert self._dialog_event is not None
        self._dialog_event.clear()
        timeout_ms = self.config.navigation_timeout_s * 1000
        load = asyncio.ensure_future(
            page.goto(url, wait_until="domcontentloaded", timeout=timeout_ms)
        )
        waiter = asyncio.ensure_future(self._dialog_event.wait())
        try:
            await asyncio.wait({load, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if not load.done():
            load.add_done_callback(_retrieve)
            return ActionResult.success()
        try:
            resp = load.result()
        except PlaywrightError as e:
            return ActionResult.failure(f"could not load {url}: {first_line(e)}")
        if resp is not None and resp.status >= 400:
            return ActionResult.failure(f"{url} answered HTTP {resp.status}")
        return ActionResult.success()

    async def _close_context(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        ctx, self._context = self._context, None
        self._pages.clear()
        self._cdp.clear()
        self._dialog = self._dialog_info = self._pending = None
        self._last_shot = None
        self._slow_pages.clear()
        if ctx is not None:
            with contextlib.suppress(PlaywrightError, TimeoutError):
                await asyncio.wait_for(ctx.close(), _CLOSE_TIMEOUT_S)

    def reset(self, url: str, config: BrowserConfig | None = None) -> ActionResult:
        """A fresh context (no cookies, storage or tabs) at ``url``."""
        fault, self._fault = self._pending_fault(), None
        self._restarts = self._downloads = 0
        self._download_names.clear()
        self._good_url = url
        if fault is not None and fault.kind == "browser" and self._browser is not None:
            # dead or wedged: start afresh
            self._run(self._shutdown_browser(kill=True), 3 * _CLOSE_TIMEOUT_S)
        if config is not None:
            relaunch = (config.headless, config.executable, config.extra_args) != (
                self.config.headless,
                self.config.executable,
                self.config.extra_args,
            )
            self.config = config
            if relaunch and self._browser is not None:
                self._run(self._shutdown_browser(), 30)
        timeout = self.config.navigation_timeout_s + 40  # launch included
        return self._run(self._new_context(url), timeout)

    async def _shutdown_browser(self, *, kill: bool = False) -> None:
        """Close the browser (killed by pid when ``kill``, or when it does not close in time)."""
        # forgotten first, so that its 'disconnected' event is not taken for a fault
        browser, self._browser = self._browser, None
        pid, self._browser_pid = self._browser_pid, None
        if kill and pid is not None:
            procs.kill(pid)
        await self._close_context()
        if browser is None:
            return
        try:
            await asyncio.wait_for(browser.close(), _CLOSE_TIMEOUT_S)
        except (PlaywrightError, TimeoutError) as e:
            if pid is not None and procs.kill(pid):
                log.warning("the browser did not close (%s); killed pid %d", first_line(e), pid)

    async def _shutdown(self) -> None:
        await self._shutdown_browser()
        if self._pw is not None:
            await self._pw.stop()
            self._pw = None

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._run(self._shutdown(), 3 * _CLOSE_TIMEOUT_S + 10)
        except EnvError as e:
            log.warning("browser shutdown: %s", e)
            if self._browser_pid is not None:
                procs.kill(self._browser_pid)
        finally:
            self._closed = True
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            if not self._thread.is_alive():
                self._loop.close()
            procs.reap_zombies(wait_s=2.0)  # only waits when we adopted the browser's orphans
            if self._proxy is not None:
                self._proxy.close()

    def __enter__(self) -> BrowserEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ page events (loop thread)

    def _background(self, coro: Coroutine[Any, Any, object]) -> None:
        """Run a coroutine on the loop without awaiting it, keeping a reference until it ends."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_new_page(self, page: Page) -> None:
        page.on("dialog", self._on_dialog)
        page.on("download", lambda d: self._background(self._on_download(d)))
        page.on("request", self._on_request)
        page.on("close", self._on_close)
        page.on("crash", self._on_crash)
        page.on("framenavigated", self._on_navigated)
        page.on("requestfailed", self._on_request_failed)
        if self._arrivals is not None:  # _replace_tab places its tab and closes any other
            self._arrivals.append(page)
            return
        if self._pages:
            self._nav_started = self._popup_opened = True
            self._popup_event.set()
            if len(self._pages) >= self.config.max_tabs:
                self._notes.append(
                    f"the page opened more than {self.config.max_tabs} tabs; the extra tab was closed"
                )
                self._background(self._close_page(page))
                return
            self._notes.append("a new tab opened and is now the active tab")
        self._pages.append(page)

    def _on_close(self, page: Page) -> None:
        self._cdp.pop(page, None)
        was_active = bool(self._pages) and self._pages[-1] is page
        if page in self._pages:
            self._pages.remove(page)
        if was_active and self._pages:
            self._notes.append("the tab closed; back on the previous tab")
            self._remember(self._pages[-1].url)

    def _on_request(self, request: Request) -> None:
        if request.is_navigation_request() and request.frame.parent_frame is None:
            self._nav_started = True
            if self._policy.check(request.url) is not None:
                # the proxy answers it 204 (the page stays): there will be no commit to wait for
                self._committed.set()

    def _on_request_failed(self, request: Request) -> None:
        # a navigation that failed or turned into a download will never commit: stop waiting
        if request.is_navigation_request() and request.frame.parent_frame is None:
            self._committed.set()

    def _on_navigated(self, frame: Frame) -> None:
        if frame.parent_frame is None:
            self._committed.set()
            self._slow_pages.discard(frame.page)
            if self._pages and frame.page is self._pages[-1]:
                self._remember(frame.url)

    def _remember(self, url: str) -> None:
        """Keep ``url`` as the one to reload after a fault, if it can be reloaded."""
        if url.startswith(_RELOADABLE):
            self._good_url = url

    def _on_dialog(self, dialog: Dialog) -> None:
        if self._dialog is not None:  # cannot happen while scripts are blocked; be safe
            self._background(dialog.dismiss())
            return
        kind = (
            dialog.type
            if dialog.type in ("alert", "confirm", "prompt", "beforeunload")
            else "alert"
        )
        self._dialog = dialog
        message = self._redact(dialog.message)  # a page may show a typed secret in a dialog
        self._dialog_info = DialogInfo.model_validate(
            {"type": kind, "message": message, "default_value": self._redact(dialog.default_value)}
        )  # type: ignore[arg-type]
        self._prompt_text = None
        self._notes.append(f"a {kind} dialog opened: {message!r}")
        if self._dialog_event is not None:
            self._dialog_event.set()

    async def _on_download(self, download: Download) -> None:
        folder = self.config.downloads_dir
        name = _SAFE_NAME.sub("_", download.suggested_filename).strip(" .") or "download"
        if folder is None:
            await download.cancel()
            self._notes.append(f"download of {name!r} refused (downloads are off)")
            return
        limit = self.config.max_downloads
        if self._downloads >= limit:
            self._notes.append(
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
            self._notes.append(f"downloaded {target.name}")
        except PlaywrightError as e:
            self._notes.append(f"download of {name!r} failed: {first_line(e)}")

    # ------------------------------------------------------------ observe

    def observe(self) -> Observation:
        budget = self.config.action_timeout_s * 2 + self.config.navigation_timeout_s + 5
        while True:  # each pass after a fault spends a restart; _recover raises past the budget
            restarted = self._recover()
            if restarted is not None:
                self._notes.append(restarted)
            if self._dialog_info is not None:
                return self._dialog_observation()
            mark = len(self._notes)
            try:
                shot, data, title = self._run(self._look_or_dialog(), budget)
            except EnvError:
                if self._fault is None:
                    raise
            else:
                if self._dialog_info is not None:  # it opened while we looked
                    return self._dialog_observation()
                said = " ".join(self._notes[mark:])  # a failed capture may be a fault's first sign
                if self._suspect is not None or any(m in said for m in _FATAL):
                    self._run(self._after_failure(said), _PROBE_TIMEOUT_S + _FAULT_WAIT_S + 5)
                if self._pending_fault() is None:
                    return self._observation(shot, data, title)
            del self._notes[mark:]  # what the failed look said; the recovery's note replaces it

    async def _look_or_dialog(self) -> tuple[Image.Image, bytes | None, str]:
        """``_look``, abandoned when the page opens a dialog meanwhile (nothing can be captured
        until it is answered; ``observe`` then shows the dialog)."""
        if self._dialog_event is None:
            return await self._look()
        self._dialog_event.clear()
        look = asyncio.ensure_future(self._look())
        waiter = asyncio.ensure_future(self._dialog_event.wait())
        try:
            await asyncio.wait({look, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if look.done():
            return look.result()
        look.cancel()
        look.add_done_callback(_retrieve)
        return self._blank(), None, ""

    async def _look(self) -> tuple[Image.Image, bytes | None, str]:
        """Settle what the last action started while capturing; recapture only if it mattered."""
        if not self._settle_pending:
            return await self._screenshot()
        self._settle_pending = False
        capture = asyncio.ensure_future(self._screenshot())
        try:
            popups = await self._tick()
            # A capture can stall while a navigation replaces the document, so watch for one (its
            # request may be reported a little after the tick) until the capture is in.
            while not self._unsettled(popups):
                done, _ = await asyncio.wait({capture}, timeout=_NAV_POLL_S)
                if done:
                    return capture.result()
        except asyncio.CancelledError:  # a dialog opened (see _look_or_dialog)
            capture.cancel()
            capture.add_done_callback(_retrieve)
            raise
        capture.cancel()
        with contextlib.suppress(asyncio.CancelledError, PlaywrightError):
            await capture
        await self._wait_for_navigation(popups)
        return await self._screenshot()

    async def _screenshot(self) -> tuple[Image.Image, bytes | None, str]:
        """(image, encoded bytes, title) of the active tab's viewport."""
        c = self.config
        page = self._page
        try:
            # a tab that is still loading (a popup opened by the last action) first gets to DOM
            # ready; one that never does is captured as it is, and later looks wait only briefly
            slow = page in self._slow_pages
            wait_s = _SLOW_WAIT_S if slow else c.navigation_timeout_s
            try:
                await page.wait_for_load_state("domcontentloaded", timeout=wait_s * 1000)
            except PlaywrightTimeout:
                if not slow:
                    self._slow_pages.add(page)
                    self._notes.append(f"the page was still loading after {wait_s:.0f} s")
            data, title = await _both(self._capture(page), page.title(), c.action_timeout_s)
        except (PlaywrightError, TimeoutError) as e:
            if self._dialog_info is not None:  # a dialog opened while we were capturing
                return self._blank(), None, ""
            if isinstance(e, TimeoutError):
                self._suspect = page
            self._notes.append(f"screenshot failed: {first_line(e)}")
            return self._last_shot or self._blank(), None, ""
        img = Image.open(io.BytesIO(data))
        img.load()
        self._last_shot = img
        return img, data, title

    async def _capture_cdp(self, page: Page) -> bytes | None:
        """One DevTools capture of the viewport, or None if Chromium refused or it came out at an
        unexpected size (then Playwright's screenshot is used instead)."""
        c = self.config
        scale = self._scale()
        try:
            cdp = self._cdp.get(page)
            if cdp is None:
                cdp = self._cdp[page] = await page.context.new_cdp_session(page)
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
        if _png_or_jpeg_size(data) != want:
            log.warning("CDP screenshot is not %sx%s; using Playwright's screenshot", *want)
            self._cdp_failures = _CDP_MAX_FAILURES
            return None
        return data

    async def _capture(self, page: Page) -> bytes:
        """The viewport as PNG/JPEG bytes, straight from Chromium's DevTools protocol.

        ``Page.captureScreenshot`` with ``optimizeForSpeed`` is about 15 ms faster than
        ``page.screenshot`` (which also waits for fonts and injects a caret-hiding style; our
        init script hides the caret once per document instead) and yields PNGs that decode 2-3x
        faster. Without a clip Chromium captures the viewport at CSS scale; device scale needs a
        clip in document coordinates at the visual viewport's scroll offset. A capture Chromium
        refuses is retried, then taken with Playwright's screenshot; after repeated refusals (or an
        image of the wrong size) Playwright's screenshot is used for good.
        """
        c = self.config
        if self._cdp_failures < _CDP_MAX_FAILURES:
            for _ in range(2):  # Chromium sometimes answers "Unable to capture screenshot" once
                data = await self._capture_cdp(page)
                if data is not None:
                    self._cdp_failures = 0
                    return data
                await asyncio.sleep(0.02)
            self._cdp_failures += 1
        opts: dict[str, Any] = {"type": c.screenshot_format, "scale": c.screenshot_scale}
        if c.screenshot_format == "jpeg":
            opts["quality"] = c.jpeg_quality
        return await page.screenshot(timeout=c.action_timeout_s * 1000, **opts)

    def _scale(self) -> float:
        return self.config.device_scale_factor if self.config.screenshot_scale == "device" else 1.0

    def _blank(self) -> Image.Image:
        s = self._scale()
        size = (round(self.config.viewport_w * s), round(self.config.viewport_h * s))
        return Image.new("RGB", size, (255, 255, 255))

    def _observation(
        self, shot: Image.Image, encoded: bytes | None = None, title: str = ""
    ) -> Observation:
        notes, self._notes = tuple(self._redact(n) for n in _coalesce(self._notes)), []
        return Observation(
            screenshot=shot,
            url=self._redact(self.url),
            title=self._redact(title),
            viewport_w=self.config.viewport_w,
            viewport_h=self.config.viewport_h,
            device_scale_factor=self.config.device_scale_factor,
            screenshot_scale=self._scale(),
            dialog=self._dialog_info,
            tabs=len(self._pages),
            notes=notes,
            encoded=encoded,
            encoded_format=self.config.screenshot_format,
        )

    def _dialog_layout(self) -> dialogs.DialogLayout:
        assert self._dialog_info is not None
        return dialogs.layout(self._dialog_info, self.config.viewport_w, self.config.viewport_h)

    def _dialog_observation(self) -> Observation:
        assert self._dialog_info is not None
        base = self._last_shot or self._blank()
        text = (
            self._prompt_text if self._prompt_text is not None else self._dialog_info.default_value
        )
        img = dialogs.render(base, self._dialog_info, self._dialog_layout(), self._scale(), text)
        return self._observation(img)

    # ------------------------------------------------------------ act

    def act(self, action: Action) -> ActionResult:
        restarted = self._recover()
        if restarted is not None:  # the model saw the page before the fault: do not act on it
            raise BrowserRestarted(f"{restarted}; {describe(action)} was not performed")
        budget = self.config.action_timeout_s + self.config.navigation_timeout_s + 5
        result: ActionResult | None = None
        try:
            if self._dialog_info is not None:
                result = self._answer_dialog(action)
            else:
                result = self._run(self._act(action), budget)
        except EnvError:
            if self._fault is None:
                raise
        if result is not None and not result.ok:
            self._run(self._after_failure(result.error or ""), _PROBE_TIMEOUT_S + _FAULT_WAIT_S + 5)
        restarted = self._recover()
        if restarted is not None:
            raise BrowserRestarted(
                f"{restarted}; whether {describe(action)} took effect is unknown"
            )
        assert result is not None  # no result means a fault, and a fault was recovered or raised
        return result

    async def _act(self, action: Action) -> ActionResult:
        await self._settle()
        self._nav_started = self._popup_opened = False
        self._committed.clear()
        self._popup_event.clear()
        vp = (self.config.viewport_w, self.config.viewport_h)
        self._acted_on = self._page
        task = asyncio.ensure_future(self._guarded(action, vp))
        return await self._await_or_dialog(task)

    async def _guarded(self, action: Action, vp: tuple[int, int]) -> ActionResult:
        c = self.config
        try:
            result = await execute(
                self._page,
                action,
                vp,
                c.navigation_timeout_s,
                policy=self._policy,
                secrets=c.secrets,
            )
        except PlaywrightError as e:
            result = ActionResult.failure(f"{action.kind} failed: {first_line(e)}")
        if result.error is not None:  # an error may quote the page (a URL with a typed secret)
            result = result.model_copy(update={"error": self._redact(result.error)})
        return result

    async def _await_or_dialog(self, task: asyncio.Task[ActionResult]) -> ActionResult:
        """Wait for an action; if it opens a dialog, park it and return so the agent can look."""
        assert self._dialog_event is not None
        self._dialog_event.clear()
        waiter = asyncio.ensure_future(self._dialog_event.wait())
        done, _ = await asyncio.wait(
            {task, waiter},
            timeout=self.config.action_timeout_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
        waiter.cancel()
        if task in done:
            self._pending = None
            result = task.result()
            self._settle_pending = True
            notes = tuple(self._drain_notes(None))
            return result.model_copy(update={"notes": result.notes + notes})
        if self._dialog_info is not None:
            self._pending = task
            return ActionResult.success(*self._drain_notes(None))
        task.cancel()
        self._pending = None
        self._suspect = self._acted_on
        return ActionResult.failure(
            f"the action did not finish within {self.config.action_timeout_s:.0f} s",
            *self._drain_notes(None),
        )

    def _drain_notes(self, extra: str | None) -> list[str]:
        notes = [self._redact(n) for n in _coalesce([*self._notes, *([extra] if extra else [])])]
        self._notes.clear()
        return notes

    async def _tick(self) -> int:
        """One task turn in the page: lets script-initiated navigations start (we then see their
        request); returns how many new tabs the page asked for meanwhile."""
        try:
            popups = await asyncio.wait_for(self._page.evaluate(_TICK_JS), _TICK_TIMEOUT_S)
        except (PlaywrightError, TimeoutError, EnvError):
            return 0  # the context was destroyed by a navigation, the page is busy, or it is gone
        return int(popups) if isinstance(popups, (int, float)) else 0

    def _unsettled(self, popups: int) -> bool:
        return bool(popups and not self._popup_opened) or self._nav_started

    async def _wait_for_navigation(self, popups: int) -> None:
        """Wait (bounded) for the new tab and/or the navigation the last action started."""
        if popups and not self._popup_opened:
            try:
                await asyncio.wait_for(self._popup_event.wait(), _POPUP_WAIT_S)
            except TimeoutError:
                self._notes.append("the page tried to open a new tab, but none appeared")
        if not self._nav_started or not self._pages:
            return
        self._nav_started = False
        timeout_s = self.config.navigation_timeout_s
        try:
            if not self._popup_opened:
                await asyncio.wait_for(self._committed.wait(), timeout_s)
            await self._page.wait_for_load_state("domcontentloaded", timeout=timeout_s * 1000)
        except (PlaywrightError, TimeoutError):
            self._notes.append(f"the page was still loading after {timeout_s:.0f} s")
            self._slow_pages.add(self._page)

    async def _settle(self) -> None:
        """Finish what the last action started before anything looks at the page.

        Handlers often navigate from script (``location.href = ...`` in a submit handler) after
        the click itself returned, and the browser reports new tabs late. Actions therefore leave
        ``_settle_pending`` set; whoever looks next (observe, evaluate, the next action) settles
        first. ``observe`` overlaps the page tick with the capture and recaptures only when a
        navigation or a new tab turns up, which keeps the common step as fast as a bare capture.
        """
        if not self._settle_pending:
            return
        self._settle_pending = False
        await self._wait_for_navigation(await self._tick())

    # ------------------------------------------------------------ dialogs

    def _answer_dialog(self, action: Action) -> ActionResult:
        info = self._dialog_info
        assert info is not None
        hint = (
            f"a {info.type} dialog is open ({info.message!r}): click OK"
            + (" or Cancel" if info.type != "alert" else "")
            + ", or press Enter / Escape"
            + ("; type text to answer the prompt" if info.type == "prompt" else "")
        )
        match action:
            case Click(x=x, y=y):
                hit = self._dialog_layout().hit(x, y)
                if hit == "ok":
                    return self._resolve(accept=True)
                if hit == "cancel":
                    return self._resolve(accept=False)
                if hit == "field":
                    return ActionResult.success()
                return ActionResult.failure(hint)
            case KeyPress(keys=keys):
                try:
                    combo = normalize_combo(keys)
                except ValueError as e:
                    return ActionResult.failure(str(e))
                if combo == "Enter":
                    return self._resolve(accept=True)
                if combo == "Escape":
                    return self._resolve(accept=False)
                return ActionResult.failure(hint)
            case Type(text=text, submit=submit) if info.type == "prompt":
                self._prompt_text = (self._prompt_text or "") + text
                return self._resolve(accept=True) if submit else ActionResult.success()
            case Wait(seconds=s):
                self._run(asyncio.sleep(s), s + 5)
                return ActionResult.success()
            case _:
                return ActionResult.failure(hint)

    def _resolve(self, *, accept: bool) -> ActionResult:
        budget = self.config.action_timeout_s + self.config.navigation_timeout_s + 5
        return self._run(self._resolve_async(accept), budget)

    async def _resolve_async(self, accept: bool) -> ActionResult:
        dialog, info, text = self._dialog, self._dialog_info, self._prompt_text
        assert dialog is not None and info is not None
        try:  # a prompt's answer may name secrets: shown as placeholders, filled in only here
            answer = self.config.secrets.fill(text) if text is not None else None
        except SecretError as e:
            return ActionResult.failure(str(e))
        self._dialog = self._dialog_info = self._prompt_text = None
        try:
            if accept:
                await dialog.accept(answer if info.type == "prompt" else None)  # type: ignore[arg-type]
            else:
                await dialog.dismiss()
        except PlaywrightError as e:
            return ActionResult.failure(f"the dialog could not be answered: {first_line(e)}")
        verb = "accepted" if accept else "dismissed"
        self._notes.append(f"the {info.type} dialog was {verb}")
        if self._pending is None:
            return ActionResult.success(*self._drain_notes(None))
        task, self._pending = self._pending, None
        return await self._await_or_dialog(task)

    # ------------------------------------------------------------ faults and recovery

    def _set_fault(self, kind: Literal["page", "browser"], what: str) -> None:
        """Remember a fault for the next call to recover from; the first one since then wins."""
        if self._fault is None:
            self._fault = _Fault(kind, what)
            log.warning("browser fault: %s", what)

    def _pending_fault(self) -> _Fault | None:
        if self._fault is None and self._browser is not None and not self._browser.is_connected():
            self._set_fault("browser", "the browser process died")
        return self._fault

    def _on_crash(self, page: Page) -> None:
        if self._pages and self._pages[-1] is page:
            self._set_fault("page", "the page crashed")
        elif page in self._pages:  # a background tab: drop it and go on in the active one
            self._pages.remove(page)
            self._notes.append("a background tab crashed and was closed")
            self._background(self._close_page(page))

    def _on_disconnected(self, browser: Browser) -> None:
        if browser is self._browser:  # not our own shutdown, which forgets the browser first
            self._set_fault("browser", "the browser process died")

    async def _after_failure(self, error: str) -> None:
        """A failed action may be the first sign of a fault: a hung tab (the action timed out),
        or a crash or a dead browser whose event arrives just after the call's error."""
        if self._suspect is not None:
            await self._probe()
        elif any(m in error for m in _FATAL):
            deadline = time.monotonic() + _FAULT_WAIT_S
            while self._pending_fault() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)

    async def _probe(self) -> None:
        """After a timeout: a tab that cannot evaluate ``1`` within ``_PROBE_TIMEOUT_S`` is hung.
        The active tab is then a fault; a background one (the opener of newer tabs) is closed."""
        page, self._suspect = self._suspect, None
        if page is None or page not in self._pages or self._dialog_info is not None:
            return  # gone already, or blocked by a dialog, which is by design
        try:
            await asyncio.wait_for(page.evaluate("1"), _PROBE_TIMEOUT_S)
        except TimeoutError:
            if not await self._browser_answers():
                self._set_fault("browser", "the browser stopped responding")
            elif page is self._pages[-1]:
                self._set_fault("page", "the page stopped responding")
            else:
                self._pages.remove(page)
                self._notes.append("a background tab stopped responding and was closed")
                self._background(self._close_page(page))
        except PlaywrightError:
            pass  # navigated away, crashed or closed: the page's own events tell those apart

    async def _browser_answers(self) -> bool:
        """Does the browser process itself answer DevTools (a frozen one does not)?"""
        browser = self._browser
        if browser is None:
            return False

        async def ask(b: Browser) -> None:
            cdp = await b.new_browser_cdp_session()
            await cdp.send("Browser.getVersion")
            await cdp.detach()

        try:
            await asyncio.wait_for(ask(browser), _PROBE_TIMEOUT_S)
        except (PlaywrightError, TimeoutError):
            return False
        return True

    def _recover(self) -> str | None:
        """Recover from the fault seen since the last call, if any; a sentence saying what
        happened, or None. Raises EnvError when the budget is spent or the restart fails."""
        fault = self._pending_fault()
        if fault is None:
            return None
        limit = self.config.max_restarts
        if self._restarts >= limit:  # the fault stays: every call fails like this until reset
            raise EnvError(
                f"{fault.what}, and the browser was already restarted {self._restarts} time(s) "
                f"since the task started (max_restarts={limit})"
            )
        self._fault = None
        self._restarts += 1
        url = self._good_url or "about:blank"
        budget = self.config.navigation_timeout_s + 3 * _CLOSE_TIMEOUT_S + 45  # a launch included
        try:
            loaded, relaunched = self._run(self._restart(fault, url), budget)
        except EnvError as e:
            self._set_fault("browser", fault.what)  # the next call or reset starts afresh
            raise EnvError(f"{fault.what}, and restarting the browser failed: {e}") from None
        procs.reap_zombies()
        if relaunched:
            told = f"{fault.what}; restarted the browser and reloaded {url} (cookies were lost)"
        else:
            told = f"{fault.what}; reloaded {url} in a new tab"
        if not loaded.ok:
            told += f", but it did not load: {loaded.error}"
        log.warning("recovered (%d of %d): %s", self._restarts, limit, told)
        return told

    async def _restart(self, fault: _Fault, url: str) -> tuple[ActionResult, bool]:
        """A new tab at ``url`` after a page fault, else a relaunched browser; (load, relaunched)."""
        browser = self._browser
        if fault.kind == "page" and self._context is not None and browser is not None:
            bound_s = _CLOSE_TIMEOUT_S + self.config.navigation_timeout_s + 5
            try:
                return await asyncio.wait_for(self._replace_tab(url), bound_s), False
            except (PlaywrightError, TimeoutError) as e:
                log.warning("no new tab (%s); relaunching the browser", first_line(e))
        await self._shutdown_browser(kill=True)  # dead already, or not to be trusted to exit
        return await self._new_context(url), True

    async def _replace_tab(self, url: str) -> ActionResult:
        """Close the active (crashed or hung) tab and load ``url`` in a new one, same context."""
        assert self._context is not None
        if self._pending is not None:
            self._pending.cancel()
        self._dialog = self._dialog_info = self._pending = self._prompt_text = None
        self._settle_pending = False
        self._last_shot = None
        if self._pages:
            old = self._pages.pop()
            self._cdp.pop(old, None)
            self._slow_pages.discard(old)
            await self._close_page(old)
        arrivals: list[Page] = []  # a popup storm may go on meanwhile
        self._arrivals = arrivals
        page: Page | None = None
        try:
            page = await self._context.new_page()
        finally:
            self._arrivals = None
            for other in arrivals:
                if other is not page:
                    self._background(self._close_page(other))
        self._pages.append(page)
        return await self._goto(page, url)

    async def _close_page(self, page: Page) -> None:
        with contextlib.suppress(PlaywrightError, TimeoutError):
            await asyncio.wait_for(page.close(run_before_unload=False), _CLOSE_TIMEOUT_S)

    # ------------------------------------------------------------ queries

    def evaluate(self, expression: str, arg: JsonValue = None) -> JsonValue:
        restarted = self._recover()
        if restarted is not None:
            self._notes.append(restarted)
        if self._dialog_info is not None:
            raise EnvError(
                f"a {self._dialog_info.type} dialog is open; the page cannot run scripts"
            )
        return self._run(self._evaluate(expression, arg), self.config.action_timeout_s * 2)

    async def _evaluate(self, expression: str, arg: JsonValue) -> JsonValue:
        """Evaluate on the active tab, retrying once if a navigation replaced the document."""
        await self._settle()
        for attempt in range(3):
            page = self._page
            try:
                await page.wait_for_load_state(
                    "domcontentloaded", timeout=self.config.action_timeout_s * 1000
                )
                value: JsonValue = await page.evaluate(expression, arg)
                return value
            except PlaywrightError as e:
                first = first_line(e)
                if attempt < 2 and any(m in first for m in _NAVIGATED_AWAY):
                    await asyncio.sleep(0.05)
                    continue
                raise EnvError(first) from None
        raise AssertionError("unreachable")
