"""Held-out multi-step goals: any Gaze model drives a real browser on generated pages it never
trained on, and the data engine's own DOM checks say whether it reached the goal.

Usage::

    python bench/synth_goals.py --model SPEC [--profile NAME] [--episodes 40] [--seed 1000003]
        [--max-steps 10] [--kinds login,checkboxes,...] [--split heldout] [--out DIR] [--verbose]

Contract:
- Pages: the held-out split of the data engine, planned exactly as the trainer generates it
  (``tasks.synth.engine.plan_page`` with ``GenConfig(split="heldout", seed=SEED)``; the trainer's
  held-out seed is its seed + 1,000,003, so 1000003 by default). For page index 0, 1, 2, ... the
  pages planned as demonstrations (of a kind in ``--kinds``) are taken in order until
  ``--episodes`` episodes ran; alignment pages are passed over. ``--split train`` plans the
  training split's pages instead (its templates and words; a check of what the model learned,
  not the issue's number; pick a seed no training run used).
- Each page's HTML (``generate_page``) is written to ``OUT/pages/<page-id>.html`` and served from
  127.0.0.1 by ``tasks.server.SiteServer``; the agent drives it through ``BrowserEnv`` at the
  page's viewport and device scale factor, with ``gaze run``'s browser settings (the start host is
  the only host it may reach).
- Goal: planned as the engine plans the demonstration it would record on that page
  (``tasks.synth.demos.plan_demo_goal`` with ``random.Random(plan.sample_seed)``, scroll goals
  from ``CANDIDATES_JS`` on the freshly loaded page). A page that cannot host its goal (or whose
  start fails) is *skipped*: counted by reason, neither solved nor failed, like the engine's
  ``dropped``. The agent is ``agent.loop.run_episode([goal.text], ...)`` with the model and
  profile built as ``gaze run`` builds them (``agent.models.load_model``, ``ModelPolicy``).
- Solved: after the episode, whatever its stop reason, the goal's DOM check (``CHECK_JS``) holds,
  and for answer goals the answer given with ``done()`` equals the goal's answer (surrounding
  spaces aside). A script error or an open JS dialog when checking counts as not solved.
- Output: ``OUT/episodes/<page-id>-<kind>-<time>/`` is each episode's normal task log (``gaze
  show`` / ``gaze report`` read it; ``result.json``'s ``success`` is *solved* as defined here), and
  ``OUT/summary.json`` (``GoalsSummary``) is rewritten after every episode: per kind and overall
  episodes, solved, rate with a Wilson 95% interval, mean steps, and one record per episode.
  The console gets one line per episode and the table at the end.

It trains nothing and changes no page: it only measures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import BaseModel, ConfigDict
from rich.table import Table
from rich.text import Text

from actions.browser import BrowserEnv
from actions.environment import BrowserConfig, EnvError, Environment, open_start_page
from agent.loop import Episode, Interrupted, LoopConfig, run_episode
from agent.policy import ModelPolicy
from agent.runner import RunSink, episode_result, new_run_dir, versions
from agent.sweep_summary import wilson
from agent.trajectory import (
    CheckRecord,
    Recorder,
    RunMeta,
    RunResult,
    StepRecord,
    StopReason,
    Versions,
    now_iso,
)
from perception.model import Model
from perception.profiles import Profile
from tasks.checks import run_check
from tasks.server import SiteServer
from tasks.spec import AnswerCheck, AnswerRule
from tasks.synth.cli import goal_kinds
from tasks.synth.demos import CANDIDATES_JS, plan_demo_goal
from tasks.synth.engine import GenConfig, PagePlan, plan_page
from tasks.synth.goals import CHECK_JS, GOAL_KINDS, Candidate, Goal, GoalKind
from tasks.synth.pages import Page, generate_page
from tasks.synth.render import FONTS_SETTLED_JS
from tasks.synth.vocab import Split

HELDOUT_SEED = 1_000_003  # perception.builtin.train: held-out pages use its seed + 1,000,003
SUMMARY_VERSION = 1
MAX_PAGES = 100_000  # page indices looked at before giving up on finding enough episodes


@dataclass(frozen=True)
class GoalsConfig:
    episodes: int = 40  # episodes to run (skipped pages do not count)
    seed: int = HELDOUT_SEED  # of the held-out split's page plan
    split: Split = "heldout"  # "train": the training split's templates and words
    max_steps: int = 10  # actions per episode (LoopConfig.max_steps)
    kinds: tuple[GoalKind, ...] = GOAL_KINDS  # goal kinds to run; pages of other kinds are passed
    browser: BrowserConfig = field(default_factory=BrowserConfig)  # launch options (gaze run's)


class _Rec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EpisodeRecord(_Rec):
    page: int  # held-out page index
    page_id: str
    kind: GoalKind
    goal: str
    viewport: tuple[int, int]  # CSS px
    dpr: float
    solved: bool
    check_held: bool  # the goal's DOM check, after the episode
    answer: str | None  # what done() said
    expected_answer: str | None  # answer goals: what it should have said
    steps: int
    model_calls: int
    stop_reason: StopReason
    detail: str
    seconds: float  # start page load to the end of the check
    model_latency_s: float
    log: str  # the episode's run folder, relative to OUT


class KindSummary(_Rec):
    kind: str  # a goal kind, or "overall"
    episodes: int
    solved: int
    rate: float
    ci95: tuple[float, float]  # Wilson interval of rate
    mean_steps: float
    mean_seconds: float


class GoalsSummary(_Rec):
    format_version: int = SUMMARY_VERSION
    model: str
    profile: str
    split: str
    seed: int
    max_steps: int
    kinds: list[str]
    episodes_requested: int
    pages_scanned: int  # page indices planned so far (alignment pages included)
    skipped: dict[str, int]  # demonstration pages that could not be planned, by reason
    complete: bool  # episodes_requested episodes ran
    wall_s: float
    versions: Versions
    written_at: str
    per_kind: list[KindSummary]
    overall: KindSummary
    episodes: list[EpisodeRecord]


def goal_plans(config: GoalsConfig) -> Iterator[PagePlan]:
    """The split's demonstration pages of the chosen kinds, in page order (the held-out split
    unless ``config.split`` says otherwise)."""
    gen = GenConfig(out=Path("."), split=config.split, pages=MAX_PAGES, seed=config.seed)
    for index in range(MAX_PAGES):
        plan = plan_page(gen, index)
        if plan.kind == "demo" and plan.goal in config.kinds:
            yield plan


def plan_on_env(env: Environment, plan: PagePlan, page: Page) -> Goal | None:
    """The goal the engine would demonstrate on ``page``, planned on the page loaded in ``env``
    (as ``run_demo`` does on its tab right after loading it). EnvError if the page cannot say."""
    assert plan.goal is not None
    env.evaluate(FONTS_SETTLED_JS)  # as Tab.load: laid out with its fonts before anything is read
    candidates: list[Candidate] = []
    if plan.goal == "scroll":
        raw = env.evaluate(CANDIDATES_JS)
        if not isinstance(raw, list):
            raise EnvError(f"the candidates script returned {raw!r:.80}")
        for row in raw:
            if not (isinstance(row, list) and len(row) == 3):
                raise EnvError(f"a candidate is {row!r:.80}")
            gid, text, in_scroller = row
            candidates.append(Candidate(str(gid), str(text), bool(in_scroller)))
    return plan_demo_goal(plan.goal, page, random.Random(plan.sample_seed), candidates)


def check_goal(env: Environment, goal: Goal, answer: str | None) -> list[CheckRecord]:
    """The goal's DOM check, and for answer goals the answer check."""
    arg = json.loads(json.dumps(goal.check.as_arg()))  # tuples -> lists: plain JSON
    wanted = {k: v for k, v in arg.items() if v not in (None, [])}
    try:
        value = env.evaluate(CHECK_JS, arg)
        held, detail = value is True, f"the goal's DOM check {json.dumps(wanted)} -> {value!r}"
    except EnvError as e:
        held, detail = False, f"the goal's DOM check could not run: {e}"
    records = [CheckRecord(check=json.dumps({"synth_check": wanted}), passed=held, detail=detail)]
    if goal.answer is not None:
        rule = AnswerCheck(answer=AnswerRule(equals=goal.answer, ignore_case=False))
        c = run_check(rule, env, answer)
        records.append(CheckRecord(check=c.check, passed=c.passed, detail=c.detail))
    return records


