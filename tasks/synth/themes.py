"""Themes for generated pages: colours, fonts, sizes, corners, density, light or dark.

Contract:
- ``random_theme(rng, compact=...)`` draws a ``Theme`` from ``rng`` alone (same state -> same
  theme); ``theme_css(theme)`` turns it into the one stylesheet every widget's classes rely on
  (``.btn``, ``.input``, ``.card``, ``.tab``, ...). Layouts add their own grid rules after it.
- Fonts are the families installed on a stock Debian with Chromium (DejaVu, Liberation) plus the
  generic families; web fonts cannot load offline. A family missing on another machine falls back
  to a generic one, so pages still render, only with less variety.
- Pages never animate (no transitions, no caret): a screenshot never catches a page mid-change.

It knows nothing about widgets or vocabulary; themes are shared by the TRAIN and HELDOUT splits.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

FONTS = (
    '"DejaVu Sans", sans-serif',
    '"DejaVu Serif", serif',
    '"DejaVu Sans Mono", monospace',
    '"DejaVu Sans Condensed", "DejaVu Sans", sans-serif',
    '"Liberation Sans", sans-serif',
    '"Liberation Serif", serif',
    '"Liberation Sans Narrow", "Liberation Sans", sans-serif',
    '"Liberation Mono", monospace',
    "sans-serif",
    "serif",
    "system-ui, sans-serif",
)
# "native": the browser's own look (no styling of the control at all), as on plain pages such as
# MiniWoB++'s: grey buttons, inset-bordered text boxes in the browser's default font
ButtonStyle = Literal["filled", "outline", "soft", "native"]
InputStyle = Literal["box", "underline", "filled", "native"]


@dataclass(frozen=True)
class Theme:
    """Everything that styles a page; colours are CSS colour strings."""

    dark: bool
    hue: int  # accent hue, degrees
    font: str  # CSS font-family for body text
    heading_font: str
    font_px: int  # body font size, CSS px
    radius_px: int  # corner radius of controls and cards
    pad: float  # density: padding scale around 1.0
    border_px: int
    button: ButtonStyle
    input: InputStyle
    shadow: bool
    uppercase_buttons: bool
    underline_links: bool

    @property
    def name(self) -> str:
        mode = "dark" if self.dark else "light"
        family = self.font.split(",")[0].strip('"')
        return f"{mode}-h{self.hue}-{family}-{self.font_px}px-r{self.radius_px}-{self.button}"


def random_theme(rng: random.Random, *, compact: bool) -> Theme:
    """A theme drawn from ``rng``; ``compact`` (widget-sized pages) picks smaller type and padding."""
    font = rng.choice(FONTS)
    return Theme(
        dark=rng.random() < 0.25,
        hue=rng.randrange(0, 360, 5),
        font=font,
        heading_font=font if rng.random() < 0.7 else rng.choice(FONTS),
        font_px=rng.randint(11, 14) if compact else rng.randint(13, 17),
        radius_px=rng.choice((0, 2, 3, 4, 6, 8, 10, 14)),
        pad=rng.choice((0.6, 0.75, 0.9)) if compact else rng.choice((0.8, 1.0, 1.2, 1.4)),
        border_px=rng.choice((1, 1, 1, 2)),
        button=rng.choice(("filled", "filled", "outline", "soft", "native")),
        input=rng.choice(("box", "box", "underline", "filled", "native", "native")),
        shadow=rng.random() < 0.5,
        uppercase_buttons=rng.random() < 0.15,
        underline_links=rng.random() < 0.5,
    )


def _palette(t: Theme) -> dict[str, str]:
    h = t.hue
    if t.dark:
        return {
            "bg": f"hsl({(h + 200) % 360} 12% 9%)",
            "surface": f"hsl({(h + 200) % 360} 12% 14%)",
            "text": "hsl(0 0% 92%)",
            "muted": "hsl(0 0% 65%)",
            "border": f"hsl({(h + 200) % 360} 10% 30%)",
            "accent": f"hsl({h} 70% 62%)",
            "accent-text": "hsl(0 0% 8%)",
            "accent-soft": f"hsl({h} 35% 24%)",
            "field": f"hsl({(h + 200) % 360} 12% 18%)",
            "danger": "hsl(0 70% 62%)",
        }
    return {
        "bg": f"hsl({(h + 180) % 360} 20% 98%)",
        "surface": "hsl(0 0% 100%)",
        "text": f"hsl({(h + 180) % 360} 15% 14%)",
        "muted": "hsl(0 0% 42%)",
        "border": f"hsl({(h + 180) % 360} 10% 80%)",
        "accent": f"hsl({h} 65% 40%)",
        "accent-text": "hsl(0 0% 100%)",
        "accent-soft": f"hsl({h} 70% 93%)",
        "field": f"hsl({(h + 180) % 360} 20% 96%)",
        "danger": "hsl(0 65% 45%)",
    }


_ICON_BUTTONS = """
.btn > svg { display: block; } /* an icon-only button sized by its icon, not by font metrics */
.icon-btn { font: inherit; background: none; border: none; color: var(--muted); cursor: pointer;
  font-size: 1.2em; line-height: 1; padding: .1em .3em; }"""


def _buttons(t: Theme) -> str:
    match t.button:
        case "filled":
            primary = (
                "background: var(--accent); color: var(--accent-text); border-color: var(--accent);"
            )
        case "outline":
            primary = "background: transparent; color: var(--accent); border-color: var(--accent);"
        case "soft":
            primary = (
                "background: var(--accent-soft); color: var(--accent); border-color: transparent;"
            )
        case "native":  # the browser's own button; only the icon rules below are shared
            return (
                """
