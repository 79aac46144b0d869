"""The Playwright browser environment: with the modules it is split into (see Layout below), the
only place Playwright is driven.

Contract (see ``actions.environment.Environment``):
- A synchronous facade over async Playwright running on its own event-loop thread. Every call has
  a deadline, so a hung page costs at most ``action_timeout_s``/``navigation_timeout_s``, never a
  hang.
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
- Faults are recovered at the next call: a crashed or hung active tab is replaced by a new tab in
  the same context, a dead or unanswering browser is relaunched (killed by pid when it does not
  close); either reloads the last committed top-level URL. ``observe`` reports it as a note,
  ``act`` raises ``BrowserRestarted``; past ``max_restarts`` per reset an ``EnvError`` stops the
  episode. Tabs (``max_tabs``) and downloads (``max_downloads``) are capped so a storm of either
  stays bounded; repeated notes are merged.
- Safety (``actions.safety``): when ``allowed_domains`` restricts hosts, every request of the
  context goes through an ``actions.proxy.FilteringProxy`` (loopback included), and each request it
  refuses becomes a note ("Gaze blocked a request to ..."); a start URL the policy refuses is not
  loaded; service workers are always blocked. Everything reported (URL, title, notes, dialog text,
  action errors) has the task's secret values replaced by their placeholders.

Layout. ``BrowserEnv`` (here) is the public class: the loop thread and its deadlines, the
browser's lifecycle (launch, context, shutdown), the tab state, and reset/observe/act/evaluate/
close. Its parts live beside it, each a small helper object with its own module contract:
- ``actions.capture``: ``ScreenCapture``, the viewport's pixels (DevTools first, then Playwright);
- ``actions.settle``: ``Settler``, waiting for the navigation or new tab an action started;
- ``actions.page_events``: ``PageEvents``, Playwright's tab, request, dialog and download events
  and the notes they leave; ``coalesce`` merges repeated notes;
- ``actions.dialog_answers``: ``DialogAnswers``, an open dialog shown to the model and answered;
- ``actions.recovery``: ``Recovery``, fault detection, probes, the replacement tab or relaunched
  browser, and the restart budget;
- ``actions.aio``: asyncio helpers.
All but ``ScreenCapture`` hold a reference to their ``BrowserEnv`` and work on its tab state
(``_pages``, ``_notes``, the dialog fields) on its loop thread; ``BrowserEnv.__init__`` lists
that state. Nothing outside ``actions`` imports these modules; use ``BrowserEnv``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import logging
import threading
from collections.abc import Coroutine
from importlib.metadata import version as pkg_version
from typing import Any, TypeVar

from PIL import Image
from playwright.async_api import (
    Browser,
    BrowserContext,
    Dialog,
    Page,
    Playwright,
    ProxySettings,
    async_playwright,
)
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout

from actions import procs
from actions.aio import both, retrieve
from actions.capture import ScreenCapture, blank, shot_scale
from actions.chromium import (
    QUIET_ARGS,
    ChromiumNotFound,
    find_chromium,
    install_hint,
    needs_no_sandbox,
)
from actions.dialog_answers import DialogAnswers, dialog_phrase
from actions.environment import BrowserConfig, BrowserRestarted, EnvError, JsonValue, first_line
from actions.executor import execute
from actions.page_events import PageEvents, coalesce
from actions.proxy import FilteringProxy, launch_args
from actions.recovery import CLOSE_TIMEOUT_S, Recovery
from actions.safety import UrlPolicy
from actions.settle import POPUP_COUNTER_JS, Settler
from actions.types import Action, ActionResult, DialogInfo, Observation, describe

log = logging.getLogger(__name__)
T = TypeVar("T")

# Errors that mean "a navigation replaced the document under us": retry after it settles.
_NAVIGATED_AWAY = ("Execution context was destroyed", "navigation")
_SLOW_WAIT_S = 0.5  # DOMContentLoaded wait for a tab that already missed it once


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
        self._pages: list[Page] = []  # open tabs, oldest first; the last one is active
        self._dialog: Dialog | None = None  # the open JS dialog, answered by the next action
        self._dialog_info: DialogInfo | None = None  # what the model is shown of it (redacted)
        self._prompt_text: str | None = None  # a prompt's answer typed so far
        self._pending: asyncio.Task[ActionResult] | None = None  # the action the dialog paused
        self._dialog_event: asyncio.Event | None = None  # set when a dialog opens (per context)
        self._notes: list[str] = []  # for the next Observation or ActionResult
        self._last_shot: Image.Image | None = None
        self._tasks: set[asyncio.Future[object]] = set()
        self._closed = False
        self.executable: str | None = None
        self._policy = UrlPolicy()  # what the current context may load (actions.safety)
        self._proxy: FilteringProxy | None = None  # enforces it when it restricts hosts
        self._browser_pid: int | None = None
        self._acted_on: Page | None = None  # the tab the last action ran in
        self._slow_pages: set[Page] = set()  # tabs that missed DOMContentLoaded once
        self._capture = ScreenCapture()  # DevTools sessions per tab
        self._settler = Settler(self)  # what the last action started: navigations, new tabs
        self._recovery = Recovery(self)  # the fault, restarts, the URL to reload
        self._events = PageEvents(self)  # event handlers; downloads taken
        self._answers = DialogAnswers(self)  # the open dialog, shown and answered

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
                self._recovery.set_fault("browser", message)
            raise EnvError(message) from None
        except KeyboardInterrupt:
            # Ctrl-C stops the action too, rather than leaving it running in the browser thread
            fut.cancel()
            raise

    def _background(self, coro: Coroutine[Any, Any, object]) -> None:
        """Run a coroutine on the loop without awaiting it, keeping a reference until it ends."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def _page(self) -> Page:
        if not self._pages:
            raise EnvError("no open tab (call reset first)")
        return self._pages[-1]

    @property
    def url(self) -> str:
        """The active tab's URL, once whatever the last action started has settled."""
        if self._settler.pending and not self._closed and self._dialog_info is None:
            try:
                self._run(self._settler.settle(), self.config.navigation_timeout_s + 10)
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
        self._browser.on("disconnected", self._recovery.on_disconnected)
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
        self._context.on("page", self._events.on_new_page)
        await self._context.add_init_script(POPUP_COUNTER_JS)
        self._context.set_default_timeout(c.action_timeout_s * 1000)
        page = await self._context.new_page()  # PageEvents.on_new_page registers it
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
            self._proxy = FilteringProxy(policy, self._events.on_blocked_threadsafe)
        self._proxy.policy = policy
        return {"server": self._proxy.server}

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
            load.add_done_callback(retrieve)
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
        self._capture.clear()
        self._dialog = self._dialog_info = self._pending = None
        self._last_shot = None
        self._slow_pages.clear()
        if ctx is not None:
            with contextlib.suppress(PlaywrightError, TimeoutError):
                await asyncio.wait_for(ctx.close(), CLOSE_TIMEOUT_S)

    def reset(self, url: str, config: BrowserConfig | None = None) -> ActionResult:
        """A fresh context (no cookies, storage or tabs) at ``url``."""
        fault = self._recovery.start_task(url)
        self._events.start_task()
        if fault is not None and fault.kind == "browser" and self._browser is not None:
            # dead or wedged: start afresh
            self._run(self._shutdown_browser(kill=True), 3 * CLOSE_TIMEOUT_S)
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
            await asyncio.wait_for(browser.close(), CLOSE_TIMEOUT_S)
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
            self._run(self._shutdown(), 3 * CLOSE_TIMEOUT_S + 10)
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

    # ------------------------------------------------------------ observe

    def observe(self) -> Observation:
        budget = self.config.action_timeout_s * 2 + self.config.navigation_timeout_s + 5
        while True:  # each pass after a fault spends a restart; recover() raises past the budget
            restarted = self._recovery.recover()
            if restarted is not None:
                self._notes.append(restarted)
            if self._dialog_info is not None:
                return self._dialog_observation()
            mark = len(self._notes)
            try:
                shot, data, title = self._run(self._look_or_dialog(), budget)
            except EnvError:
                if self._recovery.fault is None:
                    raise
            else:
                if self._dialog_info is not None:  # it opened while we looked
                    return self._dialog_observation()
                # a failed capture may be a fault's first sign
                self._recovery.after_failure(" ".join(self._notes[mark:]))
                if self._recovery.pending_fault() is None:
                    return self._observation(shot, data, title)
            del self._notes[mark:]  # what the failed look said; the recovery's note replaces it

    async def _look_or_dialog(self) -> tuple[Image.Image, bytes | None, str]:
        """``Settler.look``, abandoned when the page opens a dialog meanwhile (nothing can be
        captured until it is answered; ``observe`` then shows the dialog)."""
        if self._dialog_event is None:
            return await self._settler.look()
        self._dialog_event.clear()
        look = asyncio.ensure_future(self._settler.look())
        waiter = asyncio.ensure_future(self._dialog_event.wait())
        try:
            await asyncio.wait({look, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if look.done():
            return look.result()
        look.cancel()
        look.add_done_callback(retrieve)
        return blank(self.config), None, ""

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
            data, title = await both(
                self._capture.capture(page, c), page.title(), c.action_timeout_s
            )
        except (PlaywrightError, TimeoutError) as e:
            if self._dialog_info is not None:  # a dialog opened while we were capturing
                return blank(self.config), None, ""
            if isinstance(e, TimeoutError):
                self._recovery.suspect = page
            self._notes.append(f"screenshot failed: {first_line(e)}")
            return self._last_shot or blank(self.config), None, ""
        img = Image.open(io.BytesIO(data))
        img.load()
        self._last_shot = img
        return img, data, title

    def _observation(
        self, shot: Image.Image, encoded: bytes | None = None, title: str = ""
    ) -> Observation:
        notes, self._notes = tuple(self._redact(n) for n in coalesce(self._notes)), []
        return Observation(
            screenshot=shot,
            url=self._redact(self.url),
            title=self._redact(title),
            viewport_w=self.config.viewport_w,
            viewport_h=self.config.viewport_h,
            device_scale_factor=self.config.device_scale_factor,
            screenshot_scale=shot_scale(self.config),
            dialog=self._dialog_info,
            tabs=len(self._pages),
            notes=notes,
            encoded=encoded,
            encoded_format=self.config.screenshot_format,
        )

    def _dialog_observation(self) -> Observation:
        return self._observation(self._answers.image())

    # ------------------------------------------------------------ act

    def act(self, action: Action) -> ActionResult:
        restarted = self._recovery.recover()
        if restarted is not None:  # the model saw the page before the fault: do not act on it
            raise BrowserRestarted(f"{restarted}; {describe(action)} was not performed")
        budget = self.config.action_timeout_s + self.config.navigation_timeout_s + 5
        result: ActionResult | None = None
        try:
            if self._dialog_info is not None:
                result = self._answers.answer(action)
            else:
                result = self._run(self._act(action), budget)
        except EnvError:
            if self._recovery.fault is None:
                raise
        if result is not None and not result.ok:
            self._recovery.after_failure(result.error or "")
        restarted = self._recovery.recover()
        if restarted is not None:
            raise BrowserRestarted(
                f"{restarted}; whether {describe(action)} took effect is unknown"
            )
        assert result is not None  # no result means a fault, and a fault was recovered or raised
        return result

    async def _act(self, action: Action) -> ActionResult:
        await self._settler.settle()
        self._settler.action_started()
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
            self._settler.pending = True
            notes = tuple(self._drain_notes(None))
            return result.model_copy(update={"notes": result.notes + notes})
        if self._dialog_info is not None:
            self._pending = task
            return ActionResult.success(*self._drain_notes(None))
        task.cancel()
        self._pending = None
        self._recovery.suspect = self._acted_on
        return ActionResult.failure(
            f"the action did not finish within {self.config.action_timeout_s:.0f} s",
            *self._drain_notes(None),
        )

    def _drain_notes(self, extra: str | None) -> list[str]:
        notes = [self._redact(n) for n in coalesce([*self._notes, *([extra] if extra else [])])]
        self._notes.clear()
        return notes

    # ------------------------------------------------------------ queries

    def evaluate(self, expression: str, arg: JsonValue = None) -> JsonValue:
        restarted = self._recovery.recover()
        if restarted is not None:
            self._notes.append(restarted)
        if self._dialog_info is not None:
            raise EnvError(
                f"{dialog_phrase(self._dialog_info.type)} is open; the page cannot run scripts"
            )
        return self._run(self._evaluate(expression, arg), self.config.action_timeout_s * 2)

    async def _evaluate(self, expression: str, arg: JsonValue) -> JsonValue:
        """Evaluate on the active tab, retrying once if a navigation replaced the document."""
        await self._settler.settle()
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