def _result(ep: Episode, checks: list[CheckRecord], duration_s: float) -> RunResult:
    return episode_result(
        ep, checks, duration_s, success=bool(checks) and all(c.passed for c in checks)
    )


@dataclass
class _Bench:
    """One bench run: the browser, the policy, where logs go."""

    config: GoalsConfig
    env: BrowserEnv
    policy: ModelPolicy
    out: Path
    server_url: Callable[[str], str]
    on_step: Callable[[StepRecord], None] | None

    def episode(self, plan: PagePlan, page: Page) -> EpisodeRecord | str:
        """Run one page's goal; the reason it was skipped when it cannot be planned."""
        assert plan.goal is not None
        s = plan.spec
        (self.out / "pages" / f"{plan.page_id}.html").write_text(page.html, encoding="utf-8")
        url = self.server_url(f"{plan.page_id}.html")
        host = urlsplit(url).netloc
        bcfg = replace(
            self.config.browser.for_viewport(s.viewport_w, s.viewport_h, s.dpr),
            allowed_domains=(*(self.config.browser.allowed_domains or ()), host),
        )
        t0 = time.perf_counter()
        failure = open_start_page(self.env, url, bcfg)
        if failure is not None:
            return f"browser: {failure[:80]}"
        try:
            goal = plan_on_env(self.env, plan, page)
        except EnvError as e:
            return f"browser: {str(e)[:80]}"
        if goal is None:
            return f"{plan.goal}: the page cannot host a {plan.goal} goal"
        run_dir = new_run_dir(self.out / "episodes", f"{plan.page_id}-{plan.goal}")
        meta = RunMeta(
            run_id=run_dir.name,
            started_at=now_iso(),
            task={
                "id": f"{plan.page_id}-{plan.goal}",
                "start": url,
                "goal": goal.text,
                "max_steps": self.config.max_steps,
                "viewport": {
                    "width": s.viewport_w,
                    "height": s.viewport_h,
                    "device_scale_factor": s.dpr,
                },
                "tags": [f"synth-{self.config.split}", plan.goal],
            },
            model=self.policy.name,
            profile=self.policy.profile.name,
            config={"loop": {"max_steps": self.config.max_steps}},
            versions=versions(self.env.browser_version),
        )
        recorder = Recorder(run_dir, meta)
        loop = LoopConfig(max_steps=self.config.max_steps)
        try:
            ep = run_episode(
                [goal.text],
                self.env,
                self.policy,
                config=loop,
                sink=RunSink(recorder),
                on_step=self.on_step,
            )
            checks = check_goal(self.env, goal, ep.answer)
            result = _result(ep, checks, time.perf_counter() - t0)
            recorder.finish(result)
        except Interrupted as e:
            e.episode.stop_reason, e.episode.detail = "interrupted", "interrupted (Ctrl-C)"
            recorder.finish(_result(e.episode, [], time.perf_counter() - t0))
            raise
        finally:
            recorder.close()
        return EpisodeRecord(
            page=plan.index,
            page_id=plan.page_id,
            kind=plan.goal,
            goal=goal.text,
            viewport=(s.viewport_w, s.viewport_h),
            dpr=s.dpr,
            solved=result.success,
            check_held=checks[0].passed,
            answer=ep.answer,
            expected_answer=goal.answer,
            steps=ep.steps,
            model_calls=ep.model_calls,
            stop_reason=ep.stop_reason,
            detail=ep.detail,
            seconds=result.duration_s,
            model_latency_s=result.model_latency_s,
            log=str(run_dir.relative_to(self.out)),
        )


