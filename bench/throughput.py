"""Sweep throughput: MiniWoB click-button episodes per minute at 1, 2 and 4 workers.

The model is a harness double, never a shipped model: a fixed-latency fake that sleeps
``--latency-ms`` per ``generate`` call whatever the batch size (as one forward pass of a batched
backend would), and answers each request with the click its episode read from its own page's DOM
(the quoted word of the utterance -> that element's centre). Everything else is the real sweep:
``agent.sweep.run_sweep`` with its worker threads, one headless Chromium per worker, the batcher,
the loop, the run folders and summary.json.

For each worker count it runs ``--episodes`` episodes (seeds 0..N-1) into a fresh folder; with
``--rounds`` > 1 the worker counts run in alternating order (1, 2, 4, 4, 2, 1, ...) so that noise
on a shared machine hits them alike, and each figure is the median over rounds. It reports: wall
time (including the browsers' start), episodes per minute over the whole sweep and after the
first episode finished (steady state), the mean batch size the model saw, and the loop overhead
per episode (median): the episode's own duration minus the time it spent in the model call
(waiting for a batch included), i.e. page load and seeding, screenshots, prompt, parse, click,
status reads and the log. It also gives the CPU this Python process used (all its threads; not
Chromium, not Playwright's driver) per second of wall time: far below 1.0 means the GIL is not
what limits the worker threads, so worker processes would not help. Usage::

    python bench/throughput.py [--episodes 20] [--latency-ms 200] [--workers 1,2,4] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actions.environment import Environment
from agent.runner import versions
from agent.sweep import Finished, Job, SweepPlan, jobs, run_sweep, slot_dir
from agent.sweep_suites import resolve_suite
from agent.trajectory import RunResult, now_iso
from perception.model import Completion, Model, ModelRequest
from perception.profiles import get_profile
from tests.wob import dom_click


class FixedLatency:
    """The shared fake backend: one sleep per call, the answers its callers prepared."""

    name = "fixed-latency-fake"

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.batch_sizes: list[int] = []
        self._answers: dict[int, str] = {}
        self._lock = threading.Lock()

    def expect(self, request: ModelRequest, text: str) -> None:
        with self._lock:
            self._answers[id(request)] = text

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        time.sleep(self.latency_s)
        with self._lock:
            self.batch_sizes.append(len(requests))
            return [Completion(text=self._answers.pop(id(r))) for r in requests]


class DomEpisode:
    """One episode's side of the fake: reads the target from its own page, then asks the backend."""

    def __init__(self, shared: Model, backend: FixedLatency, env: Environment) -> None:
        self.shared, self.backend, self.env, self.name = shared, backend, env, backend.name

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        text = dom_click(self.env)
        for r in requests:
            self.backend.expect(r, text)
        return self.shared.generate(requests)


def one_sweep(workers: int, episodes: int, latency_s: float, root: Path) -> dict[str, float]:
    suite = resolve_suite("miniwob:click-button")
    plan = SweepPlan(
        suite=suite.name, kind=suite.kind, tasks=suite.tasks, seeds=list(range(episodes)),
        model=FixedLatency.name, profile="gaze", max_steps=5, scoring=suite.scoring,
        versions=versions(), created_at=now_iso(),
    )  # fmt: skip
    backend = FixedLatency(latency_s)
    finished_at: list[float] = []

    def hook(shared: Model, job: Job, env: Environment) -> Model:
        return DomEpisode(shared, backend, env)

    def on_episode(f: Finished) -> None:
        finished_at.append(time.perf_counter())

    out = root / f"w{workers}"
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    summary = run_sweep(
        plan, suite, out, model=backend, profile=get_profile("gaze"), workers=workers,
        episode_model=hook, on_episode=on_episode,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = cpu1.ru_utime - cpu0.ru_utime + cpu1.ru_stime - cpu0.ru_stime
    results = [
        RunResult.model_validate_json((slot_dir(out, j) / "result.json").read_bytes())
        for j in jobs(plan)
    ]
    steady = (len(finished_at) - 1) / (finished_at[-1] - finished_at[0]) * 60
    return {
        "workers": workers,
        "episodes": episodes,
        "success": summary.overall.pooled_success,
        "wall_s": wall,
        "per_min": episodes / wall * 60,
        "steady_per_min": steady,
        "batch": statistics.mean(backend.batch_sizes),
        "calls_per_episode": sum(r.model_calls for r in results) / episodes,
        # median: each worker's first episode also pays for starting its Chromium
        "overhead_s": statistics.median(r.duration_s - r.model_latency_s for r in results),
        "model_wait_s": statistics.mean(r.model_latency_s for r in results),
        "py_cores": cpu_s / wall,  # this Python process (all its threads), not Chromium
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--latency-ms", type=float, default=200.0)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    runs: dict[int, list[dict[str, float]]] = {w: [] for w in counts}
    load = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="gaze-throughput-") as tmp:
        for i in range(args.rounds):
            for w in counts if i % 2 == 0 else counts[::-1]:
                r = one_sweep(w, args.episodes, args.latency_ms / 1000, Path(tmp) / f"r{i}")
                runs[w].append(r)
                print(f"round {i + 1} workers {w}: {r['per_min']:.0f} episodes/min",
                      file=sys.stderr)  # fmt: skip
                load.append(os.getloadavg()[0])
    rows = [{k: statistics.median(r[k] for r in runs[w]) for k in runs[w][0]} for w in counts]
    v = versions()
    print(f"python {platform.python_version()}, playwright {v.playwright}, "
          f"{args.episodes} click-button episodes per row, model latency {args.latency_ms:.0f} ms "
          f"per generate call, median of {args.rounds} round(s); 1-min load average during the "
          f"run {min(load):.1f}-{max(load):.1f}\n")  # fmt: skip
    print("| workers | success | wall (s) | episodes/min | episodes/min after the first | "
          "mean batch size | model calls / episode | time in the model call / episode | "
          "loop overhead / episode (median) | CPU of the Python process (cores) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['workers']:.0f} | {r['success']:.0%} | {r['wall_s']:.1f} | {r['per_min']:.0f} | "
            f"{r['steady_per_min']:.0f} | {r['batch']:.2f} | {r['calls_per_episode']:.2f} | "
            f"{r['model_wait_s'] * 1000:.0f} ms | {r['overhead_s'] * 1000:.0f} ms | "
            f"{r['py_cores']:.2f} |"
        )


if __name__ == "__main__":
    main()
