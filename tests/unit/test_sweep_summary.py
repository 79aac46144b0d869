"""Sweep bookkeeping without a browser: Wilson intervals, summaries, comparisons, seed lists,
the sweep folder's resume rules, suite names, and ``gaze bench`` input errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.cli import main
from agent.runner import versions
from agent.sweep import (
    PLAN_FILE,
    SUMMARY_FILE,
    Job,
    SweepError,
    SweepPlan,
    open_sweep,
    parse_seeds,
    slot_dir,
)
from agent.sweep_suites import SuiteError, resolve_suite
from agent.sweep_summary import EpisodeRow, SweepSummary, compare, summarise, wilson
from agent.trajectory import RunResult, now_iso
from tasks import miniwob


def result(
    success: bool, *, steps: int = 1, calls: int = 1, latency: float = 0.1, reason: str = "done",
    reward: dict[str, float] | None = None,
) -> RunResult:  # fmt: skip
    return RunResult.model_validate(
        {
            "success": success, "stop_reason": reason, "steps": steps, "model_calls": calls,
            "goals_completed": int(success), "duration_s": 1.0, "model_latency_s": latency,
            "finished_at": now_iso(), "reward": reward,
        }
    )  # fmt: skip


def summary_of(rows: list[EpisodeRow], tasks: list[str], seeds: list[int]) -> SweepSummary:
    return summarise(
        rows, tasks=tasks, suite="s", model="m", profile="gaze", seeds=seeds, max_steps=5,
        scoring="rule", versions=versions(), workers=2, wall_s=1.0, sessions=1,
        written_at=now_iso(),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    [(0, 10, 0.0, 0.2775), (10, 10, 0.7225, 1.0), (5, 10, 0.2366, 0.7634), (1, 3, 0.0615, 0.7923)],
)
def test_wilson_interval_matches_published_values(k: int, n: int, lo: float, hi: float) -> None:
    got = wilson(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-4)


def test_wilson_without_trials_is_uninformative() -> None:
    assert wilson(0, 0) == (0.0, 1.0)


def test_summary_per_task_and_overall() -> None:
    rows = [
        EpisodeRow("a", 0, result(True, steps=2, calls=3, latency=0.6, reward={"raw": 1, "timed": 0.8})),
        EpisodeRow("a", 1, result(False, steps=4, calls=4, latency=0.4, reason="step_limit",
                                  reward={"raw": 0, "timed": 0})),
        EpisodeRow("b", 0, result(True)),
        EpisodeRow("b", 1, result(True)),
        EpisodeRow("b", 2, result(True)),
        EpisodeRow("b", 3, result(False, reason="stuck")),
    ]  # fmt: skip
    s = summary_of(rows, ["a", "b", "c"], [0, 1, 2, 3])
    a, b, c = s.tasks
    assert (a.episodes, a.successes, a.success_rate, a.mean_steps) == (2, 1, 0.5, 3.0)
    assert a.latency_per_call_s == round(1.0 / 7, 4)  # summed latency over model calls
    assert a.mean_raw_reward == 0.5 and a.mean_timed_reward == 0.4
    assert a.stop_reasons == {"done": 1, "step_limit": 1}
    assert b.success_rate == 0.75 and b.mean_timed_reward is None
    assert b.ci95 == pytest.approx(wilson(3, 4), abs=1e-4)
    assert (c.episodes, c.success_rate, c.ci95) == (0, 0.0, (0.0, 1.0))  # planned, not run
    o = s.overall
    assert (o.tasks, o.episodes, o.successes) == (3, 6, 4)
    assert o.mean_task_success == 0.625  # (0.5 + 0.75) / 2: tasks with episodes weigh the same
    assert o.pooled_success == round(4 / 6, 4)  # pooled: every episode weighs the same
    assert o.mean_timed_reward == 0.4
    assert s.planned == 12 and s.finished == 6 and not s.complete
    assert SweepSummary.model_validate_json(s.model_dump_json()) == s


def test_compare_lines_tasks_up_with_deltas() -> None:
    a = summary_of([EpisodeRow("x", 0, result(False)), EpisodeRow("y", 0, result(True))],
                   ["x", "y"], [0])  # fmt: skip
    b = summary_of([EpisodeRow("x", 0, result(True)), EpisodeRow("z", 0, result(True))],
                   ["x", "z"], [0])  # fmt: skip
    rows = compare(a, b)
    assert [r.task for r in rows] == ["x", "y", "z"]
    assert [r.delta for r in rows] == [1.0, None, None]


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("0-4,7", [0, 1, 2, 3, 4, 7]), ("3", [3]), (" 1 - 2 , 5,2", [1, 2, 5]), ("0-49", list(range(50)))],
)  # fmt: skip
def test_seed_lists(text: str, seeds: list[int]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "a", "5-2", "1,,2", "-3", "1-"])
def test_bad_seed_lists(text: str) -> None:
    with pytest.raises(ValueError, match="seed"):
        parse_seeds(text)


def plan(**changes: object) -> SweepPlan:
    base = SweepPlan(
        suite="miniwob:click", kind="miniwob", tasks=["click-button", "click-link"], seeds=[0, 1],
        model="m", profile="gaze", max_steps=10, scoring="rule", versions=versions(),
        created_at=now_iso(),
    )  # fmt: skip
    return base.model_copy(update=changes)


def finish(out: Path, job: Job, res: RunResult, *, partial: bool = False) -> Path:
    d = slot_dir(out, job)
    d = d.with_name(d.name + ".partial") if partial else d
    d.mkdir(parents=True)
    (d / "result.json").write_text(res.model_dump_json())
    return d


def test_resume_keeps_finished_episodes_and_discards_the_rest(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    done, pending = open_sweep(out, plan())
    assert done == [] and len(pending) == 4 and (out / PLAN_FILE).is_file()
    finish(out, Job("click-button", 0), result(True))
    finish(out, Job("click-link", 0), result(False, reason="interrupted"))  # Ctrl-C: run again
    (slot_dir(out, Job("click-button", 1))).mkdir(parents=True)  # killed: no result.json
    corrupt = finish(out, Job("click-link", 1), result(True))
    (corrupt / "result.json").write_text('{"success": tr')  # killed mid-write
    leftover = finish(out, Job("click-link", 1), result(True), partial=True)

    done, pending = open_sweep(out, plan())
    assert [(r.task, r.seed) for r in done] == [("click-button", 0)]
    assert pending == [Job("click-link", 0), Job("click-button", 1), Job("click-link", 1)]
    for job in pending:  # seed-major order; nothing stale left behind
        assert not slot_dir(out, job).exists()
    assert not leftover.exists()
    assert (slot_dir(out, Job("click-button", 0)) / "result.json").is_file()


def test_resume_refuses_a_different_plan(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    open_sweep(out, plan())
    with pytest.raises(SweepError, match=r"different sweep \(seeds: \[0, 1\] in the folder"):
        open_sweep(out, plan(seeds=[0, 1, 2]))
    with pytest.raises(SweepError, match="model: 'm' in the folder, 'other' now"):
        open_sweep(out, plan(model="other"))
    assert open_sweep(out, plan(created_at="later"))[1]  # when it was made does not matter


def test_a_folder_that_is_not_a_sweep_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="not a sweep folder"):
        open_sweep(tmp_path, plan())
    with pytest.raises(SweepError, match="cannot name a folder"):
        open_sweep(tmp_path / "new", plan(tasks=["../escape"]))


def test_suite_names() -> None:
    assert resolve_suite("miniwob:clicktype").tasks == list(miniwob.CLICKTYPE_20)
    names = miniwob.task_names()
    assert len(miniwob.CLICKTYPE_20) == 20 and set(miniwob.CLICKTYPE_20) <= set(names)
    assert len(resolve_suite("miniwob:pix2act").tasks) == 59
    assert resolve_suite("miniwob").tasks == miniwob.task_names()
    assert resolve_suite("miniwob:click-link").tasks == ["click-link"]
    assert resolve_suite("miniwob:click", "click-link,click-button").tasks == [
        "click-button", "click-link",
    ]  # fmt: skip
    demo = resolve_suite("demo")
    assert demo.kind == "demo" and len(demo.tasks) >= 12 and demo.default_max_steps() is None
    with pytest.raises(SuiteError, match="subsets: all, click, pix2act, clicktype"):
        resolve_suite("miniwob:nope")
    with pytest.raises(SuiteError, match=r"--tasks: nope not in the demo suite; .*login"):
        resolve_suite("demo", "login,nope")
    with pytest.raises(SuiteError, match="miniwob:TASK, or demo"):
        resolve_suite("webarena")
    with pytest.raises(KeyError, match="all, click, pix2act, clicktype"):
        miniwob.subset("nope")


def test_old_results_without_a_reward_still_load() -> None:
    data = json.loads(result(True).model_dump_json())
    del data["reward"]
    assert RunResult.model_validate(data).reward is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bench", "miniwob:nope", "--model", "scripted:x"], "unknown MiniWoB subset or task"),
        (["bench", "demo", "--seeds", "3-1", "--model", "scripted:x"], "the end is below"),
        (["bench", "demo", "--workers", "0", "--model", "scripted:x"], "--workers"),
        (["bench", "demo", "--model", "scripted:/no/such/file"], "cannot read script"),
        (["bench", "demo", "--images", "x", "--model", "scripted:x"], "grounding only"),
        (["bench", "grounding", "x.json", "--workers", "2"], "does not apply to grounding"),
        (["bench", "demo", "miniwob"], "one suite at a time"),
        (["bench"], "give a SUITE"),
        (["bench", "--compare", "a", "b", "demo"], "takes no suite"),
    ],
)
def test_bench_input_errors_exit_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_compare_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = summary_of([EpisodeRow("x", 0, result(False)), EpisodeRow("y", 0, result(True))],
                   ["x", "y"], [0])  # fmt: skip
    b = summary_of([EpisodeRow("x", 0, result(True)), EpisodeRow("y", 0, result(True))],
                   ["x", "y"], [0])  # fmt: skip
    for name, s in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        (tmp_path / name / SUMMARY_FILE).write_text(s.model_dump_json())
    assert main(["bench", "--compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    lines = capsys.readouterr().out.splitlines()
    x_row = next(line for line in lines if "│ x " in line)
    assert "0% (0/1)" in x_row and "100% (1/1)" in x_row and "+100.0 pts" in x_row
    assert any("overall (mean of tasks)" in line and "+50.0 pts" in line for line in lines)
    assert main(["bench", "--compare", str(tmp_path / "a"), str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err
