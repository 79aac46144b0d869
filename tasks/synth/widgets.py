"""Content and navigation widgets: bars, tabs, menus, dialogs, lists, tables, cards, text.

Contract: like ``tasks.synth.forms``, each function takes the page's ``Ctx`` and returns a
``Widget``; ``items`` lists the parts a demonstration may target (tabs, menu entries, rows, cards)
and ``groups`` maps a tab's gid to the buttons inside its panel. Interactive behaviour comes from
markup the page runtime understands: ``role=tab`` + ``aria-controls``, ``data-menu`` openers,
``data-dismissable`` containers closed by ``data-dismiss`` buttons (and Escape where
``data-escape`` is set).

``WIDGETS`` maps every kind to its generator, forms included.
"""

from __future__ import annotations

from collections.abc import Callable

from tasks.synth import forms
from tasks.synth.pages import Ctx, Item, Widget, WidgetKind, esc

CLOSE_ICON = "×"


def _price(ctx: Ctx) -> str:
    cents = ctx.rng.choice((0, 49, 95, 99))
    return f"${ctx.rng.randint(2, 480)}.{cents:02d}"


def sentence(ctx: Ctx) -> str:
    """A short line of filler copy built from vocabulary words and fixed glue."""
    adj, noun, verb = ctx.pick("adjectives"), ctx.pick("nouns"), ctx.pick("verbs")
    article = "An" if adj[0] in "aeiou" else "A"
    forms_ = (
        f"{article} {adj} way to {verb} every {noun}.",
        f"{ctx.pick('brands')} helps you {verb} your {noun}.",
        f"Keep your {noun} {adj} and easy to {verb}.",
        f"The {adj} {noun} is ready when you are.",
        f"{verb.capitalize()} the {noun} in minutes.",
    )
    return ctx.rng.choice(forms_)


def _links(ctx: Ctx, labels: list[str], cls: str, active: int) -> tuple[str, list[Item]]:
    parts, items = [], []
    for i, label in enumerate(labels):
        gid = ctx.gid()
        on = " active" if i == active else ""
        parts.append(f'<a href="#" class="{cls}{on}" data-gid="{gid}">{esc(label)}</a>')
        items.append(Item(label=label, gid=gid, on=i == active))
    return "".join(parts), items


def navbar(ctx: Ctx) -> Widget:
    gid, bgid = ctx.gid(), ctx.gid()
    brand = ctx.pick("brands")
    links, items = _links(ctx, ctx.picks("sections", ctx.between((1, 2), (3, 5))), "navlink", 0)
    extra = ""
    if not ctx.compact and ctx.rng.random() < 0.5:
        extra = f'<span style="margin-left:auto">{forms.search(ctx).html}</span>'
    elif not ctx.compact and ctx.rng.random() < 0.5:
        extra = (
            f'<button class="btn btn-primary" style="margin-left:auto" data-gid="{ctx.gid()}">'
            f"{esc(ctx.pick('actions'))}</button>"
        )
    html = (
        f'<nav class="navbar" data-gid="{gid}"><a href="#" class="brand" data-gid="{bgid}">'
        f"{esc(brand)}</a>{links}{extra}</nav>"
    )
    return Widget("navbar", gid, html, items=tuple(items), title=brand)


