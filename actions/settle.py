"""Settling for ``BrowserEnv``: finish what the last action started before anything looks.

Why: page handlers often navigate from script (``location.href = ...`` in a submit handler) after
the click itself returned, and the browser reports new tabs only some time after the click. So
an action leaves ``pending`` set, and whoever looks next (observe, evaluate, the next action,
reading the URL) settles first.

Contract:
- ``POPUP_COUNTER_JS`` is the init script of every document: it counts the new tabs the page asks
  for (``window.open``, ``target=_blank`` links and forms) and hides the blinking caret.
- ``action_started()`` forgets the previous action's signals; ``PageEvents`` then reports new
  ones here (``nav_started``, ``popup_opened``, ``committed``, ``popup_event``).
- ``settle()``: one macrotask turn in the page (``_TICK_JS``, at most ``_TICK_TIMEOUT_S``), then a
  bounded wait for a new tab the page asked for (``_POPUP_WAIT_S``; a note when none appears) and
  for a started navigation to commit and reach DOMContentLoaded (``navigation_timeout_s``; a note
  and a "slow" mark on the tab when it does not). Never raises for page trouble.
- ``look()``: the same, overlapped with a capture of the page, which is retaken only when a
  navigation or a new tab turned up; the common step costs no more than a bare capture.

Not here: the capture itself (``BrowserEnv._screenshot``), dialogs (a dialog cancels ``look``;
``BrowserEnv._look_or_dialog``), deadlines of the whole call. Loop thread only.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from PIL import Image
from playwright.async_api import Error as PlaywrightError

from actions.aio import retrieve
from actions.environment import EnvError

if TYPE_CHECKING:
    from actions.browser import BrowserEnv

# One macrotask turn in the page: lets script-initiated navigations start before we look, and
# reports how many new tabs the page asked for since the last look (see POPUP_COUNTER_JS).
_TICK_JS = (
    "() => new Promise(r => setTimeout(() => "
    "r(window.__gazeTakePopups ? window.__gazeTakePopups() : 0), 0))"
)
# Counts requests for new tabs (window.open, target=_blank links and forms) as the page makes
# them, because the browser reports the new tab itself only some time after the click returns.
POPUP_COUNTER_JS = """(() => {
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
_NAV_POLL_S = 0.05
_TICK_TIMEOUT_S = 1.0

Shot = tuple[Image.Image, bytes | None, str]  # (image, encoded bytes, title)


class Settler:
    """What the last action of one ``BrowserEnv`` started; see the module contract."""

    def __init__(self, env: BrowserEnv) -> None:
        self._env = env
        self.pending = False  # the last action may have started a navigation or a tab
        self.nav_started = False  # a top-level navigation request was seen
        self.popup_opened = False  # a new tab became the active one
        self.committed = asyncio.Event()  # the main frame committed a navigation during an action
        self.popup_event = asyncio.Event()  # a new tab appeared during an action

    def action_started(self) -> None:
        self.nav_started = self.popup_opened = False
        self.committed.clear()
        self.popup_event.clear()

    async def settle(self) -> None:
        """Finish what the last action started before anything looks at the page."""
        if not self.pending:
            return
        self.pending = False
        await self._wait_for_navigation(await self._tick())

    async def look(self) -> Shot:
        """Settle what the last action started while capturing; recapture only if it mattered."""
        env = self._env
        if not self.pending:
            return await env._screenshot()
        self.pending = False
        capture = asyncio.ensure_future(env._screenshot())
        try:
            popups = await self._tick()
            # A capture can stall while a navigation replaces the document, so watch for one (its
            # request may be reported a little after the tick) until the capture is in.
            while not self._unsettled(popups):
                done, _ = await asyncio.wait({capture}, timeout=_NAV_POLL_S)
                if done:
                    return capture.result()
        except asyncio.CancelledError:  # a dialog opened (see BrowserEnv._look_or_dialog)
            capture.cancel()
            capture.add_done_callback(retrieve)
            raise
        capture.cancel()
        with contextlib.suppress(asyncio.CancelledError, PlaywrightError):
            await capture
        await self._wait_for_navigation(popups)
        return await env._screenshot()

    async def _tick(self) -> int:
        """One task turn in the page: lets script-initiated navigations start (we then see their
        request); returns how many new tabs the page asked for meanwhile."""
        try:
            popups = await asyncio.wait_for(self._env._page.evaluate(_TICK_JS), _TICK_TIMEOUT_S)
        except (PlaywrightError, TimeoutError, EnvError):
            return 0  # the context was destroyed by a navigation, the page is busy, or it is gone
        return int(popups) if isinstance(popups, (int, float)) else 0

    def _unsettled(self, popups: int) -> bool:
        return bool(popups and not self.popup_opened) or self.nav_started

    async def _wait_for_navigation(self, popups: int) -> None:
        """Wait (bounded) for the new tab and/or the navigation the last action started."""
        env = self._env
        if popups and not self.popup_opened:
            try:
                await asyncio.wait_for(self.popup_event.wait(), _POPUP_WAIT_S)
            except TimeoutError:
                env._notes.append("the page tried to open a new tab, but none appeared")
        if not self.nav_started or not env._pages:
            return
        self.nav_started = False
        timeout_s = env.config.navigation_timeout_s
        try:
            if not self.popup_opened:
                await asyncio.wait_for(self.committed.wait(), timeout_s)
            await env._page.wait_for_load_state("domcontentloaded", timeout=timeout_s * 1000)
        except (PlaywrightError, TimeoutError):
            env._notes.append(f"the page was still loading after {timeout_s:.0f} s")
            env._slow_pages.add(env._page)
