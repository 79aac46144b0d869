"""Form widgets: login, generic forms, checkboxes, radio groups, selects, search boxes, switches.

Contract: each function takes the page's ``Ctx`` and returns one ``Widget`` whose ``slots`` and
``items`` name the gids a demonstration needs (``slots["submit"]``, one ``Item`` per checkbox with
its initial state, ...). Every ``<form>`` carries its own gid, which ``window.__synth.submits``
records on submission; inputs have ``name`` attributes so submissions can be checked by value.

Labels and options come from the ``Ctx`` vocabulary; the few fixed phrases here ("Remember me",
"Search") are template text shared by both splits and are kept out of the vocabulary lists.
"""

from __future__ import annotations

from tasks.synth.pages import Ctx, Item, Widget, WidgetKind, esc

# Radio groups: a heading (template text) and the vocabulary category its options come from.
RADIO_GROUPS = (
    ("Color", "colors"),
    ("Size", "sizes"),
    ("Plan", "plans"),
    ("Delivery", "delivery"),
    ("Payment method", "payments"),
    ("How often?", "frequencies"),
)
ENTRY_HINTS = ("Type here", "Your answer", "Text", "Enter text", "…", "Write something")
_FIELD_TYPES = {"Phone": "tel", "Mobile": "tel", "Website": "url", "Birthday": "text"}
SEARCH_ICON = (
    '<svg width="1em" height="1em" viewBox="0 0 16 16" aria-hidden="true"><circle cx="6.5" '
    'cy="6.5" r="4.5" fill="none" stroke="currentColor" stroke-width="2"/><path d="M10 10l4 4" '
    'stroke="currentColor" stroke-width="2"/></svg>'
)


def _status(ctx: Ctx, form_gid: str) -> str:
    """A confirmation line the runtime reveals when the form is submitted."""
    return (
        f'<p class="muted" data-gid="{ctx.gid()}" data-status-for="{form_gid}" hidden>'
        f"{ctx.rng.choice(('Saved.', 'Thanks! Received.', 'All set.', 'Submitted.'))}</p>"
    )


def _button(
    ctx: Ctx, label: str, *, primary: bool = True, kind: str = "submit"
) -> tuple[str, Item]:
    gid = ctx.gid()
    cls = "btn btn-primary" if primary else "btn"
    html = f'<button type="{kind}" class="{cls}" data-gid="{gid}">{esc(label)}</button>'
    return html, Item(label=label, gid=gid)


def _text_field(
    ctx: Ctx, label: str, name: str, *, kind: str = "text", value: str = ""
) -> tuple[str, Item]:
    """A labelled input; the Item is the input (its label, gid and initial value)."""
    dom_id, lgid, igid = ctx.dom_id("f"), ctx.gid(), ctx.gid()
    placeholder = ""
    if ctx.rng.random() < 0.3:
        placeholder = f' placeholder="{esc(label)}"'
    val = f' value="{esc(value)}"' if value else ""
    if (
        ctx.rng.random() < 0.1
    ):  # the runtime focuses the first such field: focus rings, focus questions
        val += " data-autofocus"
    inline = ctx.rng.random() < 0.25 and not ctx.compact
    wrap = "field-row" if inline else "field"
    return (
        f'<div class="{wrap}"><label for="{dom_id}" data-gid="{lgid}">{esc(label)}</label>'
        f'<input class="input" id="{dom_id}" name="{esc(name)}" type="{kind}" data-gid="{igid}"'
        f"{placeholder}{val}></div>",
        Item(label=label, gid=igid, value=value, name=name),
    )


def _checkbox(
    ctx: Ctx, label: str, name: str, *, on: bool, switch: bool = False
) -> tuple[str, Item]:
    gid, lgid = ctx.gid(), ctx.gid()
    cls = ' class="switch" role="switch"' if switch else ""
    checked = " checked" if on else ""
    html = (
        f'<label class="check" data-gid="{lgid}"><input type="checkbox"{cls} name="{esc(name)}" '
        f'value="{esc(label)}" data-gid="{gid}"{checked}> {esc(label)}</label>'
    )
    return html, Item(label=label, gid=gid, on=on, name=name)


