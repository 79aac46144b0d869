"""Model faults: what the loop does when the model, its server or its backend misbehaves.

For each fault the model is told what was wrong (the next request's prompt says so), retries stay
within their budget (calls are counted), and the episode stops with the documented reason when the
budget is spent, every model call recorded in a real run log. Faults: empty and degenerate output,
impossible coordinates, actions the profile does not offer, a backend that raises, and an
OpenAI-compatible server (a real one on 127.0.0.1) that fails in each way a server can.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from actions import types as t
from actions.types import Click
from agent.loop import Episode, Interrupted, LoopConfig, run_episode
from agent.policy import ModelPolicy
from agent.runner import RunSink
from agent.trajectory import LoadedLog, Recorder, RunMeta, Versions, now_iso, read_log
from perception.backends.openai_server import OpenAIServerModel
from perception.frames import Frame
from perception.model import Completion, Model, ModelRequest, ScriptedModel
from perception.parsers import dialect_actions, format_action, parse
from perception.parsers.base import DIALECTS, Parsed
from perception.profiles import PROFILES, Profile, get_profile
from tests.fakes import FakeEnv, two_screen_env

GAZE = get_profile("gaze")
CFG = LoopConfig(max_steps=5, max_parse_retries=2, max_model_errors=2)
LOST = "the previous request for this step failed before you answered"


def prompt_text(req: ModelRequest) -> str:
    """The last user turn: goal, URL and the 'Problem with your last reply' lines."""
    return [m for m in req.messages if m.role == "user"][-1].text


@dataclass
class Run:
    episode: Episode
    log: LoadedLog
    env: FakeEnv


def run(model: Model, tmp_path: Path, profile: Profile = GAZE, cfg: LoopConfig = CFG) -> Run:
    """One episode on the fake two-screen site, recorded in a run folder and read back."""
    meta = RunMeta(
        run_id="run",
        started_at=now_iso(),
        task={"id": "faults"},
        model=model.name,
        profile=profile.name,
        versions=Versions(gaze="dev", python="3.11"),
    )
    rec = Recorder(tmp_path / "run", meta)
    env = two_screen_env()
    try:
        ep = run_episode(
            ["reach the end"], env, ModelPolicy(model, profile), config=cfg, sink=RunSink(rec)
        )
    finally:
        rec.close()
    log = read_log(tmp_path / "run")
    assert log.steps == ep.records  # every model call is in the log, as the loop saw it
    assert [w for w in log.warnings if "no result.json" not in w] == []
    return Run(ep, log, env)


# ---------------------------------------------------------------- bad text


def garbage(kind: str) -> str:
    """10 kB of one kind of degenerate model output (seeded: the same text every run)."""
    rng = random.Random(kind)
    match kind:
        case "random bytes":
            return rng.randbytes(10_000).decode("utf-8", "replace")
        case "latin-1 bytes":
            return rng.randbytes(10_000).decode("latin-1")
        case "control characters":
            return "".join(chr(rng.randrange(0, 32)) for _ in range(10_000))
        case "huge numbers":
            return "click(" + "9" * 4990 + ", " + "9" * 4990 + ")"
        case "unclosed calls":
            return "click(" * 1700
        case "lone surrogates":
            return "\ud800\udfff" * 5000  # two lone halves each, never a pair
        case _:
            raise ValueError(kind)


GARBAGE = [
    "random bytes",
    "latin-1 bytes",
    "control characters",
    "huge numbers",
    "unclosed calls",
    "lone surrogates",
]


@pytest.mark.parametrize("reply", ["", " \n\t ", "Thought: I will click the button."])
def test_empty_output_is_retried_then_unparseable(tmp_path: Path, reply: str) -> None:
    model = ScriptedModel([reply] * 10)
    r = run(model, tmp_path)
    assert r.episode.stop_reason == "unparseable"
    assert len(model.calls) == CFG.max_parse_retries + 1 == r.episode.model_calls
    assert r.episode.steps == 0 and r.env.acted == []
    for before, after in zip(r.log.steps, model.calls[1:], strict=False):
        assert before.parse_error and "no action found" in before.parse_error
        assert f"Problem with your last reply: {before.parse_error}" in prompt_text(after)
    assert [(s.step, s.attempt) for s in r.log.steps] == [(0, 0), (0, 1), (0, 2)]


@pytest.mark.parametrize("kind", GARBAGE)
def test_ten_kilobytes_of_garbage_are_retried_then_unparseable(tmp_path: Path, kind: str) -> None:
    text = garbage(kind)
    assert len(text) >= 9_000
    model = ScriptedModel([text] * 10)
    r = run(model, tmp_path)
    assert r.episode.stop_reason == "unparseable"
    assert len(model.calls) == CFG.max_parse_retries + 1 and r.env.acted == []
    told = prompt_text(model.calls[1])
    assert f"Problem with your last reply: {r.log.steps[0].parse_error}" in told
    assert len(r.log.steps[0].feedback[0]) < 1000  # it quotes the reply, it does not echo it
    # the whole reply is kept in the log, made encodable (lone surrogates become U+FFFD)
    assert r.log.steps[0].model_text is not None
    assert len(r.log.steps[0].model_text) == len(text)
    assert "\ud800" not in r.log.steps[0].model_text


def test_a_lone_surrogate_escape_is_typed_and_logged_as_a_replacement_character(
    tmp_path: Path,
) -> None:
    model = ScriptedModel(['type("a\\ud800b")', "done()"])  # the model wrote a \u escape
    r = run(model, tmp_path)
    assert r.episode.stop_reason == "done"
    assert r.env.typed == "a\ufffdb" and r.log.steps[0].actions == [t.Type(text="a\ufffdb")]


def test_garbage_then_a_good_reply_recovers_and_resets_the_budget(tmp_path: Path) -> None:
    model = ScriptedModel(
        [garbage("random bytes"), "click(70, 60)", "", "", "click(200, 170)", "done()"]
    )
    r = run(model, tmp_path)
    assert r.episode.stop_reason == "done" and r.episode.steps == 3
    assert r.env.state == {"done": True}  # two consecutive bad replies were within the budget
    assert len(model.calls) == 6


# ---------------------------------------------------------------- impossible coordinates


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("click(-5, 10)", "must not be negative"),
        ("click(nan, 5)", "expected a number"),
        ("click(inf, inf)", "expected a number"),
        ("click(1e308, 5)", "out of range"),
        ("click(1e400, 5)", "out of range"),
        ("drag(10, 10, -1, 5)", "must not be negative"),
        ('scroll(10, 10, "down", 1e308)', "out of range"),
    ],
)
def test_impossible_coordinates_are_parse_errors(tmp_path: Path, reply: str, error: str) -> None:
    model = ScriptedModel([reply] * 10)
    r = run(model, tmp_path)
    assert r.episode.stop_reason == "unparseable" and r.env.acted == []
    assert len(model.calls) == CFG.max_parse_retries + 1
    assert error in (r.log.steps[0].parse_error or "")
    assert error in prompt_text(model.calls[1])


@pytest.mark.parametrize(
    ("profile", "reply"),
    [
        ("uitars-1.5", "Action: click(start_box='(1e308,5)')"),
        ("uitars-1.0", "Action: click(start_box='(-3,5)')"),
        (
            "qwen2.5-vl",
            '<tool_call>{"name": "computer_use", "arguments": '
            '{"action": "left_click", "coordinate": [NaN, 1]}}</tool_call>',
        ),
        ("showui", "{'action': 'CLICK', 'value': None, 'position': [1e400, 0.5]}"),
        ("grounding-1000", "(1e308, 1e308)"),
    ],
)
def test_impossible_coordinates_in_every_dialect(tmp_path: Path, profile: str, reply: str) -> None:
    model = ScriptedModel([reply] * 10)
    r = run(model, tmp_path, get_profile(profile))
    assert r.episode.stop_reason == "unparseable" and r.env.acted == []
    assert len(model.calls) == CFG.max_parse_retries + 1
    err = r.log.steps[0].parse_error
    assert err and any(w in err for w in ("range", "negative", "inf")), err
    assert err in prompt_text(model.calls[1])


def test_a_point_outside_the_viewport_is_refused_and_the_model_told(tmp_path: Path) -> None:
    model = ScriptedModel(["click(5000, 5000)", "click(70, 60)", "click(200, 170)", "done()"])
    r = run(model, tmp_path)
    assert r.episode.stop_reason == "done"
    first = r.log.steps[0]
    assert first.actions == [Click(x=5000, y=5000)] and first.results[0].ok is False
    assert "outside the viewport" in prompt_text(model.calls[1])


def test_a_point_outside_the_viewport_again_and_again_ends_stuck(tmp_path: Path) -> None:
    model = ScriptedModel(["click(5000, 5000)"] * 10)
    r = run(model, tmp_path, cfg=dataclasses.replace(CFG, max_steps=10, repeat_limit=2))
    assert r.episode.stop_reason == "stuck" and len(model.calls) == 3
    assert "did not change" in prompt_text(model.calls[2])


# ---------------------------------------------------------------- actions the profile does not offer


NO_NAVIGATION = dataclasses.replace(GAZE, actions=GAZE.actions - {"navigate", "back", "drag"})


@pytest.mark.parametrize(
    "reply", ['navigate("http://127.0.0.1:1/x")', "back()", "drag(1, 2, 3, 4)"]
)
def test_an_action_the_profile_does_not_offer_is_refused(tmp_path: Path, reply: str) -> None:
    model = ScriptedModel([reply, "click(70, 60)", "click(200, 170)", "done()"])
    r = run(model, tmp_path, NO_NAVIGATION)
    assert r.episode.stop_reason == "done"
    assert r.env.acted == [Click(x=70, y=60), Click(x=200, y=170)]  # the refused one never ran
    kind = parse(reply, frame(), "gaze")
    assert isinstance(kind, Parsed)
    error = f"{kind.actions[0].kind} is not available here; use one of: "
    assert error in (r.log.steps[0].parse_error or "")
    told = prompt_text(model.calls[1])
    offered = told.split(error)[1].split(".")[0].split(", ")
    assert "click" in offered and not {"navigate", "back", "drag"} & set(offered)


def test_offering_actions_again_and_again_spends_the_retry_budget(tmp_path: Path) -> None:
    model = ScriptedModel(['navigate("http://127.0.0.1:1/")'] * 10)
    r = run(model, tmp_path, NO_NAVIGATION)
    assert r.episode.stop_reason == "unparseable" and r.env.acted == []
    assert len(model.calls) == CFG.max_parse_retries + 1
    assert "navigate is not available here" in r.episode.detail


def frame() -> Frame:
    return Frame(region_x=0, region_y=0, region_w=400, region_h=300, image_w=400, image_h=300)


@pytest.mark.parametrize("replaces", [False, True])
def test_a_profiles_typing_replaces_the_fields_text_when_it_says_so(
    tmp_path: Path, replaces: bool
) -> None:
    profile = dataclasses.replace(get_profile("gaze-builtin"), type_replaces=replaces)
    model = ScriptedModel(['type("Polaris", submit=true)', "click(70, 60)", "done()"])
    r = run(model, tmp_path, profile)
    assert r.env.acted[0] == t.Type(text="Polaris", submit=True, replace=replaces)
    assert r.env.acted[1] == Click(x=70, y=60)
    # the history's text says what the model chose, whichever way the agent typed it
    told = prompt_text(model.calls[1])
    assert "1. type(text='Polaris', submit=True) -> ok" in told and "replace" not in told
    assert get_profile("gaze-builtin").type_replaces and not get_profile("gaze").type_replaces


def test_profiles_offer_exactly_what_their_dialect_can_express() -> None:
    every = [
        t.Click(x=5, y=6), t.DoubleClick(x=5, y=6), t.RightClick(x=5, y=6), t.Hover(x=5, y=6),
        t.Drag(x=1, y=2, to_x=3, to_y=4), t.Type(text="a"), t.KeyPress(keys="Enter"),
        t.Scroll(x=5, y=5, dy=500), t.Navigate(url="http://a"), t.Back(), t.Wait(seconds=1),
        t.Done(), t.GiveUp(reason="x"), t.AskUser(question="q"),
    ]  # fmt: skip
    for dialect in DIALECTS:
        produced: set[str] = set()
        for action in every:
            try:
                text = format_action(action, frame(), dialect)
            except ValueError:
                continue  # the dialect has no words for it
            parsed = parse(text, frame(), dialect)
            assert isinstance(parsed, Parsed), (dialect, text, parsed)
            produced |= {a.kind for a in parsed.actions}
        assert produced == dialect_actions(dialect), dialect
    for p in PROFILES.values():
        assert p.actions == dialect_actions(p.dialect)
    with pytest.raises(ValueError, match="showui dialect has no navigate"):
        dataclasses.replace(get_profile("showui"), actions=frozenset({"click", "navigate"}))


# ---------------------------------------------------------------- a backend that raises


@dataclass
class Backend:
    """A Model whose generate runs ``behaviour`` for each call (raise, or return completions)."""

    behaviour: Callable[[int], list[Completion]]
    name: str = "backend"
    calls: list[ModelRequest] = field(default_factory=list)

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        self.calls.extend(requests)
        return self.behaviour(len(self.calls))


def raises(exc: BaseException) -> Callable[[int], list[Completion]]:
    def behaviour(n: int) -> list[Completion]:
        raise exc

    return behaviour


@pytest.mark.parametrize(
    ("exc", "detail"),
    [
        (ZeroDivisionError("division by zero"), "raised ZeroDivisionError: division by zero"),
        (KeyError("pixel_values"), "raised KeyError: 'pixel_values'"),
        (RuntimeError(), "raised RuntimeError"),
        (MemoryError("CUDA out of memory.\nTried to allocate 2 GiB"), "CUDA out of memory. Tried"),
        (ValueError("x" * 5000), "raised ValueError: xxx"),
    ],
)
def test_a_backend_that_raises_is_a_model_error_not_a_crash(
    tmp_path: Path, exc: Exception, detail: str
) -> None:
    model = Backend(raises(exc))
    r = run(model, tmp_path)
    assert r.episode.stop_reason == "model_error"
    assert len(model.calls) == CFG.max_model_errors + 1 == r.episode.model_calls
    assert detail in r.episode.detail and "\n" not in r.episode.detail
    assert len(r.episode.detail) < 400  # bounded, however long the exception's message
    assert all(s.model_error and s.model_text is None for s in r.log.steps)
    for call in model.calls[1:]:
        assert f"{LOST} (the model backend raised {type(exc).__name__}" in prompt_text(call)


def test_a_flaky_backend_recovers_and_earlier_feedback_is_kept(tmp_path: Path) -> None:
    replies = {1: "click(900, 60)", 3: "click(70, 60)", 4: "click(200, 170)", 5: "done()"}

    def flaky(n: int) -> list[Completion]:
        if n == 2:
            raise ConnectionResetError("peer reset")
        return [Completion(text=replies[n])]

    model = Backend(flaky)
    r = run(model, tmp_path)
    assert r.episode.stop_reason == "done" and len(model.calls) == 5
    retry = prompt_text(model.calls[2])
    assert "outside the viewport" in retry  # what the failed click said is not lost
    assert f"{LOST} (the model backend raised ConnectionResetError: peer reset)" in retry
    assert LOST not in prompt_text(model.calls[3])  # once it answered, the note is gone


@pytest.mark.parametrize(
    ("returned", "words"),
    [([], "returned []"), ([Completion("a"), Completion("b")], "returned [Completion(text='a'")],
)
def test_a_backend_returning_the_wrong_number_of_completions(
    tmp_path: Path, returned: list[Completion], words: str
) -> None:
    model = Backend(lambda n: returned)
    r = run(model, tmp_path)
    assert r.episode.stop_reason == "model_error" and words in r.episode.detail
    assert "instead of one completion" in r.episode.detail
    assert len(model.calls) == CFG.max_model_errors + 1


def test_ctrl_c_in_the_backend_is_not_swallowed(tmp_path: Path) -> None:
    model = Backend(raises(KeyboardInterrupt()))
    with pytest.raises(Interrupted) as ei:
        run(model, tmp_path)
    assert ei.value.episode.stop_reason == "interrupted" and len(model.calls) == 1


# ---------------------------------------------------------------- an OpenAI-compatible server


@dataclass
class Server:
    """Answers each POST with the next of ``modes`` (the last one repeats); records the bodies.

    Modes: ``ok:TEXT`` a completion, ``500`` an error, ``slow`` no answer within the client's
    timeout, ``html`` a 200 that is not JSON, ``close`` the connection closed without an answer,
    ``null`` a 200 whose message content is null.
    """

    modes: list[str]
    bodies: list[dict[str, object]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def next_mode(self, body: dict[str, object]) -> str:
        self.bodies.append(body)
        return self.modes[min(len(self.bodies), len(self.modes)) - 1]

    def texts(self, i: int) -> str:
        """The text parts of request ``i``'s last user message."""
        messages = self.bodies[i]["messages"]
        assert isinstance(messages, list)
        content = [m for m in messages if m["role"] == "user"][-1]["content"]
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        return "\n".join(p["text"] for p in parts if p.get("type") == "text")


