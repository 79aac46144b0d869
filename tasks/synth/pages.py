"""Generated pages: what a widget and a page are, the builder context, and ``generate_page``.

Contract:
- ``generate_page(spec)`` is a pure function of its ``PageSpec`` (seed, split, viewport, device
  scale factor, an optional widget kind the page must contain): the same spec gives the same HTML,
  byte for byte. Layout templates and vocabulary come from the spec's split only, so a held-out
  page never uses a training template or word (``Page.words`` lists the words it drew).
- Every element a sample may talk about carries a ``data-gid`` attribute ("g1", "g2", ... in
  document order of creation) that is unique within the page; the annotator finds elements by it.
- Pages are self-contained: one HTML document with inline CSS and one inline script
  (``RUNTIME_JS``) that makes tabs, menus, dialogs and forms behave and records what happened in
  ``window.__synth`` (clicks by gid, form submissions) for demonstrations to check against.
  No network, no timers, no animation.

It renders nothing (``tasks.synth.render`` does) and writes no samples.
"""

from __future__ import annotations

import hashlib
import html
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from tasks.synth.themes import Theme, random_theme, theme_css
from tasks.synth.vocab import Split, Vocab, vocab

WidgetKind = Literal[
    "navbar",
    "sidebar",
    "login",
    "form",
    "checkboxes",
    "radios",
    "select",
    "search",
    "entry",
    "toggles",
    "tabs",
    "menu",
    "dialog",
    "list",
    "table",
    "cards",
    "text",
    "buttons",
    "pager",
    "alert",
    "scroll_list",
    "footer",
]

# Behaviour shared by every page. Listeners sit on document (set_content on a reused tab drops them
# with the old document); state is re-created per page in window.__synth.
RUNTIME_JS = """(() => {
  window.scrollTo(0, 0);
  const S = window.__synth = { clicks: [], submits: [] };
  const show = (el, on) => { if (el) el.hidden = !on; };
  const closeMenus = (except) => document.querySelectorAll('.menu').forEach(m => {
    if (m !== except) { m.hidden = true;
      const b = document.querySelector('[data-menu="' + m.id + '"]');
      if (b) b.setAttribute('aria-expanded', 'false'); } });
  document.addEventListener('click', (e) => {
    const t = e.target instanceof Element ? e.target : null;
    if (!t) return;
    const g = t.closest('[data-gid]');
    if (g) S.clicks.push(g.dataset.gid);
    const a = t.closest('a');
    if (a) e.preventDefault();
    const tab = t.closest('[role=tab]');
    if (tab) {
      const list = tab.closest('[role=tablist]');
      list.querySelectorAll('[role=tab]').forEach(x => {
        const on = x === tab;
        x.setAttribute('aria-selected', on ? 'true' : 'false');
        show(document.getElementById(x.getAttribute('aria-controls')), on);
      });
    }
    const opener = t.closest('[data-menu]');
    const menu = opener ? document.getElementById(opener.dataset.menu) : null;
    if (menu) {
      const open = menu.hidden;
      closeMenus(menu); menu.hidden = !open;
      opener.setAttribute('aria-expanded', open ? 'true' : 'false');
    } else if (!t.closest('.menu') || t.closest('.menu-item')) closeMenus(null);
    const x = t.closest('[data-dismiss]');
    if (x) show(x.closest('[data-dismissable]'), false);
  });
  document.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = e.target;
    const data = [...new FormData(f).entries()].map(([k, v]) => [k, String(v)]);
    S.submits.push({ form: f.dataset.gid, data });
    const st = document.querySelector('[data-status-for="' + f.dataset.gid + '"]');
    if (st) st.hidden = false;
  });
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      closeMenus(null);
      document.querySelectorAll('[data-dismissable][data-escape]').forEach(d => d.hidden = true);
    }
  });
  const af = document.querySelector('[data-autofocus]');
  if (af) af.focus();
})();"""


@dataclass(frozen=True)
class Item:
    """One named part of a widget: a checkbox, a tab, a menu entry, a card, a list row."""

    label: str
    gid: str
    on: bool = False  # checked, selected or active when the page loads
    value: str = ""  # a fact shown with it (a price, a status) or a field's initial value
    name: str = ""  # form controls: the name its value is submitted under


