"""HTML report of a sweep: one self-contained page, plus each episode's step-by-step page.

Contract: ``write_sweep_report(out)`` reads the sweep folder (``sweep.json`` and the finished
episodes; the summary is recomputed from them, so it matches the folder even after a kill), writes
``episodes/<task>/seed-<n>/report.html`` for every finished episode with ``agent.report`` (skipped
when it is newer than the episode's result), and writes ``<out>/report.html``: the plan (suite,
model, profile, seeds, scoring, versions), overall success with its 95% interval, a bar chart of
success per task with the intervals drawn (inline SVG), and a table of tasks that sorts when a
header is clicked (a few lines of inline JavaScript), whose seed links open the episode pages
(relative links, so the folder can be moved or served as it is). No external resources; all text
is HTML-escaped.
"""

from __future__ import annotations

import html
import logging
import os
from collections import defaultdict
from pathlib import Path

from agent.report import render_report
from agent.sweep import (
    PLAN_FILE,
    SUMMARY_FILE,
    Job,
    SweepPlan,
    load_plan,
    previous_sessions,
    scan,
    slot_dir,
)
from agent.sweep_summary import EpisodeRow, SweepSummary, TaskSummary, summarise
from agent.trajectory import LogError, now_iso, read_log

log = logging.getLogger(__name__)

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:20px}
main{padding:16px 28px}section{background:#fff;border-radius:10px;box-shadow:0 1px 3px #0002;margin:0 0 18px;padding:14px 18px}
table{border-collapse:collapse;width:100%}td,th{padding:4px 10px 4px 0;text-align:left;vertical-align:top;border-bottom:1px solid #eee}
th[data-sort]{cursor:pointer;user-select:none}th[data-dir=asc]::after{content:' ▲'}th[data-dir=desc]::after{content:' ▼'}
a.ok{color:#0a7d38}a.bad{color:#c0262d}.seeds a{margin-right:6px;text-decoration:none;font-variant-numeric:tabular-nums}
.muted{color:#667}.big{font-size:22px;font-weight:600}
"""

_SORT_JS = """
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th[data-sort]').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var asc = th.getAttribute('data-dir') !== 'asc';
      table.querySelectorAll('th[data-sort]').forEach(function (h) { h.removeAttribute('data-dir'); });
      th.setAttribute('data-dir', asc ? 'asc' : 'desc');
      var num = th.getAttribute('data-sort') === 'num';
      var body = table.tBodies[0];
      var key = function (row) {
        var cell = row.cells[col];
        var v = cell.hasAttribute('data-v') ? cell.getAttribute('data-v') : cell.textContent;
        return num ? parseFloat(v) : v.toLowerCase();
      };
      Array.prototype.slice.call(body.rows).sort(function (a, b) {
        var x = key(a), y = key(b);
        return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
      }).forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""


def _seed_text(seeds: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    parts: list[str] = []
    start = prev = None
    for s in [*seeds, None]:
        if s is not None and prev is not None and s == prev + 1:
            prev = s
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = s
    return ",".join(parts)


def _pct(v: float) -> str:
    return f"{v * 100:.1f}%"


def _chart(tasks: list[TaskSummary]) -> str:
    label_w, bar_w, row_h = 190, 420, 22
    height = row_h * len(tasks) + 24
    parts = [
        f'<svg role="img" aria-label="success per task" width="{label_w + bar_w + 70}" '
        f'height="{height}" viewBox="0 0 {label_w + bar_w + 70} {height}" '
        'xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="system-ui,sans-serif">'
    ]
    for i, t in enumerate(tasks):
        y = i * row_h
        w = bar_w * t.success_rate
        lo, hi = (label_w + bar_w * v for v in t.ci95)
        colour = "#2f9e62" if t.success_rate >= 0.5 else "#d9822b"
        parts.append(
            f'<g class="bar" data-task="{html.escape(t.task)}">'
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{html.escape(t.task)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="14" fill="#eceef2"/>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="14" fill="{colour}"/>'
            f'<line x1="{lo:.1f}" x2="{hi:.1f}" y1="{y + 11}" y2="{y + 11}" stroke="#1d2330"/>'
            f'<text x="{label_w + bar_w + 6}" y="{y + 15}">{_pct(t.success_rate)}</text></g>'
        )
    axis_y = row_h * len(tasks) + 4
    for frac in (0, 0.5, 1):
        x = label_w + bar_w * frac
        parts.append(
            f'<text x="{x:.0f}" y="{axis_y + 14}" text-anchor="middle" fill="#667">'
            f"{frac:.0%}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(
    out: Path, base: Path, tasks: list[TaskSummary], rows: list[EpisodeRow], timed: bool
) -> str:
    """The task table; episode links are relative to ``base``, the report's folder."""
    e = html.escape
    by_task: dict[str, list[EpisodeRow]] = defaultdict(list)
    for r in rows:
        by_task[r.task].append(r)
    head = (
        "<tr><th data-sort='text'>task</th><th data-sort='num'>episodes</th>"
        "<th data-sort='num'>success</th><th data-sort='num'>95% interval</th>"
        "<th data-sort='num'>mean steps</th><th data-sort='num'>latency / call</th>"
        + ("<th data-sort='num'>timed reward</th>" if timed else "")
        + "<th>stopped</th><th>episodes (seed)</th></tr>"
    )
    body = []
    for t in tasks:
        links = []
        for r in sorted(by_task.get(t.task, []), key=lambda r: r.seed):
            page = slot_dir(out, Job(r.task, r.seed)) / "report.html"
            href = Path(os.path.relpath(page, base)).as_posix()
            cls = "ok" if r.result.success else "bad"
            tip = f"seed {r.seed}: {r.result.stop_reason} {r.result.detail}"[:200]
            links.append(f"<a class='{cls}' href='{e(href)}' title='{e(tip)}'>{r.seed}</a>")
        reasons = ", ".join(f"{k} {v}" for k, v in t.stop_reasons.items())
        reward = ""
        if timed:
            v = t.mean_timed_reward
            reward = (
                f"<td data-v='{v if v is not None else -2}'>{'' if v is None else f'{v:.3f}'}</td>"
            )
        body.append(
            f"<tr class='task' data-task='{e(t.task)}'><td>{e(t.task)}</td>"
            f"<td>{t.episodes}</td><td data-v='{t.success_rate}'>{_pct(t.success_rate)} "
            f"<span class='muted'>({t.successes}/{t.episodes})</span></td>"
            f"<td data-v='{t.ci95[0]}'>{_pct(t.ci95[0])}–{_pct(t.ci95[1])}</td>"
            f"<td>{t.mean_steps:.2f}</td><td data-v='{t.latency_per_call_s}'>"
            f"{t.latency_per_call_s * 1000:.0f} ms</td>{reward}"
            f"<td class='muted'>{e(reasons)}</td><td class='seeds'>{''.join(links)}</td></tr>"
        )
    return f"<table class='sortable' id='tasks'><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>"


def render_sweep(
    plan: SweepPlan, summary: SweepSummary, rows: list[EpisodeRow], out: Path, base: Path
) -> str:
    """The sweep page; ``base`` is the folder it will be written to (for relative links)."""
    e = html.escape
    o = summary.overall
    v = plan.versions
    versions = ", ".join(f"{k} {val}" for k, val in v.model_dump().items() if val is not None)
    timed = o.mean_timed_reward is not None
    return (
        "<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'>"
        f"<title>Gaze sweep {e(plan.suite)} · {e(plan.model)}</title><style>{_CSS}</style></head>"
        f"<body><header><h1>{e(plan.suite)} · {e(plan.model)}</h1>"
        f"<div>profile {e(plan.profile)} · seeds {e(_seed_text(plan.seeds))} · max steps "
        f"{plan.max_steps if plan.max_steps is not None else 'per task'} · "
        f"{summary.finished}/{summary.planned} episodes"
        f"{'' if summary.complete else ' (incomplete: rerun the same command to resume)'}</div>"
        f"<div class='muted'>{e(plan.scoring)}</div><div class='muted'>{e(versions)}</div></header>"
        "<main><section><span class='big'>"
        f"{_pct(o.mean_task_success)}</span> mean of per-task success · pooled "
        f"{_pct(o.pooled_success)} ({o.successes}/{o.episodes}, 95% interval "
        f"{_pct(o.pooled_ci95[0])}–{_pct(o.pooled_ci95[1])}) · mean steps {o.mean_steps:.2f} · "
        f"model latency {o.latency_per_call_s * 1000:.0f} ms per call"
        + (
            f" · mean timed reward {o.mean_timed_reward:.3f}"
            if o.mean_timed_reward is not None
            else ""
        )
        + f"</section><section><h2>Success per task</h2>{_chart(summary.tasks)}</section>"
        f"<section><h2>Tasks</h2><p class='muted'>Click a header to sort; a seed opens that "
        f"episode step by step (green: success).</p>{_table(out, base, summary.tasks, rows, timed)}"
        f"</section></main><script>{_SORT_JS}</script></body></html>"
    )


def _episode_reports(out: Path, rows: list[EpisodeRow]) -> None:
    for r in rows:
        slot = slot_dir(out, Job(r.task, r.seed))
        target = slot / "report.html"
        if target.exists() and target.stat().st_mtime >= (slot / "result.json").stat().st_mtime:
            continue
        try:
            target.write_text(render_report(read_log(slot)), encoding="utf-8")
        except LogError as e:
            log.warning("no report for %s: %s", slot, e)


def is_sweep(path: Path) -> bool:
    return (path / PLAN_FILE).is_file() or (path / SUMMARY_FILE).is_file()


def write_sweep_report(out: Path, target: Path | None = None) -> Path:
    """Write the sweep's report (and its episodes' pages); returns the report's path."""
    plan = load_plan(out)
    rows, _ = scan(out, plan)
    summary = summarise(
        rows, tasks=plan.tasks, suite=plan.suite, model=plan.model, profile=plan.profile,
        seeds=plan.seeds, max_steps=plan.max_steps, scoring=plan.scoring, versions=plan.versions,
        workers=0, wall_s=0.0, sessions=previous_sessions(out), written_at=now_iso(),
    )  # fmt: skip
    _episode_reports(out, rows)
    path = target or out / "report.html"
    path.write_text(render_sweep(plan, summary, rows, out, path.parent), encoding="utf-8")
    return path