class _HTTP(ThreadingHTTPServer):
    fake: Server


class _Handler(BaseHTTPRequestHandler):
    server: _HTTP

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        mode = self.server.fake.next_mode(body)
        if mode == "close":
            self.close_connection = True
            return  # no status line: the client sees the connection end
        if mode == "slow":
            self.server.fake.stop.wait(2.0)
        status, data = 200, b""
        if mode.startswith("ok:") or mode == "null":
            content = mode.removeprefix("ok:") if mode != "null" else None
            message = {"role": "assistant", "content": content}
            data = json.dumps({"choices": [{"message": message}]}).encode()
        elif mode == "500":
            status, data = 500, b'{"error": {"message": "CUDA error: an illegal memory access"}}'
        elif mode == "html":
            data = b"<html><body>502 Bad Gateway</body></html>"
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client timed out and left


@pytest.fixture
def serve() -> Iterator[Callable[[list[str]], Server]]:
    started: list[tuple[_HTTP, threading.Thread]] = []

    def start(modes: list[str]) -> Server:
        fake = Server(modes)
        httpd = _HTTP(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        httpd.fake = fake
        fake.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
        thread.start()
        started.append((httpd, thread))
        return fake

    yield start
    for httpd, thread in started:
        httpd.fake.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def client(server: Server, retries: int) -> OpenAIServerModel:
    return OpenAIServerModel(
        server.url, "m", timeout_s=0.3, max_retries=retries, backoff_s=0.0, max_backoff_s=0.0
    )


@pytest.mark.parametrize(
    ("mode", "retried", "detail"),
    [
        ("500", True, "HTTP 500: 'CUDA error: an illegal memory access'"),
        ("slow", True, "no response within the 0.3 s timeout"),
        ("close", True, "connection failed (RemoteDisconnected"),
        ("html", False, "answered 200 with a body that is not JSON: '<html><body>502 Bad"),
        ("null", False, "answered 200 with no text in choices[0].message.content"),
    ],
)
def test_a_failing_server_is_retried_within_both_budgets_then_model_error(
    tmp_path: Path, serve: Callable[[list[str]], Server], mode: str, retried: bool, detail: str
) -> None:
    server = serve([mode])
    retries = 1
    per_call = retries + 1 if retried else 1  # the client's own retries, inside one model call
    t0 = time.monotonic()
    r = run(client(server, retries), tmp_path)
    assert r.episode.stop_reason == "model_error" and detail in r.episode.detail
    assert r.episode.model_calls == CFG.max_model_errors + 1
    assert len(server.bodies) == per_call * (CFG.max_model_errors + 1)
    assert all(s.model_error and detail in s.model_error for s in r.log.steps)
    second = server.texts(per_call)  # the first HTTP request of the loop's second attempt
    assert LOST in second and detail in second
    assert LOST not in server.texts(0)
    assert time.monotonic() - t0 < 30  # bounded: timeouts and budgets, no hang


def test_an_empty_completion_from_the_server_is_unparseable(
    tmp_path: Path, serve: Callable[[list[str]], Server]
) -> None:
    server = serve(["ok:"])
    r = run(client(server, 0), tmp_path)
    assert r.episode.stop_reason == "unparseable" and len(server.bodies) == 3
    assert "Problem with your last reply: no action found" in server.texts(1)


def test_a_server_that_recovers_lets_the_episode_finish(
    tmp_path: Path, serve: Callable[[list[str]], Server]
) -> None:
    server = serve(["500", "close", "ok:click(70, 60)", "ok:click(200, 170)", "ok:done()"])
    r = run(client(server, 0), tmp_path)
    assert r.episode.stop_reason == "done" and r.env.state == {"done": True}
    assert len(server.bodies) == 5 and r.episode.model_calls == 5
    assert "HTTP 500" in server.texts(1) and "connection failed" in server.texts(2)
    assert LOST not in server.texts(3)