def login(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    brand = ctx.pick("brands")
    user_html, user = _text_field(ctx, ctx.pick("user_labels"), "user")
    pw_html, pw = _text_field(ctx, ctx.pick("password_labels"), "password", kind="password")
    confirm: Item | None = None
    if ctx.rng.random() < 0.3:  # a sign-up form: the password twice
        html, confirm = _text_field(ctx, ctx.pick("confirm_labels"), "confirm", kind="password")
        pw_html += html
    remember_html, remember = _checkbox(ctx, "Remember me", "remember", on=ctx.rng.random() < 0.2)
    button, submit = _button(ctx, ctx.pick("login_labels"))
    forgot = ""
    if ctx.rng.random() < 0.6:
        forgot = f'<a href="#" data-gid="{ctx.gid()}">Forgot password?</a>'
    title = f'<h2 data-gid="{ctx.gid()}">{esc(brand)}</h2>' if ctx.rng.random() < 0.8 else ""
    html = (
        f'<form class="card" data-gid="{gid}" autocomplete="off" novalidate>{title}{user_html}{pw_html}'
        f'{remember_html}<div class="row">{button}{forgot}</div>{_status(ctx, gid)}</form>'
    )
    slots = {"user": user, "password": pw, "remember": remember, "submit": submit}
    if confirm is not None:
        slots["confirm"] = confirm
    return Widget("login", gid, html, slots=slots, items=(remember,), title=brand)


def form(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    title = ctx.pick("sections")
    labels = ctx.picks("fields", ctx.between((1, 2), (2, 5)))
    parts, items = [], []
    for i, label in enumerate(labels):
        prefill = ""
        if ctx.rng.random() < ctx.prefill:
            prefill = ctx.pick("cities") if ctx.rng.random() < 0.5 else ctx.pick("first_names")
        html, field_item = _text_field(
            ctx, label, f"field{i}", kind=_FIELD_TYPES.get(label, "text"), value=prefill
        )
        parts.append(html)
        items.append(field_item)
    if not ctx.compact and ctx.rng.random() < 0.4:
        dom_id, lgid, tgid = ctx.dom_id("t"), ctx.gid(), ctx.gid()
        parts.append(
            f'<div class="field"><label for="{dom_id}" data-gid="{lgid}">Notes</label>'
            f'<textarea class="input" id="{dom_id}" name="notes" rows="3" data-gid="{tgid}">'
            "</textarea></div>"
        )
    button, submit = _button(ctx, ctx.pick("submit_labels"))
    cancel = ""
    if ctx.rng.random() < 0.5:
        cancel = _button(ctx, "Cancel", primary=False, kind="button")[0]
    html = (
        f'<form class="card" data-gid="{gid}" autocomplete="off" novalidate><h3 data-gid="{ctx.gid()}">'
        f'{esc(title)}</h3>{"".join(parts)}<div class="row">{button}{cancel}</div>'
        f"{_status(ctx, gid)}</form>"
    )
    return Widget("form", gid, html, slots={"submit": submit}, items=tuple(items), title=title)


def checkboxes(ctx: Ctx, *, switch: bool = False) -> Widget:
    gid = ctx.gid()
    title = ctx.pick("sections")
    labels = ctx.picks("options", ctx.between((2, 4), (3, 6)))
    parts, items = [], []
    for label in labels:
        html, item = _checkbox(ctx, label, "opt", on=ctx.rng.random() < 0.3, switch=switch)
        parts.append(html)
        items.append(item)
    button, submit = _button(ctx, ctx.pick("submit_labels"))
    heading = f'<h3 data-gid="{ctx.gid()}">{esc(title)}</h3>' if ctx.rng.random() < 0.8 else ""
    html = (
        f'<form class="card" data-gid="{gid}">{heading}{"".join(parts)}{button}'
        f"{_status(ctx, gid)}</form>"
    )
    kind: WidgetKind = "toggles" if switch else "checkboxes"
    return Widget(kind, gid, html, slots={"submit": submit}, items=tuple(items), title=title)


def toggles(ctx: Ctx) -> Widget:
    return checkboxes(ctx, switch=True)


def radios(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    title, category = ctx.rng.choice(RADIO_GROUPS)
    options = ctx.picks(category, ctx.between((2, 3), (3, 5)))
    chosen = ctx.rng.randrange(len(options)) if ctx.rng.random() < 0.4 else -1
    name = ctx.dom_id("r")
    parts, items = [], []
    for i, label in enumerate(options):
        rgid, lgid = ctx.gid(), ctx.gid()
        checked = " checked" if i == chosen else ""
        parts.append(
            f'<label class="check" data-gid="{lgid}"><input type="radio" name="{name}" '
            f'value="{esc(label)}" data-gid="{rgid}"{checked}> {esc(label)}</label>'
        )
        items.append(Item(label=label, gid=rgid, on=i == chosen, name=name))
    button, submit = _button(ctx, ctx.pick("submit_labels"))
    html = (
        f'<form class="card" data-gid="{gid}"><h3 data-gid="{ctx.gid()}">{esc(title)}</h3>'
        f"{''.join(parts)}{button}{_status(ctx, gid)}</form>"
    )
    return Widget("radios", gid, html, slots={"submit": submit}, items=tuple(items), title=title)


def select(ctx: Ctx) -> Widget:
    gid = ctx.gid()
    category = ctx.rng.choice(("cities", "sizes", "plans", "delivery", "colors"))
    label = {"cities": "City", "sizes": "Size", "plans": "Plan type", "delivery": "Delivery"}.get(
        category, "Color"
    )
    options = ctx.picks(category, ctx.between((3, 4), (3, 7)))
    chosen = ctx.rng.randrange(len(options))
    dom_id, lgid, sgid = ctx.dom_id("s"), ctx.gid(), ctx.gid()
    opts = "".join(
        f"<option{' selected' if i == chosen else ''}>{esc(o)}</option>"
        for i, o in enumerate(options)
    )
    items = tuple(Item(label=o, gid=sgid, on=i == chosen) for i, o in enumerate(options))
    html = (
        f'<div class="field" data-gid="{gid}"><label for="{dom_id}" data-gid="{lgid}">{label}'
        f'</label><select class="input" id="{dom_id}" data-gid="{sgid}">{opts}</select></div>'
    )
    slots = {"select": Item(label=label, gid=sgid)}
    return Widget("select", gid, html, slots=slots, items=items, title=label)


def entry(ctx: Ctx) -> Widget:
    """The plainest form: one to three bare text boxes (no label; a hint inside at most) and one
    button. Demonstrations name the boxes by position ("the second text box")."""
    gid = ctx.gid()
    n = ctx.between((1, 2), (1, 3))
    stacked = ctx.rng.random() < 0.7 or n > 2
    parts, items = [], []
    for i in range(n):
        igid = ctx.gid()
        hint = ""
        if ctx.rng.random() < 0.3:
            hint = f' placeholder="{esc(ctx.rng.choice(ENTRY_HINTS))}"'
        size = ctx.rng.choice((8, 10, 12)) if ctx.compact else ctx.rng.choice((12, 16, 20, 28))
        box = f'<input class="input" type="text" name="e{i}" size="{size}" data-gid="{igid}"{hint}>'
        parts.append(f'<div class="field">{box}</div>' if stacked else box)
        items.append(Item(label=f"box {i + 1}", gid=igid, name=f"e{i}"))
    button, submit = _button(ctx, ctx.pick("submit_labels"))
    inner = (
        "".join(parts) + button if stacked else f'<div class="row">{"".join(parts)}{button}</div>'
    )
    html = (
        f'<form class="card" data-gid="{gid}" autocomplete="off" novalidate>{inner}'
        f"{_status(ctx, gid)}</form>"
    )
    return Widget("entry", gid, html, slots={"submit": submit}, items=tuple(items))


def search(ctx: Ctx) -> Widget:
    gid, igid, bgid = ctx.gid(), ctx.gid(), ctx.gid()
    placeholder = ctx.rng.choice(("Search", "Search…", "Type to search", "Find anything"))
    if ctx.rng.random() < 0.5:
        button = f'<button class="btn" type="submit" aria-label="Search" data-gid="{bgid}">{SEARCH_ICON}</button>'
    else:
        button = f'<button class="btn btn-primary" type="submit" data-gid="{bgid}">Search</button>'
    size = 10 if ctx.compact else 24
    html = (
        f'<form class="row" role="search" data-gid="{gid}" autocomplete="off" novalidate>'
        f'<input class="input" type="search" name="q" size="{size}" placeholder="{placeholder}" '
        f'aria-label="Search" data-gid="{igid}">{button}</form>'
    )
    slots = {
        "input": Item(label=placeholder, gid=igid, name="q"),
        "submit": Item(label="Search", gid=bgid),
    }
    return Widget("search", gid, html, slots=slots, title=placeholder)
