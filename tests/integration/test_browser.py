"""BrowserEnv on real Chromium: dialogs, tabs, downloads, bounded waits, and every action kind."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from actions import dialogs
from actions.browser import BrowserEnv
from actions.environment import BrowserConfig
from actions.types import (
    Back,
    Click,
    DoubleClick,
    Drag,
    Hover,
    KeyPress,
    Navigate,
    RightClick,
    Scroll,
    Type,
    Wait,
    describe,
)

PAGES = {
    "/": """<!doctype html><meta charset=utf-8><title>home</title><body style="margin:0">
<button id=alert style="position:absolute;left:10px;top:10px;width:100px;height:30px"
  onclick="alert('hello'); document.title='after-alert'">alert</button>
<button id=confirm style="position:absolute;left:120px;top:10px;width:100px;height:30px"
  onclick="document.title = confirm('Delete file?') ? 'yes' : 'no'">confirm</button>
<button id=prompt style="position:absolute;left:230px;top:10px;width:100px;height:30px"
  onclick="document.title = 'name=' + prompt('New name?', 'draft')">prompt</button>
<button id=popup style="position:absolute;left:340px;top:10px;width:100px;height:30px"
  onclick="window.open('/popup')">popup</button>
<a id=dl href="/file.csv" download style="position:absolute;left:450px;top:10px">download</a>
<a id=next href="/next" style="position:absolute;left:560px;top:10px">next</a>
<a id=slow href="/slow" style="position:absolute;left:640px;top:10px">slow</a>
<input id=field style="position:absolute;left:10px;top:60px;width:200px;height:24px">
<div id=box style="position:absolute;left:10px;top:100px;width:200px;height:100px;overflow:auto">
  <div style="height:2000px">tall</div></div>
<div id=target style="position:absolute;left:300px;top:100px;width:60px;height:60px;background:#ccc"
  ondblclick="document.title='dbl'" oncontextmenu="event.preventDefault();document.title='ctx'"
  onmouseenter="this.dataset.hover='yes'"></div>
<div id=knob style="position:absolute;left:400px;top:100px;width:30px;height:30px;background:#36c"></div>
<script>
  const knob = document.getElementById('knob'); let drag = null;
  knob.addEventListener('mousedown', e => drag = {x: e.clientX - knob.offsetLeft});
  addEventListener('mousemove', e => { if (drag) knob.style.left = (e.clientX - drag.x) + 'px'; });
  addEventListener('mouseup', () => drag = null);
</script>""",
    "/popup": """<!doctype html><title>popup</title>
<button id=close style="position:absolute;left:10px;top:10px;width:120px;height:30px"
  onclick="window.close()">close me</button>""",
    "/next": "<!doctype html><title>next</title><h1>Next page</h1>",
    # the first wheel scroll of the box starts an animated scroll to 1000 px (100 px every 30
    # ms), as pages that snap or animate a list do
    "/smooth": """<!doctype html><title>smooth</title><body style="margin:0">
<div id=list style="position:absolute;left:10px;top:10px;width:200px;height:100px;overflow:auto">
  <div style="height:3000px">rows</div></div>
<script>
  const list = document.getElementById('list'); let once = false;
  list.addEventListener('scroll', () => {
    if (once) return;
    once = true;
    const step = setInterval(() => {
      list.scrollTop = Math.min(1000, list.scrollTop + 100);
      if (list.scrollTop >= 1000) clearInterval(step);
    }, 30);
  });
