"""One model shared by several worker threads, with their requests sent as one batch.

Contract:
- ``Batcher(model)`` is itself a ``Model``: any thread may call ``generate(requests)``, which blocks
  until its completions are back. Requests that arrive close together are concatenated and sent
  to the wrapped model as ONE ``generate`` call (one forward pass for several episodes' images);
  each caller gets back exactly its own completions, in order.
- A batch is sent when every registered worker is waiting (nothing more can arrive), when
  ``max_batch`` requests are queued, or when the oldest waiting request has waited its window:
  ``max(window_s, patience x the last call's duration)``, counted from when it arrived or the
  model became free, whichever is later. At most one call to the wrapped model runs at a time;
  requests that arrive meanwhile form the next batch. The patience term is for slow models:
  without it, two workers whose browser work is shorter than a model call fall into taking turns
  (each call serving one of them) instead of sharing calls.
- Workers ``join()`` before their first request and ``leave()`` when they are done; a worker that
  leaves (or never joined) cannot hold a batch back for longer than the window: nothing waits for
  a thread that will not ask, so the pool cannot deadlock as workers finish.
- An exception from the wrapped model (``ModelError``, or anything else) is raised in the callers
  whose requests were in that batch, and only in them; the next batch is unaffected.
- ``batch_sizes`` lists the number of requests in each call made, for benchmarks and tests.

It knows nothing about episodes or browsers: it moves requests and completions between threads.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from perception.model import Completion, Model, ModelError, ModelRequest


@dataclass(eq=False)
class _Pending:
    requests: Sequence[ModelRequest]
    arrived: float  # time.monotonic() when it was queued
    completions: list[Completion] | None = None
    error: BaseException | None = None
    done: bool = field(default=False)


class Batcher:
    """A Model that gathers concurrent callers' requests into batches; see the module contract."""

    def __init__(
        self, model: Model, *, window_s: float = 0.05, patience: float = 0.5, max_batch: int = 64
    ) -> None:
        if window_s < 0 or patience < 0 or max_batch < 1:
            raise ValueError("window_s and patience must be >= 0, max_batch >= 1")
        self.model = model
        self.name = model.name
        self.window_s = window_s
        self.patience = patience  # x the last call's duration, see the module contract
        self.max_batch = max_batch
        self.batch_sizes: list[int] = []
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._workers = 0
        self._busy = False  # a call to the wrapped model is running
        self._free_since = 0.0  # time.monotonic() when the last call ended
        self._last_call_s = 0.0

    # ------------------------------------------------------------ workers

    def join(self) -> None:
        """Register the calling worker: batches wait for it while it is not yet asking."""
        with self._cond:
            self._workers += 1
            self._cond.notify_all()

    def leave(self) -> None:
        """Unregister a worker; a batch that was waiting for it goes at once."""
        with self._cond:
            self._workers = max(0, self._workers - 1)
            self._cond.notify_all()

    @property
    def workers(self) -> int:
        with self._cond:
            return self._workers

    # ------------------------------------------------------------ the Model protocol

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        if not requests:
            return []
        entry = _Pending(list(requests), time.monotonic())
        with self._cond:
            self._queue.append(entry)
            self._cond.notify_all()
            try:
                while not entry.done:
                    if self._queue and self._queue[0] is entry and not self._busy:
                        wait = self._flush_in()
                        if wait <= 0:
                            self._send()  # releases the lock while the model runs
                            continue
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
            except BaseException:  # Ctrl-C while waiting: withdraw, and let the next one lead
                if entry in self._queue:
                    self._queue.remove(entry)
                self._cond.notify_all()
                raise
        if entry.error is not None:
            if isinstance(entry.error, ModelError):
                raise ModelError(str(entry.error)) from entry.error  # one object per caller
            raise entry.error
        assert entry.completions is not None
        return entry.completions

    # ------------------------------------------------------------ the leader's side (lock held)

    def _queued_requests(self) -> int:
        return sum(len(p.requests) for p in self._queue)

    def _flush_in(self) -> float:
        """Seconds until the head of the queue should be sent (<= 0: now)."""
        if len(self._queue) >= self._workers or self._queued_requests() >= self.max_batch:
            return 0.0
        start = max(self._queue[0].arrived, self._free_since)
        window = max(self.window_s, self.patience * self._last_call_s)
        return start + window - time.monotonic()

    def _take(self) -> list[_Pending]:
        """The longest prefix of the queue within max_batch (always at least one entry)."""
        taken: list[_Pending] = []
        n = 0
        while self._queue and (not taken or n + len(self._queue[0].requests) <= self.max_batch):
            n += len(self._queue[0].requests)
            taken.append(self._queue.pop(0))
        return taken

    def _send(self) -> None:
        batch = self._take()
        flat = [r for p in batch for r in p.requests]
        self._busy = True
        t0 = time.monotonic()
        self._cond.release()
        try:
            completions: list[Completion] | None = None
            error: BaseException | None = None
            try:
                completions = self.model.generate(flat)
                if len(completions) != len(flat):
                    error = ModelError(
                        f"{self.name} returned {len(completions)} completions "
                        f"for {len(flat)} requests"
                    )
            except BaseException as e:  # fanned out to this batch's callers, who re-raise it
                error = e
        finally:
            self._cond.acquire()
        self.batch_sizes.append(len(flat))
        i = 0
        for p in batch:
            if error is None and completions is not None:
                p.completions = completions[i : i + len(p.requests)]
            else:
                p.error = error
            i += len(p.requests)
            p.done = True
        self._busy = False
        self._free_since = time.monotonic()
        self._last_call_s = self._free_since - t0
        self._cond.notify_all()