def _kind_summary(kind: str, rows: Sequence[EpisodeRecord]) -> KindSummary:
    n, k = len(rows), sum(r.solved for r in rows)
    lo, hi = wilson(k, n)
    return KindSummary(
        kind=kind,
        episodes=n,
        solved=k,
        rate=round(k / n, 4) if n else 0.0,
        ci95=(round(lo, 4), round(hi, 4)),
        mean_steps=round(sum(r.steps for r in rows) / n, 3) if n else 0.0,
        mean_seconds=round(sum(r.seconds for r in rows) / n, 3) if n else 0.0,
    )


def summarise(
    records: Sequence[EpisodeRecord],
    *,
    config: GoalsConfig,
    policy: ModelPolicy,
    skipped: Counter[str],
    pages_scanned: int,
    wall_s: float,
    browser_version: str,
) -> GoalsSummary:
    """Per kind (in ``config.kinds`` order) and overall; pure."""
    return GoalsSummary(
        model=policy.name,
        profile=policy.profile.name,
        split=config.split,
        seed=config.seed,
        max_steps=config.max_steps,
        kinds=list(config.kinds),
        episodes_requested=config.episodes,
        pages_scanned=pages_scanned,
        skipped=dict(sorted(skipped.items())),
        complete=len(records) >= config.episodes,
        wall_s=round(wall_s, 3),
        versions=versions(browser_version),
        written_at=now_iso(),
        per_kind=[_kind_summary(k, [r for r in records if r.kind == k]) for k in config.kinds],
        overall=_kind_summary("overall", records),
        episodes=list(records),
    )


def _write_summary(out: Path, summary: GoalsSummary) -> None:
    """Atomically: a reader never sees half a file."""
    tmp = out / "summary.json.tmp"
    tmp.write_text(summary.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, out / "summary.json")


