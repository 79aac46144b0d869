"""Small asyncio helpers for the browser environment's loop thread.

Contract: ``retrieve`` marks a finished future's outcome as seen; ``both`` runs two coroutines
under one deadline and leaves no orphaned future behind, whether it returns, raises or is itself
cancelled. Nothing here knows about Playwright or the browser.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

A = TypeVar("A")
B = TypeVar("B")


def retrieve(fut: asyncio.Future[Any]) -> None:
    """Mark a finished future's outcome as seen (no 'exception was never retrieved' noise)."""
    if not fut.cancelled():
        fut.exception()


async def both(
    a: Coroutine[Any, Any, A], b: Coroutine[Any, Any, B], timeout_s: float
) -> tuple[A, B]:
    """Run two coroutines concurrently within a deadline; if either fails, cancel the other.

    Unlike ``wait_for(gather(...))`` this leaves no orphaned future behind when it is itself
    cancelled (``Settler.look`` cancels a capture that a navigation made pointless)."""
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
        ta.add_done_callback(retrieve)
        tb.add_done_callback(retrieve)