</script>""",
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/slow":
            time.sleep(3)  # longer than the test's navigation timeout
        if self.path == "/file.csv":
            body = b"a,b\n1,2\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Disposition", 'attachment; filename="../../evil name.csv"')
        else:
            body = PAGES.get(self.path, "<title>404</title>not found").encode()
            self.send_response(200 if self.path in PAGES or self.path == "/slow" else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def page(env: BrowserEnv, site: str, tmp_path: Path) -> BrowserEnv:
    cfg = replace(
        BrowserConfig(),
        downloads_dir=tmp_path / "downloads",
        navigation_timeout_s=2.0,
        action_timeout_s=4.0,
    )
    assert env.reset(site + "/", cfg).ok
    return env


def title(env: BrowserEnv) -> str:
    return str(env.evaluate("() => document.title"))


def test_confirm_is_shown_and_answered_by_clicking_ok(page: BrowserEnv) -> None:
    res = page.act(Click(x=170, y=25))
    assert res.ok and any("confirm dialog opened" in n for n in res.notes)
    obs = page.observe()
    assert obs.dialog is not None and obs.dialog.message == "Delete file?"
    lay = dialogs.layout(obs.dialog, obs.viewport_w, obs.viewport_h)
    # the dialog is painted where the layout says: the OK button's centre is blue
    ox, oy = lay.ok[0] + lay.ok[2] / 2, lay.ok[1] + 6
    assert obs.screenshot.getpixel((round(ox), round(oy)))[2] > 200  # type: ignore[index]
    assert not page.act(Click(x=5, y=790)).ok  # elsewhere: an error that explains the dialog
    assert page.act(Click(x=ox, y=oy)).ok
    assert page.observe().dialog is None
    assert title(page) == "yes"


def test_confirm_dismissed_with_escape_and_alert_accepted(page: BrowserEnv) -> None:
    page.act(Click(x=170, y=25))
    assert page.act(KeyPress(keys="Escape")).ok
    assert title(page) == "no"
    page.act(Click(x=60, y=25))
    assert page.observe().dialog is not None
    assert page.act(KeyPress(keys="Enter")).ok
    assert title(page) == "after-alert"


def test_prompt_takes_typed_text(page: BrowserEnv) -> None:
    page.act(Click(x=280, y=25))
    obs = page.observe()
    assert obs.dialog is not None and obs.dialog.default_value == "draft"
    assert page.act(Type(text="report-2026")).ok
    assert page.act(KeyPress(keys="Return")).ok
    assert title(page) == "name=report-2026"


def test_popup_is_followed_and_closing_it_returns(page: BrowserEnv, site: str) -> None:
    res = page.act(Click(x=390, y=25))
    obs = page.observe()
    assert obs.url == site + "/popup" and obs.tabs == 2
    assert any("new tab" in n for n in (*res.notes, *obs.notes))
    page.act(Click(x=70, y=25))
    obs = page.observe()
    assert obs.url == site + "/" and obs.tabs == 1


def test_download_lands_in_the_run_folder_with_a_safe_name(
    page: BrowserEnv, tmp_path: Path
) -> None:
    page.act(Click(x=470, y=18))
    deadline = time.monotonic() + 10
    folder = tmp_path / "downloads"
    while time.monotonic() < deadline and not (folder.exists() and any(folder.iterdir())):
        time.sleep(0.1)
    files = list(folder.iterdir())
    assert len(files) == 1 and files[0].read_text() == "a,b\n1,2\n"
    # the server asked for "../../evil name.csv": the file still lands inside the folder
    assert files[0].parent == folder and "/" not in files[0].name


def test_navigation_is_waited_for_and_back_works(page: BrowserEnv, site: str) -> None:
    assert page.act(Click(x=570, y=18)).ok
    assert page.observe().title == "next"
    assert page.act(Back()).ok and page.url == site + "/"
    assert not page.act(Back()).ok  # nothing before the first page


def test_slow_pages_and_dead_servers_end_in_bounded_errors(page: BrowserEnv, site: str) -> None:
    res = page.act(Navigate(url=site + "/missing"))
    assert not res.ok and "404" in (res.error or "")
    res = page.act(Navigate(url="http://127.0.0.1:9/"))
    assert not res.ok and "could not load" in (res.error or "")
    t = time.monotonic()
    res = page.act(Navigate(url=site + "/slow"))
    assert not res.ok and "could not load" in (res.error or "")
    assert time.monotonic() - t < 10
    # and the browser is still usable afterwards
    assert page.act(Navigate(url=site + "/next")).ok
    assert page.observe().title == "next"


def test_typing_that_replaces_types_over_what_the_agent_did_not_type(
    page: BrowserEnv,
) -> None:
    value = "() => document.getElementById('field').value"
    set_value = "v => { const f = document.getElementById('field'); f.value = v; f.blur(); }"
    page.evaluate(set_value, "Lisbon")  # a prefilled field
    assert page.act(Click(x=110, y=72)).ok
    assert page.act(Type(text="Lima", replace=True)).ok and page.evaluate(value) == "Lima"
    assert page.act(Type(text="ay", replace=True)).ok  # its own text is kept
    assert page.evaluate(value) == "Limaay"
    page.evaluate(set_value, "")
    assert page.act(Click(x=110, y=72)).ok  # an empty field: nothing to select
    assert page.act(Type(text="Polaris", replace=True, submit=True)).ok
    assert page.evaluate(value) == "Polaris"
    page.evaluate(set_value, "Lisbon")
    assert page.act(Click(x=110, y=72)).ok and page.act(Type(text="Lima")).ok  # without: appends
    assert page.evaluate(value) == "LisbonLima"
    assert describe(Type(text="Lima", replace=True)) == describe(Type(text="Lima"))
    page.act(Click(x=600, y=300))  # nothing focused: the page's text is not selected
    assert page.act(Type(text="x", replace=True)).ok
    assert page.evaluate("() => String(getSelection())") == ""


def test_mouse_and_keyboard_actions(page: BrowserEnv) -> None:
    assert page.act(Click(x=110, y=72)).ok
    assert page.act(Type(text="hello world")).ok
    assert page.act(KeyPress(keys="ctrl+a")).ok
    assert page.act(Type(text="bye")).ok
    assert page.evaluate("() => document.getElementById('field').value") == "bye"
    assert page.act(Scroll(x=100, y=150, dy=500)).ok
    assert page.evaluate("() => document.getElementById('box').scrollTop") == 500
    assert page.evaluate("() => scrollY") == 0  # the inner box scrolled, not the window
    assert page.act(Hover(x=330, y=130)).ok
    assert page.evaluate("() => document.getElementById('target').dataset.hover") == "yes"
    assert page.act(DoubleClick(x=330, y=130)).ok and title(page) == "dbl"
    assert page.act(RightClick(x=330, y=130)).ok and title(page) == "ctx"
    assert page.act(Drag(x=415, y=115, to_x=615, to_y=115)).ok
    assert page.evaluate("() => document.getElementById('knob').offsetLeft") == 600
    assert page.act(Wait(seconds=0.1)).ok


def test_a_scroll_ends_when_the_page_has_stopped_scrolling(page: BrowserEnv, site: str) -> None:
    """The next action sees where the scroll ended: a replay clicks at once after it (the demo
    task inner_scroll's replay once clicked the row the box showed before its scroll)."""
    assert page.act(Navigate(url=site + "/smooth")).ok
    t = time.monotonic()
    assert page.act(Scroll(x=100, y=50, dy=100)).ok
    assert page.evaluate("() => document.getElementById('list').scrollTop") == 1000
    assert time.monotonic() - t < 3
    t = time.monotonic()  # nothing to scroll: it ends after the quiet time, not the limit
    assert page.act(Scroll(x=400, y=300, dy=100)).ok
    assert time.monotonic() - t < 1


@pytest.mark.parametrize(
    "action",
    [
        Click(x=1280, y=10),
        Click(x=-1, y=10),
        Scroll(x=10, y=900, dy=10),
        Drag(x=1, y=1, to_x=5000, to_y=1),
    ],
)
def test_points_outside_the_viewport_are_errors(page: BrowserEnv, action: Click) -> None:
    res = page.act(action)
    assert not res.ok and "outside" in (res.error or "")


def test_unknown_key_is_an_error_result(page: BrowserEnv) -> None:
    res = page.act(KeyPress(keys="hyper+q"))
    assert not res.ok and "unknown key" in (res.error or "")


def test_jpeg_screenshots(env: BrowserEnv, site: str) -> None:
    env.reset(site + "/", replace(BrowserConfig(), screenshot_format="jpeg"))
    obs = env.observe()
    assert obs.encoded is not None and obs.encoded[:3] == b"\xff\xd8\xff"
    assert obs.screenshot.size == (1280, 800)
