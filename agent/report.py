"""HTML report of one run: a single self-contained file a person can open anywhere.

Contract: ``render_report(log)`` returns HTML (no external resources: screenshots are inlined as
data URLs, styles are inline) with a header (task, goals, model, outcome, checks) and one section
per model call: the screenshot with every pointer action marked where it landed (an SVG overlay in
viewport CSS px), the model's text, the parsed actions with their results, feedback, and timings.
All text from pages and models is HTML-escaped. The log is treated as untrusted: a task of odd shape
in meta.json falls back to defaults, and only screenshots inside the run folder are inlined.
"""

from __future__ import annotations

import base64
import html
import mimetypes
from pathlib import Path

from actions.types import Action, Click, DoubleClick, Drag, Hover, RightClick, Scroll, describe
from agent.trajectory import LoadedLog, StepRecord

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:18px 28px}header h1{margin:0 0 4px;font-size:20px}
.ok{color:#0a7d38;font-weight:600}.bad{color:#c0262d;font-weight:600}main{padding:16px 28px}
.step{background:#fff;border-radius:10px;box-shadow:0 1px 3px #0002;margin:0 0 18px;padding:14px 18px;display:flex;gap:18px;flex-wrap:wrap}
.shot{position:relative;flex:0 0 auto;max-width:min(100%,760px)}.shot img,.shot svg{width:100%;display:block}
.shot svg{position:absolute;left:0;top:0;height:100%}.info{flex:1 1 340px;min-width:300px}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;border-radius:6px;padding:8px;margin:6px 0}
table{border-collapse:collapse}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}.muted{color:#667}
"""


def _data_url(run_dir: Path, rel: str) -> str:
    path = (run_dir / rel).resolve()
    if not path.is_relative_to(run_dir.resolve()) or not path.is_file():
        return ""  # a log must not make the report embed files from elsewhere
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _marks(actions: list[Action]) -> str:
    out = []
    for a in actions:
        match a:
            case Click() | DoubleClick() | RightClick() | Hover():
                out.append(
                    f'<circle cx="{a.x:.1f}" cy="{a.y:.1f}" r="16" fill="none" stroke="#e0245e" '
                    f'stroke-width="4"/><circle cx="{a.x:.1f}" cy="{a.y:.1f}" r="4" fill="#e0245e"/>'
                )
            case Drag():
                out.append(
                    f'<line x1="{a.x:.1f}" y1="{a.y:.1f}" x2="{a.to_x:.1f}" y2="{a.to_y:.1f}" '
                    f'stroke="#e0245e" stroke-width="3"/><circle cx="{a.x:.1f}" cy="{a.y:.1f}" r="6" '
                    f'fill="#e0245e"/>'
                )
            case Scroll():
                out.append(
                    f'<line x1="{a.x:.1f}" y1="{a.y:.1f}" x2="{a.x + a.dx / 10:.1f}" '
                    f'y2="{a.y + a.dy / 10:.1f}" stroke="#2463eb" stroke-width="4"/>'
                    f'<circle cx="{a.x:.1f}" cy="{a.y:.1f}" r="6" fill="#2463eb"/>'
                )
            case _:
                pass
    return "".join(out)


def _step_html(log: LoadedLog, rec: StepRecord, vw: int, vh: int) -> str:
    e = html.escape
    img = _data_url(log.run_dir, rec.screenshot) if rec.screenshot else ""
    shot = (
        f'<div class="shot"><img src="{img}" alt="step {rec.step + 1}">'
        f'<svg viewBox="0 0 {vw} {vh}" preserveAspectRatio="none">{_marks(rec.actions)}</svg></div>'
        if img
        else ""
    )
    rows = []
    for i, a in enumerate(rec.actions):
        res = rec.results[i] if i < len(rec.results) else None
        status = (
            '<span class="muted">not executed</span>'
            if res is None
            else (
                '<span class="ok">ok</span>'
                if res.ok
                else f'<span class="bad">{e(res.error or "")}</span>'
            )
        )
        notes = "".join(
            f"<br><span class='muted'>{e(n)}</span>" for n in (res.notes if res else ())
        )
        rows.append(f"<tr><td><code>{e(describe(a))}</code></td><td>{status}{notes}</td></tr>")
    parts = [
        f"<h3>Step {rec.step + 1}{f' (retry {rec.attempt})' if rec.attempt else ''}</h3>",
        f"<div class='muted'>{e(rec.url)}</div>",
    ]
    if rec.dialog:
        parts.append(f"<p>Dialog open: {e(rec.dialog.type)} {e(rec.dialog.message)!r}</p>")
    if rec.model_text is not None:
        parts.append(f"<b>Model said</b><pre>{e(rec.model_text)}</pre>")
    if rec.model_error:
        parts.append(f"<p class='bad'>Model error: {e(rec.model_error)}</p>")
    if rec.parse_error:
        parts.append(f"<p class='bad'>Could not parse: {e(rec.parse_error)}</p>")
    if rows:
        parts.append("<table>" + "".join(rows) + "</table>")
    if rec.feedback:
        parts.append("<p><b>Told the model:</b> " + e(" / ".join(rec.feedback)) + "</p>")
    t = rec.timings
    parts.append(
        "<p class='muted'>"
        + " · ".join(f"{k.removesuffix('_s')} {v * 1000:.0f} ms" for k, v in t.items())
        + (
            f" · tokens {rec.prompt_tokens}+{rec.completion_tokens}"
            if rec.completion_tokens
            else ""
        )
        + "</p>"
    )
    return f"<section class='step'>{shot}<div class='info'>{''.join(parts)}</div></section>"


def _size(value: object, default: int) -> int:
    """A viewport size from meta.json, or ``default`` if it is not a sane number of CSS px."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 100_000:
        return int(value)
    return default


def render_report(log: LoadedLog) -> str:
    e = html.escape
    task = log.meta.task
    vp = task.get("viewport")
    vp = vp if isinstance(vp, dict) else {}
    vw, vh = _size(vp.get("width"), 1280), _size(vp.get("height"), 800)
    goals = task.get("goals")
    goals = goals if isinstance(goals, list) else [task.get("goal", "")]
    r = log.result
    if r is None:
        outcome = "<span class='bad'>unfinished run (no result.json)</span>"
    else:
        cls = "ok" if r.success else "bad"
        outcome = (
            f"<span class='{cls}'>{'success' if r.success else 'failure'}</span> · stopped: "
            f"{e(r.stop_reason)} {e(r.detail)} · {r.steps} steps · {r.model_calls} model calls · "
            f"{r.duration_s:.1f} s"
        )
    checks = ""
    if r is not None and r.checks:
        checks = (
            "<table>"
            + "".join(
                f"<tr><td class='{'ok' if c.passed else 'bad'}'>{'✓' if c.passed else '✗'}</td>"
                f"<td>{e(c.detail)}</td></tr>"
                for c in r.checks
            )
            + "</table>"
        )
    warn = "".join(f"<p class='bad'>{e(w)}</p>" for w in log.warnings)
    steps = "".join(_step_html(log, s, vw, vh) for s in log.steps)
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>Gaze run {e(log.meta.run_id)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{e(str(task.get('id', '?')))}</h1>"
        f"<div>{'<br>'.join(e(str(g)) for g in goals)}</div>"
        f"<div>model {e(log.meta.model)} · profile {e(log.meta.profile)} · {e(log.meta.started_at)}</div>"
        f"<div>{outcome}</div></header><main>{warn}{checks}{steps}</main></body></html>"
    )
