"""Fault detection and recovery for ``BrowserEnv``: crashed or hung tabs, dead or frozen browsers.

Contract:
- Detection records at most one ``Fault`` between two calls of the environment (the first one
  wins): the page ``crash`` event of the active tab, the browser ``disconnected`` event or
  ``is_connected()`` turning false, a ``_run`` deadline hit (``BrowserEnv._run`` calls
  ``set_fault``), and ``after_failure``: after a timeout a tab that cannot evaluate ``1`` within
  ``_PROBE_TIMEOUT_S`` is hung (and the browser frozen if DevTools does not answer either); after
  a "target closed" error the crash/disconnect event is awaited up to ``_FAULT_WAIT_S``.
  A crashed or hung *background* tab is no fault: it is closed, with a note.
- ``recover()`` (at the start of observe and evaluate, before and after act) replaces the
  active tab with a new one in the same context after a page fault, else kills and relaunches
  the browser, and reloads the last committed top-level URL (``remember``); it returns a
  sentence saying so, for the model. Past ``max_restarts`` recoveries since ``start_task`` it
  raises ``EnvError`` (the fault stays until the next reset), and it raises ``EnvError`` when the
  restart itself fails.
- Closing a tab (``close_page``) is bounded by ``CLOSE_TIMEOUT_S`` and never raises.

Not here: launching, closing and creating contexts (``BrowserEnv`` does those; recovery calls
them), telling the model (``observe`` adds the sentence to its notes, ``act`` raises
``BrowserRestarted``). A ``Recovery`` works on its environment's tab state and runs on the
environment's loop thread, except ``start_task``, ``recover`` and ``after_failure`` (caller's).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from playwright.async_api import Browser, Page
from playwright.async_api import Error as PlaywrightError

from actions import procs
from actions.environment import EnvError, first_line
from actions.types import ActionResult

if TYPE_CHECKING:
    from actions.browser import BrowserEnv

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0  # closing a tab, a context or the browser; then the browser is killed
_PROBE_TIMEOUT_S = 2.0  # a tab that cannot evaluate `1` this fast after a timeout is hung
_FAULT_WAIT_S = 1.0  # how long a "target closed" error waits for the crash/disconnect event
# Errors that mean the tab or the browser is gone rather than that the action was wrong.
_FATAL = ("has been closed", "Target crashed", "Browser closed", "Connection closed")
_RELOADABLE = ("http:", "https:", "file:", "data:")


@dataclass(frozen=True)
class Fault:
    """Something that broke since the environment's last call, to recover from at the next."""

    kind: Literal["page", "browser"]  # page: a new tab is enough; browser: relaunch it
    what: str  # "the page crashed", for the model and the log


async def close_page(page: Page) -> None:
    """Close a tab without running its beforeunload handlers; gives up after CLOSE_TIMEOUT_S."""
    with contextlib.suppress(PlaywrightError, TimeoutError):
        await asyncio.wait_for(page.close(run_before_unload=False), CLOSE_TIMEOUT_S)