def sidebar(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    labels = ctx.picks("sections", ctx.between((2, 3), (4, 7)))
    links, items = _links(ctx, labels, "", ctx.rng.randrange(len(labels)))
    html = f'<nav class="sidebar" data-gid="{gid}">{links}</nav>'
    return Widget("sidebar", gid, html, items=tuple(items))


def buttons(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    labels = ctx.picks("actions", ctx.between((2, 3), (2, 4)))
    disabled = ctx.rng.randrange(len(labels)) if ctx.rng.random() < 0.3 else -1
    parts, items = [], []
    for i, label in enumerate(labels):
        bgid = ctx.gid()
        cls = "btn btn-primary" if i == 0 else ctx.rng.choice(("btn", "btn", "btn btn-danger"))
        dis = " disabled" if i == disabled else ""
        parts.append(f'<button class="{cls}" data-gid="{bgid}"{dis}>{esc(label)}</button>')
        items.append(Item(label=label, gid=bgid, on=i != disabled))
    html = f'<div class="row" data-gid="{gid}">{"".join(parts)}</div>'
    return Widget("buttons", gid, html, items=tuple(items))


def tabs(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    names = ctx.picks("sections", ctx.between((2, 3), (3, 5)))
    active = ctx.rng.randrange(len(names)) if ctx.rng.random() < 0.4 else 0
    heads, panels, items = [], [], []
    groups: dict[str, tuple[Item, ...]] = {}
    for i, name in enumerate(names):
        tgid, pid = ctx.gid(), ctx.dom_id("panel")
        on = i == active
        heads.append(
            f'<button role="tab" class="tab" aria-selected="{"true" if on else "false"}" '
            f'aria-controls="{pid}" data-gid="{tgid}">{esc(name)}</button>'
        )
        acts = []
        for label in ctx.picks("actions", ctx.between((1, 1), (1, 3))):
            acts.append(Item(label=label, gid=ctx.gid()))
        text = f'<p data-gid="{ctx.gid()}">{esc(sentence(ctx))}</p>' if not ctx.compact else ""
        btns = "".join(
            f'<button class="btn" data-gid="{a.gid}">{esc(a.label)}</button>' for a in acts
        )
        hidden = "" if on else " hidden"
        panels.append(
            f'<div class="panel" role="tabpanel" id="{pid}"{hidden}>{text}'
            f'<div class="row">{btns}</div></div>'
        )
        items.append(Item(label=name, gid=tgid, on=on))
        groups[tgid] = tuple(acts)
    html = (
        f'<div data-gid="{gid}"><div class="tabs" role="tablist">{"".join(heads)}</div>'
        f"{''.join(panels)}</div>"
    )
    return Widget("tabs", gid, html, items=tuple(items), groups=groups)


def menu(ctx: Ctx, *, open_: bool | None = None) -> Widget:
    gid, bgid, mid = ctx.gid(), ctx.gid(), ctx.dom_id("menu")
    label = ctx.pick("sections")
    entries = ctx.picks("actions", ctx.between((2, 4), (3, 6)))
    is_open = ctx.rng.random() < 0.3 if open_ is None else open_
    items = [Item(label=e, gid=ctx.gid()) for e in entries]
    rows = "".join(
        f'<button class="menu-item" role="menuitem" data-gid="{i.gid}">{esc(i.label)}</button>'
        for i in items
    )
    html = (
        f'<div class="menu-wrap" data-gid="{gid}"><button class="btn" data-menu="{mid}" '
        f'aria-haspopup="menu" aria-expanded="{"true" if is_open else "false"}" '
        f'data-gid="{bgid}">{esc(label)} ▾</button><div class="menu" role="menu" id="{mid}"'
        f"{'' if is_open else ' hidden'}>{rows}</div></div>"
    )
    slots = {"opener": Item(label=label, gid=bgid, on=is_open)}
    return Widget("menu", gid, html, slots=slots, items=tuple(items), title=label)


def dialog(ctx: Ctx) -> Widget:
    gid, dgid, xgid, tgid = ctx.gid(), ctx.gid(), ctx.gid(), ctx.gid()
    title = ctx.pick("sections")
    action = ctx.pick("actions")
    cancel, ok = ctx.gid(), ctx.gid()
    cancel_label = ctx.rng.choice(("Cancel", "Not now", "Close", "Dismiss"))
    body = esc(sentence(ctx))
    html = (
        f'<div class="backdrop" data-dismissable data-escape data-gid="{gid}">'
        f'<div class="dialog" role="dialog" aria-modal="true" data-gid="{dgid}">'
        f'<button class="icon-btn dialog-x" aria-label="Close" data-dismiss data-gid="{xgid}">'
        f'{CLOSE_ICON}</button><h3 data-gid="{tgid}">{esc(title)}</h3>'
        f'<p data-gid="{ctx.gid()}">{body}</p><div class="row">'
        f'<button class="btn" data-dismiss data-gid="{cancel}">{cancel_label}</button>'
        f'<button class="btn btn-primary" data-gid="{ok}">{esc(action)}</button></div></div></div>'
    )
    slots = {
        "close": Item(label="Close", gid=xgid),
        "cancel": Item(label=cancel_label, gid=cancel),
        "ok": Item(label=action, gid=ok),
        "box": Item(label=title, gid=dgid),
    }
    return Widget("dialog", gid, html, slots=slots, title=title)


def alert(ctx: Ctx) -> Widget:
    gid, tgid, xgid = ctx.gid(), ctx.gid(), ctx.gid()
    html = (
        f'<div class="alert row" data-dismissable data-gid="{gid}">'
        f'<span data-gid="{tgid}">{esc(sentence(ctx))}</span>'
        f'<button class="icon-btn" style="margin-left:auto" aria-label="Dismiss" data-dismiss '
        f'data-gid="{xgid}">{CLOSE_ICON}</button></div>'
    )
    return Widget("alert", gid, html, slots={"close": Item(label="Dismiss", gid=xgid)})


def list_(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    title = ctx.pick("sections")
    n = ctx.between((2, 4), (3, 7))
    names = [
        f"{f} {ln}"
        for f, ln in zip(ctx.picks("first_names", n), ctx.picks("last_names", n), strict=False)
    ]
    rows, items = [], []
    for name in names:
        igid, sgid = ctx.gid(), ctx.gid()
        status = ctx.pick("statuses")
        rows.append(
            f'<li class="row"><a href="#" data-gid="{igid}">{esc(name)}</a>'
            f'<span class="badge" style="margin-left:auto" data-gid="{sgid}">{esc(status)}</span></li>'
        )
        items.append(Item(label=name, gid=igid, value=status))
    html = (
        f'<div data-gid="{gid}"><h3 data-gid="{ctx.gid()}">{esc(title)}</h3>'
        f'<ul class="list">{"".join(rows)}</ul></div>'
    )
    return Widget("list", gid, html, items=tuple(items), title=title)


def scroll_list(ctx: Ctx) -> Widget:
    gid, sgid = ctx.gid(), ctx.gid()
    category = ctx.rng.choice(("products", "cities", "first_names"))
    labels = ctx.picks(category, ctx.between((8, 12), (10, 16)))
    items = [Item(label=label, gid=ctx.gid()) for label in labels]
    rows = "".join(f'<li><a href="#" data-gid="{i.gid}">{esc(i.label)}</a></li>' for i in items)
    height = ctx.rng.choice((5, 6, 7)) if ctx.compact else ctx.rng.choice((8, 10, 12))
    html = (
        f'<div data-gid="{gid}"><div class="scroller" data-gid="{sgid}" style="height:{height}em">'
        f'<ul class="list">{rows}</ul></div></div>'
    )
    slots = {"scroller": Item(label="", gid=sgid)}
    return Widget("scroll_list", gid, html, slots=slots, items=tuple(items))


def table(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    n = ctx.between((2, 3), (3, 7))
    products = ctx.picks("products", n)
    action = ctx.pick("actions")
    head = ctx.rng.choice(("Item", "Product", "Name"))
    rows, items = [], []
    for p in products:
        pgid, price = ctx.gid(), _price(ctx)
        status = ctx.pick("statuses")
        cells = [
            f'<td data-gid="{pgid}">{esc(p)}</td>',
            f'<td data-gid="{ctx.gid()}">{price}</td>',
        ]
        if not ctx.compact:
            cells.append(f'<td data-gid="{ctx.gid()}">{esc(status)}</td>')
            cells.append(f'<td><a href="#" data-gid="{ctx.gid()}">{esc(action)}</a></td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")
        items.append(Item(label=p, gid=pgid, value=price))
    cols = [head, "Price"] + ([] if ctx.compact else ["Status", ""])
    thead = "".join(f'<th data-gid="{ctx.gid()}">{c}</th>' if c else "<th></th>" for c in cols)
    html = (
        f'<div data-gid="{gid}"><table><thead><tr>{thead}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )
    return Widget("table", gid, html, items=tuple(items), title=head)


def cards(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    n = ctx.between((1, 2), (2, 6))
    button = ctx.pick("actions")
    parts, items = [], []
    for p in ctx.picks("products", n):
        cgid, tgid, price = ctx.gid(), ctx.gid(), _price(ctx)
        bgid = ctx.gid()
        parts.append(
            f'<div class="card" data-gid="{cgid}"><div class="thumb"></div>'
            f'<h3 data-gid="{tgid}">{esc(p)}</h3><p class="muted" data-gid="{ctx.gid()}">'
            f'{price}</p><button class="btn btn-primary" data-gid="{bgid}">{esc(button)}</button></div>'
        )
        items.append(Item(label=p, gid=tgid, value=price))
    cols = 1 if ctx.compact else ctx.rng.choice((2, 3))
    html = (
        f'<div data-gid="{gid}" style="display:grid;grid-template-columns:repeat({cols},1fr);'
        f'gap:.8em">{"".join(parts)}</div>'
    )
    return Widget("cards", gid, html, items=tuple(items), title=button)


def text(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    title = f"{ctx.pick('adjectives').capitalize()} {ctx.pick('nouns')}"
    paras = "".join(
        f'<p data-gid="{ctx.gid()}">{esc(sentence(ctx))}</p>'
        for _ in range(ctx.between((1, 1), (1, 3)))
    )
    level = "h3" if ctx.compact else ctx.rng.choice(("h1", "h2"))
    html = f'<section data-gid="{gid}"><{level} data-gid="{ctx.gid()}">{esc(title)}</{level}>{paras}</section>'
    return Widget("text", gid, html, title=title)


def pager(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    pages = ctx.rng.randint(3, 6)
    current = ctx.rng.randint(1, pages)
    parts = [f'<a href="#" data-gid="{ctx.gid()}">‹ Prev</a>']
    items = []
    for i in range(1, pages + 1):
        pgid = ctx.gid()
        style = ' style="background:var(--accent);color:var(--accent-text)"' if i == current else ""
        parts.append(f'<a href="#" data-gid="{pgid}"{style}>{i}</a>')
        items.append(Item(label=str(i), gid=pgid, on=i == current))
    parts.append(f'<a href="#" data-gid="{ctx.gid()}">Next ›</a>')
    html = f'<nav class="pager" data-gid="{gid}">{"".join(parts)}</nav>'
    return Widget("pager", gid, html, items=tuple(items))


def footer(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    brand = ctx.pick("brands")
    links, items = _links(ctx, ctx.picks("sections", 3), "", -1)
    html = (
        f'<footer class="footer row" data-gid="{gid}"><span data-gid="{ctx.gid()}">'
        f"© {ctx.rng.randint(2015, 2026)} {esc(brand)}</span>{links}</footer>"
    )
    return Widget("footer", gid, html, items=tuple(items), title=brand)


WIDGETS: dict[WidgetKind, Callable[[Ctx], Widget]] = {
    "navbar": navbar,
    "sidebar": sidebar,
    "login": forms.login,
    "form": forms.form,
    "checkboxes": forms.checkboxes,
    "radios": forms.radios,
    "select": forms.select,
    "search": forms.search,
    "entry": forms.entry,
    "toggles": forms.toggles,
    "tabs": tabs,
    "menu": menu,
    "dialog": dialog,
    "list": list_,
    "table": table,
    "cards": cards,
    "text": text,
    "buttons": buttons,
    "pager": pager,
    "alert": alert,
    "scroll_list": scroll_list,
    "footer": footer,
}