.btn, .btn-primary { cursor: pointer; }
.btn-danger { color: #b00; }
.btn-link { background: none; border-color: transparent; color: var(--accent); }"""
                + _ICON_BUTTONS
            )
    case = "text-transform: uppercase; letter-spacing: .04em;" if t.uppercase_buttons else ""
    return (
        f"""
.btn {{ font: inherit; font-size: .95em; padding: calc(.45em * var(--pad)) calc(1em * var(--pad));
  border: var(--bw) solid var(--border); border-radius: var(--radius); background: var(--surface);
  color: var(--text); cursor: pointer; {case} }}
.btn:hover {{ filter: brightness(0.95); }}
.btn-primary {{ {primary} }}
.btn-danger {{ background: var(--danger); border-color: var(--danger); color: #fff; }}
.btn-link {{ background: none; border-color: transparent; color: var(--accent); padding-left: 0;
  padding-right: 0; }}
.btn:disabled {{ opacity: .45; cursor: default; }}"""
        + _ICON_BUTTONS
    )


_INPUT_LOOKS = {
    "box": "border: var(--bw) solid var(--border); background: var(--surface);",
    "underline": "border: none; border-bottom: var(--bw) solid var(--border); border-radius: 0;"
    " background: transparent;",
    "filled": "border: var(--bw) solid transparent; background: var(--field);",
}


def _inputs(t: Theme) -> str:
    if t.input == "native":  # the browser's default box, font and focus ring
        field = ".input { max-width: 100%; }"
    else:
        field = f""".input {{ font: inherit; color: var(--text); padding: calc(.4em * var(--pad)) .5em;
  border-radius: var(--radius); {_INPUT_LOOKS[t.input]} box-sizing: border-box; max-width: 100%; }}
.input:focus {{ outline: 2px solid var(--accent); outline-offset: 1px; }}
.input::placeholder {{ color: var(--muted); }}"""
    return f"""
{field}
.field {{ display: flex; flex-direction: column; gap: .25em; margin: calc(.5em * var(--pad)) 0; }}
.field-row {{ display: flex; align-items: center; gap: .5em; margin: calc(.4em * var(--pad)) 0; }}
.check {{ display: flex; align-items: center; gap: .4em; margin: calc(.3em * var(--pad)) 0; }}
.check input {{ accent-color: var(--accent); margin: 0; width: 1em; height: 1em; }}
.switch {{ appearance: none; width: 2.2em; height: 1.2em; border-radius: 1em;
  background: var(--border); position: relative; cursor: pointer; margin: 0; }}
.switch::after {{ content: ""; position: absolute; top: .15em; left: .15em; width: .9em;
  height: .9em; border-radius: 50%; background: #fff; }}
.check input.switch {{ width: 2.2em; height: 1.2em; }}
.switch:checked {{ background: var(--accent); }}
.switch:checked::after {{ left: 1.15em; }}"""


def theme_css(t: Theme) -> str:
    """The stylesheet for ``t``: variables, base elements and the widget classes."""
    colours = "\n".join(f"  --{k}: {v};" for k, v in _palette(t).items())
    shadow = "0 1px 3px rgba(0,0,0,.18), 0 4px 12px rgba(0,0,0,.08)" if t.shadow else "none"
    link = "underline" if t.underline_links else "none"
    return f"""
*, *::before, *::after {{ transition: none !important; animation: none !important;
  caret-color: transparent !important; }}
:root {{
{colours}
  --radius: {t.radius_px}px; --pad: {t.pad}; --bw: {t.border_px}px; --shadow: {shadow};
}}
html, body {{ margin: 0; padding: 0; }}
body {{ background: var(--bg); color: var(--text); font-family: {t.font}; font-size: {t.font_px}px;
  line-height: 1.4; }}
h1, h2, h3, h4 {{ font-family: {t.heading_font}; margin: .4em 0 .3em; line-height: 1.2; }}
h1 {{ font-size: 1.7em; }} h2 {{ font-size: 1.35em; }} h3 {{ font-size: 1.1em; }}
p {{ margin: .3em 0 .6em; }}
a {{ color: var(--accent); text-decoration: {link}; cursor: pointer; }}
.muted {{ color: var(--muted); font-size: .9em; }}
.card {{ background: var(--surface); border: var(--bw) solid var(--border);
  border-radius: var(--radius); box-shadow: var(--shadow);
  padding: calc(.8em * var(--pad)) calc(1em * var(--pad)); margin: calc(.5em * var(--pad)) 0; }}
.row {{ display: flex; flex-wrap: wrap; gap: .5em; align-items: center; }}
.badge {{ display: inline-block; padding: 0 .5em; border-radius: 1em; font-size: .8em;
  background: var(--accent-soft); color: var(--accent); }}
.alert {{ padding: .6em .9em; border-radius: var(--radius); background: var(--accent-soft);
  border-left: 4px solid var(--accent); margin: .5em 0; }}
{_buttons(t)}
{_inputs(t)}
.navbar {{ display: flex; flex-wrap: wrap; align-items: center; gap: .4em 1em; padding: .6em 1.2em;
  background: var(--surface); border-bottom: var(--bw) solid var(--border); }}
.brand {{ font-weight: bold; font-size: 1.15em; color: var(--text); text-decoration: none; }}
.navlink {{ color: var(--text); text-decoration: none; }}
.navlink.active {{ color: var(--accent); font-weight: bold; }}
.sidebar {{ display: flex; flex-direction: column; gap: .2em; padding: .8em; min-width: 9em;
  background: var(--surface); border-right: var(--bw) solid var(--border); }}
.sidebar a {{ color: var(--text); text-decoration: none; padding: .3em .5em;
  border-radius: var(--radius); }}
.sidebar a.active {{ background: var(--accent-soft); color: var(--accent); }}
.tabs {{ display: flex; flex-wrap: wrap; gap: .2em; border-bottom: var(--bw) solid var(--border); }}
.tab {{ font: inherit; background: none; border: none; color: var(--muted); cursor: pointer;
  padding: .45em .8em; border-bottom: 2px solid transparent; }}
.tab[aria-selected="true"] {{ color: var(--accent); border-bottom-color: var(--accent); }}
.panel {{ padding: .6em 0; }}
.menu-wrap {{ position: relative; display: inline-block; }}
.menu {{ position: absolute; z-index: 20; top: 100%; left: 0; min-width: 10em; margin-top: .2em;
  background: var(--surface); border: var(--bw) solid var(--border);
  border-radius: var(--radius); box-shadow: 0 4px 16px rgba(0,0,0,.2); padding: .25em 0; }}
.menu-item {{ display: block; width: 100%; text-align: left; font: inherit; color: var(--text);
  background: none; border: none; padding: .35em .9em; cursor: pointer; }}
.menu-item:hover {{ background: var(--accent-soft); }}
.backdrop {{ position: fixed; inset: 0; background: rgba(0,0,0,.45); z-index: 50;
  display: flex; align-items: center; justify-content: center; }}
.dialog {{ background: var(--surface); color: var(--text); border-radius: var(--radius);
  padding: calc(1em * var(--pad)); width: min(26em, 86vw); max-height: 86vh; overflow: auto;
  box-shadow: 0 10px 40px rgba(0,0,0,.35); position: relative; }}
.dialog-x {{ position: absolute; top: .3em; right: .4em; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ text-align: left; padding: calc(.35em * var(--pad)) .6em;
  border-bottom: var(--bw) solid var(--border); }}
th {{ color: var(--muted); font-weight: 600; }}
ul.list {{ list-style: none; padding: 0; margin: 0; }}
ul.list li {{ padding: calc(.4em * var(--pad)) .3em; border-bottom: var(--bw) solid var(--border); }}
.scroller {{ overflow-y: auto; border: var(--bw) solid var(--border); border-radius: var(--radius); }}
.pager {{ display: flex; gap: .3em; }}
.pager a {{ padding: .2em .6em; border: var(--bw) solid var(--border); border-radius: var(--radius);
  text-decoration: none; }}
.footer {{ padding: 1em 1.2em; color: var(--muted); border-top: var(--bw) solid var(--border); }}
.thumb {{ border-radius: var(--radius); height: 4.5em;
  background: linear-gradient(135deg, var(--accent-soft), var(--accent)); }}
[hidden] {{ display: none !important; }}
"""