class Recovery:
    """The faults of one ``BrowserEnv`` and their recovery; see the module contract."""

    def __init__(self, env: BrowserEnv) -> None:
        self._env = env
        self.fault: Fault | None = None  # what broke since the last call (first one wins)
        self.restarts = 0  # recoveries since the last reset, at most config.max_restarts
        self.good_url: str | None = None  # the active tab's last committed top-level URL
        self.suspect: Page | None = None  # a tab an action or capture timed out on: probe it

    # ------------------------------------------------------------ detection

    def start_task(self, url: str) -> Fault | None:
        """A reset at ``url``: the restart budget is full again; returns the fault left over."""
        fault, self.fault = self.pending_fault(), None
        self.restarts = 0
        self.good_url = url
        return fault

    def remember(self, url: str) -> None:
        """Keep ``url`` as the one to reload after a fault, if it can be reloaded."""
        if url.startswith(_RELOADABLE):
            self.good_url = url

    def set_fault(self, kind: Literal["page", "browser"], what: str) -> None:
        """Remember a fault for the next call to recover from; the first one since then wins."""
        if self.fault is None:
            self.fault = Fault(kind, what)
            log.warning("browser fault: %s", what)

    def pending_fault(self) -> Fault | None:
        browser = self._env._browser
        if self.fault is None and browser is not None and not browser.is_connected():
            self.set_fault("browser", "the browser process died")
        return self.fault

    def on_crash(self, page: Page) -> None:
        env = self._env
        if env._pages and env._pages[-1] is page:
            self.set_fault("page", "the page crashed")
        elif page in env._pages:  # a background tab: drop it and go on in the active one
            env._pages.remove(page)
            env._notes.append("a background tab crashed and was closed")
            env._background(close_page(page))

    def on_disconnected(self, browser: Browser) -> None:
        if browser is self._env._browser:  # not our own shutdown, which forgets the browser first
            self.set_fault("browser", "the browser process died")

    def after_failure(self, error: str) -> None:
        """A failed action or capture may be the first sign of a fault: a hung tab (something
        timed out on ``suspect``), or a crash or a dead browser whose event arrives just after
        the call's ``error``. Probes or waits for it, bounded (caller's thread)."""
        if self.suspect is None and not any(m in error for m in _FATAL):
            return
        self._env._run(self._after_failure(error), _PROBE_TIMEOUT_S + _FAULT_WAIT_S + 5)

    async def _after_failure(self, error: str) -> None:
        if self.suspect is not None:
            await self._probe()
        elif any(m in error for m in _FATAL):
            deadline = time.monotonic() + _FAULT_WAIT_S
            while self.pending_fault() is None and time.monotonic() < deadline:
                await asyncio.sleep(0.02)

    async def _probe(self) -> None:
        """After a timeout: a tab that cannot evaluate ``1`` within ``_PROBE_TIMEOUT_S`` is hung.
        The active tab is then a fault; a background one (the opener of newer tabs) is closed."""
        env = self._env
        page, self.suspect = self.suspect, None
        if page is None or page not in env._pages or env._dialog_info is not None:
            return  # gone already, or blocked by a dialog, which is by design
        try:
            await asyncio.wait_for(page.evaluate("1"), _PROBE_TIMEOUT_S)
        except TimeoutError:
            if not await self._browser_answers():
                self.set_fault("browser", "the browser stopped responding")
            elif page is env._pages[-1]:
                self.set_fault("page", "the page stopped responding")
            else:
                env._pages.remove(page)
                env._notes.append("a background tab stopped responding and was closed")
                env._background(close_page(page))
        except PlaywrightError:
            pass  # navigated away, crashed or closed: the page's own events tell those apart

    async def _browser_answers(self) -> bool:
        """Does the browser process itself answer DevTools (a frozen one does not)?"""
        browser = self._env._browser
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

    # ------------------------------------------------------------ recovery

    def recover(self) -> str | None:
        """Recover from the fault seen since the last call, if any; a sentence saying what
        happened, or None. Raises EnvError when the budget is spent or the restart fails."""
        env = self._env
        fault = self.pending_fault()
        if fault is None:
            return None
        limit = env.config.max_restarts
        if self.restarts >= limit:  # the fault stays: every call fails like this until reset
            raise EnvError(
                f"{fault.what}, and the browser was already restarted {self.restarts} time(s) "
                f"since the task started (max_restarts={limit})"
            )
        self.fault = None
        self.restarts += 1
        url = self.good_url or "about:blank"
        budget = env.config.navigation_timeout_s + 3 * CLOSE_TIMEOUT_S + 45  # a launch included
        try:
            loaded, relaunched = env._run(self._restart(fault, url), budget)
        except EnvError as e:
            self.set_fault("browser", fault.what)  # the next call or reset starts afresh
            raise EnvError(f"{fault.what}, and restarting the browser failed: {e}") from None
        procs.reap_zombies()
        if relaunched:
            told = f"{fault.what}; restarted the browser and reloaded {url} (cookies were lost)"
        else:
            told = f"{fault.what}; reloaded {url} in a new tab"
        if not loaded.ok:
            told += f", but it did not load: {loaded.error}"
        log.warning("recovered (%d of %d): %s", self.restarts, limit, told)
        return told

    async def _restart(self, fault: Fault, url: str) -> tuple[ActionResult, bool]:
        """A new tab at ``url`` after a page fault, else a relaunched browser; (load, relaunched)."""
        env = self._env
        browser = env._browser
        if fault.kind == "page" and env._context is not None and browser is not None:
            bound_s = CLOSE_TIMEOUT_S + env.config.navigation_timeout_s + 5
            try:
                return await asyncio.wait_for(self._replace_tab(url), bound_s), False
            except (PlaywrightError, TimeoutError) as e:
                log.warning("no new tab (%s); relaunching the browser", first_line(e))
        await env._shutdown_browser(kill=True)  # dead already, or not to be trusted to exit
        return await env._new_context(url), True

    async def _replace_tab(self, url: str) -> ActionResult:
        """Close the active (crashed or hung) tab and load ``url`` in a new one, same context."""
        env = self._env
        assert env._context is not None
        if env._pending is not None:
            env._pending.cancel()
        env._dialog = env._dialog_info = env._pending = env._prompt_text = None
        env._settler.pending = False
        env._last_shot = None
        if env._pages:
            old = env._pages.pop()
            env._capture.forget(old)
            env._slow_pages.discard(old)
            await close_page(old)
        arrivals: list[Page] = []  # a popup storm may go on meanwhile
        env._events.arrivals = arrivals
        page: Page | None = None
        try:
            page = await env._context.new_page()
        finally:
            env._events.arrivals = None
            for other in arrivals:
                if other is not page:
                    env._background(close_page(other))
        env._pages.append(page)
        return await env._goto(page, url)
