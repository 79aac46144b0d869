"""Learning curves of a training run as one self-contained HTML file (inline SVG, no libraries).

Contract: ``write(log_path, html_path)`` reads the run's ``log.jsonl`` and draws the training loss
(and its parts, smoothed over 25 steps) against the step, and the held-out evaluation scores.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

_W, _H, _PAD = 720, 260, 40
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _smooth(ys: list[float], k: int = 25) -> list[float]:
    out, acc = [], 0.0
    for i, y in enumerate(ys):
        acc += y
        if i >= k:
            acc -= ys[i - k]
        out.append(acc / min(i + 1, k))
    return out


def _chart(title: str, series: dict[str, list[tuple[float, float]]], log_y: bool) -> str:
    pts = [p for s in series.values() for p in s if math.isfinite(p[1])]
    if not pts:
        return ""
    f = (lambda v: math.log10(max(v, 1e-4))) if log_y else (lambda v: v)
    x0, x1 = min(p[0] for p in pts), max(p[0] for p in pts)
    y0, y1 = min(f(p[1]) for p in pts), max(f(p[1]) for p in pts)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)

    def xy(x: float, y: float) -> str:
        px = _PAD + (x - x0) / (x1 - x0) * (_W - 2 * _PAD)
        py = _H - _PAD - (f(y) - y0) / (y1 - y0) * (_H - 2 * _PAD)
        return f"{px:.1f},{py:.1f}"

    lines = []
    for i, (name, s) in enumerate(series.items()):
        c = _COLOURS[i % len(_COLOURS)]
        good = [p for p in s if math.isfinite(p[1])]
        path = " ".join(xy(*p) for p in good)
        lines.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{path}"/>')
        lines.append(
            f'<text x="{_W - 150}" y="{20 + 14 * i}" fill="{c}" font-size="12">'
            f"{html.escape(name)}</text>"
        )
    lo, hi = (10**y0, 10**y1) if log_y else (y0, y1)
    axes = (
        f'<text x="4" y="{_H - _PAD}" font-size="11">{lo:.3g}</text>'
        f'<text x="4" y="{_PAD}" font-size="11">{hi:.3g}</text>'
        f'<text x="{_PAD}" y="{_H - 8}" font-size="11">step {x0:.0f}</text>'
        f'<text x="{_W - _PAD - 60}" y="{_H - 8}" font-size="11">step {x1:.0f}</text>'
    )
    return (
        f"<h3>{html.escape(title)}</h3><svg width='{_W}' height='{_H}' "
        f"style='border:1px solid #ccc'>{axes}{''.join(lines)}</svg>"
    )


def write(log_path: Path, html_path: Path) -> None:
    train: dict[str, list[tuple[float, float]]] = {}
    evals: dict[str, list[tuple[float, float]]] = {}
    for line in log_path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        step = float(rec["step"])
        if "eval" in rec:
            for k in ("click_in_target", "exact", "verb_right_demo"):
                if k in rec["eval"]:  # older logs lack the verb score
                    evals.setdefault(k, []).append((step, float(rec["eval"][k])))
        else:
            for k in ("loss", "text", "pointer", "offset", "verb"):
                if k in rec:
                    train.setdefault(k, []).append((step, float(rec[k])))
    smoothed = {
        k: list(zip([p[0] for p in v], _smooth([p[1] for p in v]), strict=True))
        for k, v in train.items()
    }
    body = _chart("training loss (25-step mean, log scale)", smoothed, True)
    body += _chart("held-out scores (inference path: tiles + pointer confidence)", evals, False)
    html_path.write_text(
        f"<!doctype html><meta charset='utf-8'><title>gaze built-in: learning curves</title>"
        f"<body style='font-family:sans-serif'><h2>{html.escape(str(log_path))}</h2>{body}</body>",
        encoding="utf-8",
    )