def run_goals(
    config: GoalsConfig,
    model: Model,
    profile: Profile,
    out: Path,
    *,
    on_episode: Callable[[EpisodeRecord | tuple[PagePlan, str]], None] | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
) -> GoalsSummary:
    """Run the bench; see the module contract. ``on_episode`` hears of every finished episode
    and every skipped page (its plan and the reason)."""
    (out / "pages").mkdir(parents=True, exist_ok=True)
    (out / "episodes").mkdir(exist_ok=True)
    policy = ModelPolicy(model, profile)
    records: list[EpisodeRecord] = []
    skipped: Counter[str] = Counter()
    t0 = time.perf_counter()
    summary: GoalsSummary | None = None
    with SiteServer(out / "pages") as server, BrowserEnv(config.browser) as env:
        bench = _Bench(config, env, policy, out, server.url, on_step)
        for plan in goal_plans(config):
            if len(records) >= config.episodes:
                break
            done = bench.episode(plan, generate_page(plan.spec))
            if isinstance(done, str):
                skipped[done] += 1
                if on_episode is not None:
                    on_episode((plan, done))
            else:
                records.append(done)
                if on_episode is not None:
                    on_episode(done)
            summary = summarise(
                records,
                config=config,
                policy=policy,
                skipped=skipped,
                pages_scanned=plan.index + 1,
                wall_s=time.perf_counter() - t0,
                browser_version=env.browser_version,
            )
            _write_summary(out, summary)
    assert summary is not None, "the split has no demonstration page of these kinds"
    return summary


def summary_table(summary: GoalsSummary) -> Table:
    title = f"held-out goals · {summary.model} · {summary.overall.episodes} episodes"
    table = Table(title=Text(title))  # the model spec is a path: no markup
    for col in ("kind", "episodes", "solved", "rate", "95% CI", "mean steps"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    rows = [r for r in summary.per_kind if r.episodes] + [summary.overall]
    for r in rows:
        table.add_row(
            Text(r.kind, style="bold" if r.kind == "overall" else ""),
            str(r.episodes),
            str(r.solved),
            f"{r.rate:.0%}",
            f"{r.ci95[0]:.0%}-{r.ci95[1]:.0%}",
            f"{r.mean_steps:.1f}",
        )
    return table


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def _episode_line(item: EpisodeRecord | tuple[PagePlan, str]) -> Text:
    if isinstance(item, tuple):
        plan, reason = item
        return Text(f"{plan.page_id} skipped: {reason}", style="yellow")
    t = Text(f"{item.page_id} {item.kind:<10} ")
    t.append("solved" if item.solved else "failed", style="green" if item.solved else "red")
    t.append(f"  {item.steps} steps, {item.stop_reason}, {item.seconds:.1f} s  ")
    t.append(item.goal[:90], style="dim")
    return t


def main(argv: Sequence[str] | None = None) -> int:
    from agent.console import err, out, print_step
    from agent.models import ModelSpecError, load_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--model", required=True, help="builtin:DIR, openai:URL#NAME, FOLDER, ...")
    ap.add_argument("--profile", help="model profile (default: from the model id, as gaze run)")
    ap.add_argument("--episodes", type=_positive, default=40)
    ap.add_argument("--seed", type=int, default=HELDOUT_SEED, help="held-out page plan seed")
    ap.add_argument("--max-steps", type=_positive, default=10)
    ap.add_argument(
        "--kinds", type=goal_kinds, default=GOAL_KINDS, help="comma-separated goal kinds"
    )
    ap.add_argument(
        "--split",
        choices=("heldout", "train"),
        default="heldout",
        help="whose pages: the held-out split (the issue's number) or the training split's",
    )
    ap.add_argument("--out", type=Path, help="output folder (default: runs/synth-goals-TIME)")
    ap.add_argument("--verbose", "-v", action="store_true", help="print every step")
    args = ap.parse_args(argv)
    try:
        model, profile = load_model(args.model, args.profile)
    except (ModelSpecError, KeyError) as e:
        err.print(f"error: {e}", style="red", highlight=False, markup=False)
        return 2
    if args.model.startswith("scripted:"):
        err.print("[yellow]scripted model: replies come from a file, nothing looks at the page[/]")
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out_dir: Path = args.out or Path("runs") / f"synth-goals-{stamp}"
    config = GoalsConfig(
        episodes=args.episodes,
        seed=args.seed,
        split=args.split,
        max_steps=args.max_steps,
        kinds=args.kinds,
    )
    err.print(f"writing {out_dir}", highlight=False, markup=False)
    try:
        summary = run_goals(
            config,
            model,
            profile,
            out_dir,
            on_episode=lambda item: err.print(_episode_line(item)),
            on_step=print_step if args.verbose else None,
        )
    except KeyboardInterrupt:
        err.print("interrupted; summary.json holds the finished episodes", style="yellow")
        with contextlib.suppress(OSError, ValueError):
            partial = GoalsSummary.model_validate_json((out_dir / "summary.json").read_bytes())
            out.print(summary_table(partial))
        return 130
    out.print(summary_table(summary))
    if summary.skipped:
        reasons = ", ".join(f"{n} {r}" for r, n in summary.skipped.items())
        out.print(f"skipped pages: {reasons}", highlight=False, markup=False)
    out.print(f"summary: {out_dir / 'summary.json'}", highlight=False, markup=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
