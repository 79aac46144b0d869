"""`gaze run --model openai:...` end to end: a local OpenAI-protocol server answering as UI-TARS-1.5.

The server plays a UI-TARS-1.5 model: it answers in absolute pixels of the smart-resized image it
receives (1280x800 -> 1288x812), computed by hand from the login page's layout. If Gaze sent a
differently sized image, or mapped the answer back wrongly, the clicks would miss the fields.
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image

from actions.browser import BrowserEnv
from agent.trajectory import read_log
from tasks.loader import load_task
from tasks.reference import locate
from tasks.server import SiteServer

ROOT = Path(__file__).resolve().parents[2]


def uitars_point(x: float, y: float) -> str:
    return f"({round(x * 1288 / 1280)},{round(y * 812 / 800)})"


@pytest.fixture(scope="module")
def replies() -> list[str]:
    task = load_task(ROOT / "tasks/suites/demo/login.yaml")
    with SiteServer() as s, BrowserEnv() as env:
        env.reset(s.resolve_start(task.start))
        p = {
            k: uitars_point(*locate(k, env))
            for k in ("#username", "#password", "#remember", "#sign-in")
        }
    return [
        f"Thought: I need the username field.\nAction: click(start_box='<|box_start|>{p['#username']}<|box_end|>')",
        "Thought: type the name\nAction: type(content='alice')",
        f"Thought: password field\nAction: click(start_box='{p['#password']}')",
        "Thought: type it\nAction: type(content='hunter2')",
        f"Thought: remember me\nAction: click(start_box='{p['#remember']}')",
        f"Thought: sign in\nAction: click(start_box='{p['#sign-in']}')",
        "Thought: signed in\nAction: finished(content='done')",
    ]


class FakeUITars:
    def __init__(self, replies: list[str]) -> None:
        self.replies = list(replies)
        self.image_sizes: list[tuple[int, int]] = []
        self.lock = threading.Lock()


@pytest.fixture
def server(replies: list[str]) -> Iterator[tuple[str, FakeUITars]]:
    state = FakeUITars(replies)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            last = body["messages"][-1]["content"]
            for part in last:
                if part["type"] == "image_url":
                    data = base64.b64decode(part["image_url"]["url"].split(",", 1)[1])
                    state.image_sizes.append(Image.open(io.BytesIO(data)).size)
            with state.lock:
                text = state.replies.pop(0) if state.replies else "Action: finished()"
            payload = json.dumps(
                {
                    "choices": [{"message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 1400, "completion_tokens": 20},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", state
    httpd.shutdown()
    httpd.server_close()


def test_gaze_run_with_an_openai_server(server: tuple[str, FakeUITars], tmp_path: Path) -> None:
    url, state = server
    r = subprocess.run(
        [sys.executable, "-m", "agent.cli", "run", "demo/login", "--model", f"openai:{url}#ui-tars-1.5-7b", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=180, cwd=ROOT,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert state.image_sizes and set(state.image_sizes) == {(1288, 812)}
    (run_dir,) = list(tmp_path.iterdir())
    log = read_log(run_dir)
    assert log.meta.profile == "uitars-1.5" and log.result is not None and log.result.success
    assert log.result.prompt_tokens == 1400 * len(log.steps)
    assert all(s.prompt[-1].images[-1].frame.image_w == 1288 for s in log.steps)
