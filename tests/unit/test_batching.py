"""agent.batching.Batcher: worker threads share one model; close requests go out as one batch."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import pytest

from agent.batching import Batcher
from perception.model import Completion, Message, ModelError, ModelRequest

JOIN_S = 10  # a thread still alive after this is a deadlock


def request(text: str) -> ModelRequest:
    return ModelRequest(messages=(Message(role="user", text=text),))


class Echo:
    """Answers each request with its own text; records every batch; fails batches holding 'bad'."""

    name = "echo"

    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.batches: list[list[str]] = []
        self.concurrent = 0
        self.max_concurrent = 0
        self._lock = threading.Lock()

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        texts = [r.messages[0].text for r in requests]
        with self._lock:
            self.batches.append(texts)
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            time.sleep(self.latency_s)
            if any(t.startswith("bad") for t in texts):
                raise ModelError("the server fell over")
            return [Completion(text=f"re:{t}") for t in texts]
        finally:
            with self._lock:
                self.concurrent -= 1


def run_workers(b: Batcher, n: int, body: Callable[[int], None]) -> list[BaseException]:
    """Register n workers (as the sweep does, before they start), run body(i) on n threads, each
    leaving when done; returns what they raised; fails on a thread that never ends."""
    errors: list[BaseException] = []

    def target(i: int) -> None:
        try:
            body(i)
        except BaseException as e:
            errors.append(e)
        finally:
            b.leave()

    for _ in range(n):
        b.join()

    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_S)
        assert not t.is_alive(), "a worker is stuck: the batcher deadlocked"
    return errors


def test_all_waiting_workers_go_out_as_one_batch_and_each_gets_its_own_answers() -> None:
    model = Echo(latency_s=0.01)
    b = Batcher(model, window_s=5.0)  # a long window: only "everyone is waiting" sends
    got: dict[int, list[str]] = {}

    def body(i: int) -> None:
        got[i] = [b.generate([request(f"w{i}-{k}")])[0].text for k in range(5)]

    t0 = time.monotonic()
    assert run_workers(b, 4, body) == []
    assert time.monotonic() - t0 < 4  # never waited for the window
    assert b.batch_sizes == [4] * 5 and model.max_concurrent == 1
    assert got == {i: [f"re:w{i}-{k}" for k in range(5)] for i in range(4)}


def test_a_caller_with_several_requests_gets_them_back_in_order() -> None:
    model = Echo()
    b = Batcher(model, window_s=5.0)
    got: dict[int, list[str]] = {}

    def body(i: int) -> None:
        reqs = [request(f"w{i}-tile{k}") for k in range(i + 1)]
        got[i] = [c.text for c in b.generate(reqs)]

    assert run_workers(b, 3, body) == []
    assert b.batch_sizes == [6] and len(model.batches[0]) == 6
    assert got == {i: [f"re:w{i}-tile{k}" for k in range(i + 1)] for i in range(3)}


def test_workers_that_leave_do_not_hold_the_others_back() -> None:
    """Workers finish at different times; with a 10 s window, any wait for one that left hangs."""
    b = Batcher(Echo(), window_s=10.0)

    def body(i: int) -> None:
        for k in range(i * 3):  # worker 0 asks nothing, worker 3 asks nine times
            assert b.generate([request(f"w{i}-{k}")])[0].text == f"re:w{i}-{k}"

    t0 = time.monotonic()
    assert run_workers(b, 4, body) == []
    assert time.monotonic() - t0 < 5 and sum(b.batch_sizes) == 3 + 6 + 9
    assert b.workers == 0


def test_a_busy_worker_delays_a_batch_by_the_window_at_most() -> None:
    b = Batcher(Echo(), window_s=0.2)
    b.join()
    b.join()  # the second worker is "busy in its browser" and never asks
    t0 = time.monotonic()
    assert b.generate([request("x")])[0].text == "re:x"
    assert 0.15 < time.monotonic() - t0 < 3
    b.leave()
    t0 = time.monotonic()
    b.generate([request("y")])  # the only worker left is asking: no wait
    assert time.monotonic() - t0 < 0.15


def test_a_slow_model_waits_for_a_worker_that_is_about_to_ask() -> None:
    """A's browser work (0.1 s) is shorter than a model call (0.6 s): once the model is free, B
    waits for A (patience: up to half the last call) instead of taking turns with it."""
    model = Echo(latency_s=0.6)
    b = Batcher(model, window_s=0.01, patience=0.5)

    def body(i: int) -> None:
        if i == 0:
            b.generate([request("a1")])  # alone: B is busy; the call ends at ~0.61 s
            time.sleep(0.1)  # A's browser work
            b.generate([request("a2")])  # ~0.71 s: B has waited for it since ~0.61 s
        else:
            time.sleep(0.3)
            b.generate([request("b1")])  # arrives during A's call

    assert run_workers(b, 2, body) == []
    assert model.batches == [["a1"], ["b1", "a2"]]


def test_without_patience_two_workers_take_turns() -> None:
    """The same timeline with patience 0: the control for the test above."""
    model = Echo(latency_s=0.6)
    b = Batcher(model, window_s=0.01, patience=0.0)

    def body(i: int) -> None:
        if i == 0:
            b.generate([request("a1")])
            time.sleep(0.1)
            b.generate([request("a2")])
        else:
            time.sleep(0.3)
            b.generate([request("b1")])

    assert run_workers(b, 2, body) == []
    assert model.batches == [["a1"], ["b1"], ["a2"]]


def test_unregistered_callers_are_served_at_once() -> None:
    b = Batcher(Echo(), window_s=5.0)
    t0 = time.monotonic()
    assert [c.text for c in b.generate([request("a"), request("b")])] == ["re:a", "re:b"]
    assert time.monotonic() - t0 < 1 and b.generate([]) == []


def test_a_model_error_reaches_only_the_callers_in_that_batch() -> None:
    model = Echo(latency_s=0.05)
    b = Batcher(model, window_s=5.0)
    outcome: dict[int, list[str]] = {}
    second_round = threading.Barrier(2)

    def body(i: int) -> None:
        log = outcome.setdefault(i, [])
        try:  # round 1: one batch holding a bad request; both callers get the error
            b.generate([request("bad" if i == 0 else f"ok{i}")])
            log.append("answered")
        except ModelError as e:
            log.append(f"error: {e}")
        second_round.wait(JOIN_S)
        log.append(b.generate([request(f"again{i}")])[0].text)  # round 2 is unaffected

    assert run_workers(b, 2, body) == []
    assert outcome == {
        0: ["error: the server fell over", "re:again0"],
        1: ["error: the server fell over", "re:again1"],
    }
    assert b.batch_sizes == [2, 2]


def test_a_failed_batch_leaves_a_later_batch_alone() -> None:
    model = Echo()
    b = Batcher(model, window_s=0.0)
    with pytest.raises(ModelError, match="fell over"):
        b.generate([request("bad")])
    assert b.generate([request("fine")])[0].text == "re:fine"


def test_max_batch_splits_the_queue() -> None:
    model = Echo(latency_s=0.05)
    b = Batcher(model, window_s=5.0, max_batch=2)

    def body(i: int) -> None:
        for k in range(3):
            b.generate([request(f"w{i}-{k}")])

    assert run_workers(b, 5, body) == []
    assert max(b.batch_sizes) <= 2 and sum(b.batch_sizes) == 15


def test_a_wrong_number_of_completions_is_a_model_error() -> None:
    class Short:
        name = "short"

        def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
            return [Completion(text="only one")]

    with pytest.raises(ModelError, match="1 completions for 2 requests"):
        Batcher(Short()).generate([request("a"), request("b")])


def test_an_interrupt_in_the_model_reaches_its_callers() -> None:
    class Interrupting:
        name = "interrupting"

        def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
            raise KeyboardInterrupt

    b = Batcher(Interrupting())
    with pytest.raises(KeyboardInterrupt):
        b.generate([request("a")])