@dataclass(frozen=True)
class Widget:
    """A fragment of HTML plus the gids of the parts demonstrations act on."""

    kind: WidgetKind
    gid: str  # the widget's outermost element
    html: str
    slots: Mapping[str, Item] = field(default_factory=dict)  # named parts: "submit", "user", ...
    items: tuple[Item, ...] = ()
    groups: Mapping[str, tuple[Item, ...]] = field(default_factory=dict)  # e.g. tab gid -> buttons
    title: str = ""


# share of a form's fields shown holding a value already (every generator version drew 0.25;
# ``--prefill`` changes it for training data)
PREFILL_SHARE = 0.25


@dataclass(frozen=True)
class PageSpec:
    """Everything a page is a function of."""

    seed: int
    split: Split
    viewport_w: int
    viewport_h: int
    dpr: float
    require: WidgetKind | None = None
    long: bool = False  # pad the page so that it scrolls (scroll demonstrations)
    prefill: float = PREFILL_SHARE  # share of a form's fields shown holding a value already

    @property
    def compact(self) -> bool:
        """Widget-sized screens (up to 400x300) get one or two small widgets."""
        return self.viewport_w * self.viewport_h <= 400 * 300


@dataclass(frozen=True)
class Page:
    spec: PageSpec
    template: str
    theme: Theme
    html: str
    widgets: tuple[Widget, ...]
    words: frozenset[str]

    def widget(self, kind: WidgetKind) -> Widget | None:
        return next((w for w in self.widgets if w.kind == kind), None)


class Ctx:
    """Builder state for one page: the random source, the vocabulary, gids and the words drawn."""

    def __init__(self, rng: random.Random, words: Vocab, *, compact: bool, prefill: float) -> None:
        self.rng = rng
        self.vocab = words
        self.compact = compact
        self.prefill = prefill
        self._next_gid = 0
        self._next_id = 0
        self.words: set[str] = set()
        self.taken: set[str] = set()  # labels already on the page: locate samples need unique text

    def gid(self) -> str:
        self._next_gid += 1
        return f"g{self._next_gid}"

    def dom_id(self, stem: str) -> str:
        self._next_id += 1
        return f"{stem}{self._next_id}"

    def pick(self, category: str) -> str:
        """One word of ``category``, preferring one not yet on the page."""
        pool = self.vocab.category(category)
        fresh = [w for w in pool if w not in self.taken] or list(pool)
        word = self.rng.choice(fresh)
        self.words.add(word)
        self.taken.add(word)
        return word

    def picks(self, category: str, k: int) -> list[str]:
        """``k`` distinct words of ``category`` (fewer if the category is smaller)."""
        pool = [w for w in self.vocab.category(category) if w not in self.taken]
        if len(pool) < k:
            pool = list(dict.fromkeys(pool + list(self.vocab.category(category))))
        chosen = self.rng.sample(pool, min(k, len(pool)))
        self.words.update(chosen)
        self.taken.update(chosen)
        return chosen

    def between(self, small: tuple[int, int], large: tuple[int, int]) -> int:
        """A count from ``small`` on compact pages, else from ``large`` (inclusive ranges)."""
        lo, hi = small if self.compact else large
        return self.rng.randint(lo, hi)


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any parts (stable across runs and machines, unlike ``hash``)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def document(title: str, css: str, body: str) -> str:
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{css}</style></head>\n"
        f"<body>\n{body}\n<script>{RUNTIME_JS}</script>\n</body></html>\n"
    )


def generate_page(spec: PageSpec) -> Page:
    """The page for ``spec``; see the module contract."""
    from tasks.synth.layouts import build_layout  # layouts import this module's types

    rng = random.Random(spec.seed)
    theme = random_theme(rng, compact=spec.compact)
    ctx = Ctx(rng, vocab(spec.split), compact=spec.compact, prefill=spec.prefill)
    template, title, body, css, widgets = build_layout(ctx, spec)
    page_html = document(title, theme_css(theme) + css, body)
    return Page(
        spec=spec,
        template=template,
        theme=theme,
        html=page_html,
        widgets=tuple(widgets),
        words=frozenset(ctx.words),
    )
