"""The data engine: plan pages, render them, make samples, write shards and the manifest.

Contract:
- ``plan_page(config, index)`` is a pure function: which kind of page ``index`` is (alignment or
  demonstration, and which goal), its viewport and device scale factor, and the seeds it uses.
  Viewports mix widget-sized screens (160x210 .. 400x300) and full pages (800x600 .. 1280x800),
  each at DPR 1 or 2.
- ``generate(config)`` renders ``config.pages`` pages with ``config.workers`` tabs at once, and
  writes their samples in page order, so the output depends only on the config (same seed, same
  ``samples.jsonl``), never on which tab finished first. A page that yields nothing (a demo whose
  check failed, a page that cannot host its goal, a browser error) is counted in the manifest's
  ``dropped`` by reason and generation goes on.
- Alignment pages: one screenshot each (a quarter of them scrolled part-way down first), and
  ``per_screen`` samples about it. Demonstration pages: one sample per step.

It prints nothing: progress goes to the ``on_page`` callback (the CLI draws the bar).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Error as PlaywrightError

from tasks.synth.alignment import alignment_samples
from tasks.synth.demos import demo_samples, run_demo
from tasks.synth.goals import GOAL_KINDS, GOAL_WIDGETS, GoalKind
from tasks.synth.layouts import TEMPLATES
from tasks.synth.pages import (
    PREFILL_SHARE,
    Page,
    PageSpec,
    WidgetKind,
    derive_seed,
    generate_page,
)
from tasks.synth.render import RenderConfig, Renderer, Tab
from tasks.synth.samples import PageInfo, Sample, SampleKind, Screen
from tasks.synth.shards import Manifest, ShardWriter, SplitInfo, write_manifest
from tasks.synth.vocab import HELDOUT_EVERY, Split, vocab

GENERATOR_VERSION = "5"  # bump whenever the same seed would give different samples
COMPACT_VIEWPORTS = ((160, 210), (200, 200), (250, 250), (300, 240), (320, 280), (400, 300))
FULL_VIEWPORTS = ((800, 600), (1024, 768), (1280, 800))
DPRS = (1.0, 2.0)


@dataclass(frozen=True)
class GenConfig:
    out: Path
    split: Split
    pages: int
    seed: int = 0
    kinds: tuple[SampleKind, ...] = ("alignment", "demo")
    demo_share: float = 0.4  # share of pages that are demonstrations when both kinds are made
    goals: tuple[GoalKind, ...] = GOAL_KINDS  # the goal kinds demonstrations draw from
    compact_share: float = 0.5  # share of widget-sized screens
    phrases: float = 0.0  # share of typed values drawn as two-word phrases (goals.plan_goal)
    prefill: float = PREFILL_SHARE  # share of form fields shown holding a value (pages.PageSpec)
    dpr2_share: float = 0.35  # share of pages rendered at device scale factor 2
    per_screen: int = 8  # alignment samples per screenshot
    shard_samples: int = 5000  # a shard is closed once it holds this many samples
    render: RenderConfig = field(default_factory=RenderConfig)


@dataclass(frozen=True)
class PagePlan:
    index: int
    kind: SampleKind
    goal: GoalKind | None
    spec: PageSpec
    sample_seed: int
    scroll_share: float  # alignment: scroll this share of the scrollable height first (0: none)

    @property
    def page_id(self) -> str:
        return f"p{self.index:06d}"


@dataclass(frozen=True)
class PageResult:
    plan: PagePlan
    screens: tuple[Screen, ...]
    samples: tuple[Sample, ...]
    dropped: str | None = None


def plan_page(config: GenConfig, index: int) -> PagePlan:
    """What page ``index`` of this run is; see the module contract."""
    rng = random.Random(derive_seed(config.seed, config.split, index, "plan"))
    both = len(config.kinds) > 1
    kind: SampleKind = (
        ("demo" if rng.random() < config.demo_share else "alignment") if both else config.kinds[0]
    )
    compact = rng.random() < config.compact_share
    w, h = rng.choice(COMPACT_VIEWPORTS if compact else FULL_VIEWPORTS)
    dpr = DPRS[1] if rng.random() < config.dpr2_share else DPRS[0]
    goal: GoalKind | None = None
    require: WidgetKind | None = None
    long = False
    if kind == "demo":
        chosen = rng.choice(config.goals)
        goal, require = chosen, rng.choice(GOAL_WIDGETS[chosen])
        if chosen == "scroll" and rng.random() < 0.5:
            require, long = None, True
    scroll_share = rng.uniform(0.2, 1.0) if kind == "alignment" and rng.random() < 0.25 else 0.0
    spec = PageSpec(
        seed=derive_seed(config.seed, config.split, index, "page"),
        split=config.split,
        viewport_w=w,
        viewport_h=h,
        dpr=dpr,
        require=require,
        long=long,
        prefill=config.prefill,
    )
    sample_seed = derive_seed(config.seed, config.split, index, "samples")
    return PagePlan(index, kind, goal, spec, sample_seed, scroll_share)


def _info(plan: PagePlan, page: Page) -> PageInfo:
    s = plan.spec
    return PageInfo(
        page_id=plan.page_id,
        template=page.template,
        theme=page.theme.name,
        viewport_w=s.viewport_w,
        viewport_h=s.viewport_h,
        dpr=s.dpr,
    )


async def show_alignment_page(tab: Tab, plan: PagePlan, page: Page) -> None:
    """Load an alignment page and scroll it as planned: the state its screenshot shows."""
    await tab.load(page.html)
    if plan.scroll_share:
        await tab.evaluate(
            "(f) => window.scrollTo(0, Math.round(f * (document.documentElement.scrollHeight"
            " - innerHeight)))",
            plan.scroll_share,
        )
        await tab.settle()


async def _alignment(tab: Tab, plan: PagePlan, page: Page, config: GenConfig) -> PageResult:
    await show_alignment_page(tab, plan, page)
    ann = await tab.annotate()
    screen = Screen(f"{plan.page_id}-0", await tab.screenshot(), ann)
    rng = random.Random(plan.sample_seed)
    prefix = f"{config.split}-{plan.page_id}-a"
    samples = alignment_samples(
        screen,
        rng,
        k=config.per_screen,
        split=config.split,
        page=_info(plan, page),
        id_prefix=prefix,
    )
    return PageResult(plan, (screen,), tuple(samples), None if samples else "nothing to ask about")


async def _demo(tab: Tab, plan: PagePlan, page: Page, config: GenConfig) -> PageResult:
    assert plan.goal is not None
    rng = random.Random(plan.sample_seed)
    demo = await run_demo(tab, page, plan.goal, rng, name=plan.page_id, phrases=config.phrases)
    if demo.failure is not None:
        return PageResult(plan, (), (), f"{plan.goal}: {demo.failure}")
    prefix = f"{config.split}-{plan.page_id}-d"
    samples = demo_samples(demo, split=config.split, page=_info(plan, page), id_prefix=prefix)
    return PageResult(plan, tuple(s.screen for s in demo.steps), tuple(samples))


async def render_page(renderer: Renderer, plan: PagePlan, config: GenConfig) -> PageResult:
    """Render one planned page and make its samples; browser trouble is a dropped page."""
    page = generate_page(plan.spec)
    s = plan.spec
    try:
        async with renderer.tab(s.viewport_w, s.viewport_h, s.dpr) as tab:
            if plan.kind == "demo":
                return await _demo(tab, plan, page, config)
            return await _alignment(tab, plan, page, config)
    except (PlaywrightError, TimeoutError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        return PageResult(plan, (), (), f"browser error: {first[:80]}")


@dataclass
class Stats:
    """Running totals for progress displays."""

    pages_done: int = 0
    samples: int = 0
    dropped: int = 0
    started: float = field(default_factory=time.perf_counter)

    @property
    def elapsed_s(self) -> float:
        return time.perf_counter() - self.started


def _drop_reason(reason: str) -> str:
    """Group reasons that only differ by gids and numbers."""
    return " ".join("N" if any(c.isdigit() for c in w) else w for w in reason.split())


async def generate(
    config: GenConfig, on_page: Callable[[Stats], None] | None = None
) -> tuple[Manifest, Stats]:
    """Generate one split into ``config.out``; see the module contract."""
    config.out.mkdir(parents=True, exist_ok=True)
    writer = ShardWriter(config.out, config.split, max_samples=config.shard_samples)
    stats = Stats()
    tasks: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    demos: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    pending: dict[int, PageResult] = {}
    next_write = 0
    todo = iter(range(config.pages))

    def flush() -> None:
        nonlocal next_write
        while next_write in pending:
            r = pending.pop(next_write)
            writer.add(r.screens, r.samples)
            tasks.update(s.task for s in r.samples)
            kinds.update(s.kind for s in r.samples)
            if r.plan.kind == "demo" and r.samples:
                demos[r.samples[0].task] += 1
            if r.dropped:
                dropped[_drop_reason(r.dropped)] += 1
            stats.samples += len(r.samples)
            stats.dropped += r.dropped is not None
            next_write += 1

    async with Renderer(config.render) as renderer:

        async def worker() -> None:
            for index in todo:
                result = await render_page(renderer, plan_page(config, index), config)
                pending[index] = result
                stats.pages_done += 1
                flush()
                if on_page is not None:
                    on_page(stats)

        await asyncio.gather(*(worker() for _ in range(config.render.workers)))
        chromium = renderer.browser_version
    info = SplitInfo(
        split=config.split,
        seed=config.seed,
        pages=config.pages,
        kinds=config.kinds,
        samples=stats.samples,
        counts=dict(sorted(kinds.items())),
        tasks=dict(sorted(tasks.items())),
        demos=dict(sorted(demos.items())),
        dropped=dict(sorted(dropped.items())),
        templates=tuple(t.name for t in TEMPLATES if t.split == config.split),
        vocabulary=vocab(config.split).fingerprint(),
        heldout_every=HELDOUT_EVERY,
        phrases=config.phrases,
        prefill=config.prefill,
        viewports=COMPACT_VIEWPORTS + FULL_VIEWPORTS,
        dprs=DPRS,
        chromium=chromium,
        shards=writer.close(),
    )
    return write_manifest(config.out, info, generator_version=GENERATOR_VERSION), stats
