"""Page templates: how widgets are arranged on a page, split into TRAIN and HELDOUT templates.

Contract:
- ``TEMPLATES`` lists every template with its split and screen class (compact: widget-sized
  screens up to 400x300; full: 800x600 and up). A template belongs to exactly one split; held-out
  templates arrange widgets in ways no training template does (an accent rail, a split screen, a
  banner header, side-by-side columns).
- ``build_layout(ctx, spec)`` picks a template of ``spec.split`` for the screen class, picks the
  widgets (always including ``spec.require``; a dialog is an overlay over the whole page) and
  returns ``(template name, document title, body HTML, extra CSS, widgets)``.

Widgets come from ``tasks.synth.widgets``; sizes are CSS (em, %, vw) so one template serves
every viewport of its class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tasks.synth.pages import Ctx, PageSpec, Widget, WidgetKind, esc
from tasks.synth.vocab import Split
from tasks.synth.widgets import WIDGETS, sentence

FULL_POOL: tuple[WidgetKind, ...] = (
    "text", "list", "table", "cards", "form", "checkboxes", "radios", "select", "search",
    "tabs", "menu", "buttons", "alert", "toggles", "pager", "scroll_list", "login",
    "entry",
)  # fmt: skip
COMPACT_POOL: tuple[WidgetKind, ...] = (
    "login", "checkboxes", "radios", "select", "search", "tabs", "menu", "buttons", "list",
    "form", "text", "toggles", "scroll_list", "cards", "table", "entry",
)  # fmt: skip
DIALOG_CHANCE = 0.08

Built = tuple[str, str, list[Widget]]  # body, css, widgets in the order they appear


@dataclass(frozen=True)
class Template:
    name: str
    split: Split
    compact: bool
    build: Callable[[Ctx, list[WidgetKind]], Built]


def _make(ctx: Ctx, kinds: list[WidgetKind]) -> list[Widget]:
    return [WIDGETS[k](ctx) for k in kinds]


def _boxed(ctx: Ctx, w: Widget) -> str:
    """Form widgets are cards already; others get a card around them half the time."""
    if w.html.startswith(('<form class="card"', "<nav", "<footer")) or ctx.rng.random() < 0.5:
        return w.html
    return f'<div class="card">{w.html}</div>'


# -- full pages, TRAIN ------------------------------------------------------------------------


def dashboard(ctx: Ctx, kinds: list[WidgetKind]) -> Built:
    nav, side = WIDGETS["navbar"](ctx), WIDGETS["sidebar"](ctx)
    title = ctx.pick("sections")
    body = _make(ctx, kinds)
    cells = "".join(f"<div>{_boxed(ctx, w)}</div>" for w in body)
    html = (
        f'{nav.html}<div class="dash">{side.html}<main><h1 data-gid="{ctx.gid()}">'
        f'{esc(title)}</h1><div class="grid">{cells}</div></main></div>'
    )
    css = (
        ".dash{display:flex;align-items:stretch}.dash main{flex:1;padding:1em 1.4em;min-width:0}"
        ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(19em,1fr));gap:1em;"
        "align-items:start}"
    )
    return html, css, [nav, side, *body]


def landing(ctx: Ctx, kinds: list[WidgetKind]) -> Built:
    nav = WIDGETS["navbar"](ctx)
    hero, cta = WIDGETS["text"](ctx), WIDGETS["buttons"](ctx)
    body = _make(ctx, kinds)
    foot = WIDGETS["footer"](ctx)
    sections = "".join(f'<section class="sec">{_boxed(ctx, w)}</section>' for w in body)
    html = (
        f'{nav.html}<header class="hero">{hero.html}{cta.html}</header>'
        f'<main class="col">{sections}</main>{foot.html}'
    )
    css = (
        ".hero{padding:2.2em 1.5em;text-align:center;background:var(--accent-soft)}"
        ".hero .row{justify-content:center}.col{max-width:46em;margin:0 auto;padding:1em}"
        ".sec{margin:1.2em 0}"
    )
    return html, css, [nav, hero, cta, *body, foot]


def centered(ctx: Ctx, kinds: list[WidgetKind]) -> Built:
    brand = ctx.pick("brands")
    body = _make(ctx, kinds)
    foot = WIDGETS["footer"](ctx)
    inner = "".join(_boxed(ctx, w) for w in body)
    html = (
        f'<div class="top"><b data-gid="{ctx.gid()}">{esc(brand)}</b></div>'
        f'<main class="narrow">{inner}</main>{foot.html}'
    )
    css = ".top{padding:.8em 1.2em}.narrow{max-width:30em;margin:1.5em auto;padding:0 1em}"
    return html, css, [*body, foot]


def article(ctx: Ctx, kinds: list[WidgetKind]) -> Built:
    nav = WIDGETS["navbar"](ctx)
    lead = WIDGETS["text"](ctx)
    body = _make(ctx, kinds)
    half = max(1, len(body) // 2 + 1)
    main = "".join(_boxed(ctx, w) for w in body[:half])
    aside = "".join(f'<div class="card">{w.html}</div>' for w in body[half:])
    html = f'{nav.html}<div class="cols"><main>{lead.html}{main}</main><aside>{aside}</aside></div>'
    css = (
        ".cols{display:grid;grid-template-columns:2fr 1fr;gap:1.5em;padding:1em 1.5em}"
        ".cols>*{min-width:0}"
    )
    return html, css, [nav, lead, *body]


# -- full pages, HELDOUT ----------------------------------------------------------------------


def rail(ctx: Ctx, kinds: list[WidgetKind]) -> Built:
    side = WIDGETS["sidebar"](ctx)
    title = ctx.pick("sections")
    tools = WIDGETS["buttons"](ctx)
    body = _make(ctx, kinds)
    cells = "".join(f'<div class="card">{w.html}</div>' for w in body)
    html = (
        f'<div class="shell"><div class="rail">{side.html}</div><div class="work">'
        f'<div class="bar"><h2 data-gid="{ctx.gid()}">{esc(title)}</h2>{tools.html}</div>'
        f'<div class="masonry">{cells}</div></div></div>'
    )
    css = (
        ".shell{display:flex;min-height:100vh}.rail{background:var(--accent);padding:.6em 0}"
        ".rail .sidebar{background:transparent;border:none}"
        ".rail .sidebar a{color:var(--accent-text)}.rail .sidebar a.active{background:rgba(255,255,255,.2);color:var(--accent-text)}"
        ".work{flex:1;min-width:0;padding:0 1.4em}.bar{display:flex;justify-content:space-between;"
        "align-items:center;border-bottom:var(--bw) solid var(--border);padding:.6em 0}"
        ".masonry{columns:2 22em;column-gap:1.2em}.masonry>.card{break-inside:avoid}"
    )
    return html, css, [side, tools, *body]


def split_screen(ctx: Ctx, kinds: list[WidgetKind]) -> Built:
    brand = ctx.pick("brands")
    body = _make(ctx, kinds)
    stack = "".join(_boxed(ctx, w) for w in body)
    html = (
        f'<div class="split"><div class="left"><h1 data-gid="{ctx.gid()}">{esc(brand)}</h1>'
        f'<p data-gid="{ctx.gid()}">{esc(sentence(ctx))}</p></div>'
        f'<div class="right">{stack}</div></div>'
    )
    css = (
        ".split{display:grid;grid-template-columns:2fr 3fr;min-height:100vh}"
        ".left{background:linear-gradient(160deg,var(--accent),var(--accent-soft));"
        "color:var(--accent-text);padding:3em 2em}.right{padding:2em;min-width:0}"
    )
    return html, css, body


# -- compact pages ----------------------------------------------------------------------------


def plain(ctx: Ctx, kinds: list[WidgetKind]) -> Built:
    body = _make(ctx, kinds)
    head = ""
    if ctx.rng.random() < 0.4:
        head = f'<div class="muted" data-gid="{ctx.gid()}">{esc(ctx.pick("sections"))}</div>'
    return (
        f'<div class="pad">{head}{"".join(w.html for w in body)}</div>',
        ".pad{padding:.5em}",
        body,
    )


def card(ctx: Ctx, kinds: list[WidgetKind]) -> Built:
    body = _make(ctx, kinds)
    inner = "".join(w.html for w in body)
    return f'<div class="card outer">{inner}</div>', ".outer{margin:.4em}", body


def banner(ctx: Ctx, kinds: list[WidgetKind]) -> Built:
    title = ctx.pick("sections")
    body = _make(ctx, kinds)
    html = (
        f'<div class="banner" data-gid="{ctx.gid()}">{esc(title)}</div>'
        f'<div class="under">{"".join(w.html for w in body)}</div>'
    )
    css = (
        ".banner{background:var(--accent);color:var(--accent-text);padding:.35em .6em;"
        "font-weight:bold}.under{padding:.3em .5em}"
    )
    return html, css, body


def columns(ctx: Ctx, kinds: list[WidgetKind]) -> Built:
    body = _make(ctx, kinds)
    cells = "".join(f'<div class="colcell">{w.html}</div>' for w in body)
    css = (
        ".cols2{display:flex;flex-wrap:wrap;gap:.4em;padding:.4em}"
        ".colcell{flex:1 1 9em;min-width:0;border-left:3px solid var(--accent);padding-left:.4em}"
    )
    return f'<div class="cols2">{cells}</div>', css, body


TEMPLATES: tuple[Template, ...] = (
    Template("dashboard", "train", False, dashboard),
    Template("landing", "train", False, landing),
    Template("centered", "train", False, centered),
    Template("article", "train", False, article),
    Template("rail", "heldout", False, rail),
    Template("split_screen", "heldout", False, split_screen),
    Template("plain", "train", True, plain),
    Template("card", "train", True, card),
    Template("banner", "heldout", True, banner),
    Template("columns", "heldout", True, columns),
)


def templates(split: Split, compact: bool) -> tuple[Template, ...]:
    return tuple(t for t in TEMPLATES if t.split == split and t.compact == compact)


def _kinds(ctx: Ctx, spec: PageSpec) -> list[WidgetKind]:
    """The widgets in the page's main area: the required one plus random fillers."""
    pool = COMPACT_POOL if spec.compact else FULL_POOL
    if spec.long:
        n = ctx.rng.randint(3, 4) if spec.compact else ctx.rng.randint(9, 14)
    else:
        n = ctx.rng.randint(1, 2) if spec.compact else ctx.rng.randint(2, 5)
    fillers = [k for k in pool if k != spec.require]
    kinds: list[WidgetKind] = [ctx.rng.choice(fillers) for _ in range(n)]
    if spec.require is not None and spec.require != "dialog":
        kinds[ctx.rng.randrange(len(kinds))] = spec.require
    return kinds


def build_layout(ctx: Ctx, spec: PageSpec) -> tuple[str, str, str, str, list[Widget]]:
    """(template, title, body, css, widgets) for ``spec``; see the module contract."""
    template = ctx.rng.choice(templates(spec.split, spec.compact))
    body, css, widgets = template.build(ctx, _kinds(ctx, spec))
    if spec.require == "dialog" or (spec.require is None and ctx.rng.random() < DIALOG_CHANCE):
        d = WIDGETS["dialog"](ctx)
        body += d.html
        widgets.append(d)
    title = widgets[0].title if widgets and widgets[0].title else template.name
    return template.name, title, body, css, widgets
