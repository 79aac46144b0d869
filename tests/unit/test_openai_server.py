"""OpenAIServerModel against a real HTTP server on 127.0.0.1 whose replies each test scripts.

The server records every request (path, headers, JSON body) and the most requests it ever had in
flight; a reply is a status, headers, a body and a delay. Nothing is mocked.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from PIL import Image

from perception.backends.openai_server import OpenAIServerModel, parse_spec
from perception.frames import Frame
from perception.model import Message, ModelError, ModelImage, ModelRequest

KEY = "sk-test-SECRET-4242"
JsonBody = Mapping[str, object] | list[object] | str | bytes


@dataclass
class Reply:
    status: int = 200
    body: JsonBody = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


def ok(text: str = "ok", *, usage: bool = True) -> Reply:
    body: dict[str, object] = {"choices": [{"message": {"role": "assistant", "content": text}}]}
    if usage:
        body["usage"] = {"prompt_tokens": 11, "completion_tokens": 3}
    return Reply(body=body)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: dict[str, object]
    size: int  # bytes of the request body


@dataclass
class FakeServer:
    """What the server answers (``replies`` first, then ``responder``) and what it saw."""

    replies: list[Reply] = field(default_factory=list)
    responder: Callable[[dict[str, object]], Reply] = lambda body: ok()
    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


class _HTTPServer(ThreadingHTTPServer):
    fake: FakeServer


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = json.loads(raw)
        with fake.lock:
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.seen.append(Seen(self.path, headers, body, len(raw)))
            fake.in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
            reply = fake.replies.pop(0) if fake.replies else fake.responder(body)
        fake.stop.wait(reply.delay_s)
        with fake.lock:  # before answering: the client cannot send its next request earlier
            fake.in_flight -= 1
        b = reply.body
        data = (
            b
            if isinstance(b, bytes)
            else b.encode()
            if isinstance(b, str)
            else json.dumps(b).encode()
        )
        try:
            self.send_response(reply.status)
            for k, v in reply.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout tests)


@pytest.fixture
def server() -> Iterator[FakeServer]:
    fake = FakeServer()
    httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
    httpd.fake = fake
    fake.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield fake
    fake.stop.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GAZE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def fast_model(url: str, **kw: object) -> OpenAIServerModel:
    opts: dict[str, object] = {"timeout_s": 2.0, "max_retries": 3, "backoff_s": 0.01}
    opts.update(kw)
    return OpenAIServerModel(url, "test-model", **opts)  # type: ignore[arg-type]


def image(w: int, h: int) -> ModelImage:
    frame = Frame(region_x=0, region_y=0, region_w=w, region_h=h, image_w=w, image_h=h)
    return ModelImage(Image.new("RGB", (w, h), (200, 30, 90)), frame)


def text_request(text: str) -> ModelRequest:
    return ModelRequest(messages=(Message("user", text),), max_new_tokens=16)


def image_request() -> ModelRequest:
    return ModelRequest(
        messages=(
            Message("system", "you are a test"),
            Message("user", "first", (image(1288, 812),)),
            Message("assistant", "Action: click(1, 2)"),
            Message("user", "second", (image(37, 53),)),
        ),
        max_new_tokens=400,
        stop=("<|im_end|>", "\n\n"),
    )


def decoded_size(part: object) -> tuple[int, int]:
    assert isinstance(part, dict) and part["type"] == "image_url"
    url = part["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).size


def test_a_request_carries_model_decoding_messages_and_exact_image_sizes(
    server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GAZE_API_KEY", KEY)
    server.replies = [ok("Action: click(3, 4)")]
    model = fast_model(server.url, temperature=0.25, extra_body={"top_k": 1})
    [c] = model.generate([image_request()])
    assert c.text == "Action: click(3, 4)"
    assert (c.prompt_tokens, c.completion_tokens) == (11, 3)
    assert c.latency_s > 0
    [seen] = server.seen
    assert c.extra == {"attempts": 1, "request_bytes": seen.size}
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    body = seen.body
    assert body["model"] == "test-model"
    assert (body["max_tokens"], body["temperature"], body["top_k"]) == (400, 0.25, 1)
    assert body["stop"] == ["<|im_end|>", "\n\n"]
    msgs = body["messages"]
    assert isinstance(msgs, list)
    assert [m["role"] for m in msgs] == ["system", "user", "assistant", "user"]
    assert msgs[0]["content"] == "you are a test"
    assert msgs[2]["content"] == "Action: click(1, 2)"
    first, second = msgs[1]["content"], msgs[3]["content"]
    assert [p["type"] for p in first] == ["image_url", "text"] and first[1]["text"] == "first"
    assert decoded_size(first[0]) == (1288, 812)
    assert decoded_size(second[0]) == (37, 53) and second[1]["text"] == "second"


def test_without_a_key_no_authorization_header_and_no_empty_stop(server: FakeServer) -> None:
    fast_model(server.url).generate([text_request("hi")])
    [seen] = server.seen
    assert "authorization" not in seen.headers
    assert "stop" not in seen.body


@pytest.mark.parametrize(
    ("arg", "gaze", "openai", "expected"),
    [
        ("from-arg", "from-gaze", "from-openai", "from-arg"),
        (None, None, "from-openai", "from-openai"),
    ],
)
def test_key_precedence(
    server: FakeServer,
    monkeypatch: pytest.MonkeyPatch,
    arg: str | None,
    gaze: str | None,
    openai: str | None,
    expected: str,
) -> None:
    for var, value in (("GAZE_API_KEY", gaze), ("OPENAI_API_KEY", openai)):
        if value:
            monkeypatch.setenv(var, value)
    fast_model(server.url, api_key=arg).generate([text_request("hi")])
    assert server.seen[0].headers["authorization"] == f"Bearer {expected}"


def test_base_url_without_v1_and_trailing_slash(server: FakeServer) -> None:
    model = fast_model(f"http://127.0.0.1:{server.port}/")
    model.generate([text_request("hi")])
    assert server.seen[0].path == "/chat/completions"
    assert model.name == f"openai:http://127.0.0.1:{server.port}#test-model"


def test_a_404_outside_v1_hints_at_the_v1_root(server: FakeServer) -> None:
    server.replies = [Reply(404, {"detail": "Not Found"})]
    with pytest.raises(ModelError, match="should be the /v1 root"):
        fast_model(f"http://127.0.0.1:{server.port}").generate([text_request("hi")])


def test_content_as_a_list_of_parts_is_joined(server: FakeServer) -> None:
    parts = [
        {"type": "text", "text": "Thought: a\n"},
        {"type": "other"},
        {"type": "text", "text": "Action: b"},
    ]
    server.replies = [Reply(body={"choices": [{"message": {"content": parts}}]})]
    [c] = fast_model(server.url).generate([text_request("hi")])
    assert c.text == "Thought: a\nAction: b"


def test_missing_usage_counts_zero_tokens(server: FakeServer) -> None:
    server.replies = [ok("x", usage=False)]
    [c] = fast_model(server.url).generate([text_request("hi")])
    assert (c.text, c.prompt_tokens, c.completion_tokens) == ("x", 0, 0)


def test_a_500_is_retried(server: FakeServer) -> None:
    server.replies = [Reply(500, "boom"), ok("second time")]
    [c] = fast_model(server.url).generate([text_request("hi")])
    assert c.text == "second time" and c.extra["attempts"] == 2
    assert len(server.seen) == 2


def test_a_429_honours_retry_after_over_a_long_backoff(server: FakeServer) -> None:
    server.replies = [Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}), ok()]
    t0 = time.monotonic()
    [c] = fast_model(server.url, backoff_s=5.0, max_backoff_s=5.0).generate([text_request("hi")])
    assert c.extra["attempts"] == 2
    assert time.monotonic() - t0 < 2.0


def test_retry_after_is_capped_by_max_backoff(server: FakeServer) -> None:
    server.replies = [Reply(503, "busy", {"Retry-After": "100"}), ok()]
    t0 = time.monotonic()
    [c] = fast_model(server.url, max_backoff_s=0.05).generate([text_request("hi")])
    assert c.extra["attempts"] == 2
    assert time.monotonic() - t0 < 2.0


def test_a_server_that_stays_unavailable_fails_after_all_attempts(server: FakeServer) -> None:
    server.responder = lambda body: Reply(503, {"error": {"message": "overloaded"}})
    t0 = time.monotonic()
    with pytest.raises(ModelError) as err:
        fast_model(server.url, max_retries=3).generate([text_request("hi")])
    assert time.monotonic() - t0 < 3.0
    assert len(server.seen) == 4
    msg = str(err.value)
    assert "4 attempts" in msg and "HTTP 503" in msg and "overloaded" in msg and "\n" not in msg


def test_a_400_is_not_retried_and_shows_the_server_message(server: FakeServer) -> None:
    error = {"error": {"message": "max_tokens is too large: 99999", "type": "BadRequestError"}}
    server.replies = [Reply(400, error)]
    with pytest.raises(ModelError, match="HTTP 400: 'max_tokens is too large: 99999'"):
        fast_model(server.url).generate([text_request("hi")])
    assert len(server.seen) == 1


def test_a_slow_server_times_out_in_bounded_time(server: FakeServer) -> None:
    server.responder = lambda body: Reply(delay_s=3.0)
    t0 = time.monotonic()
    with pytest.raises(ModelError) as err:
        fast_model(server.url, timeout_s=0.3, max_retries=1).generate([text_request("hi")])
    assert time.monotonic() - t0 < 1.5
    assert "timeout" in str(err.value) and "2 attempts" in str(err.value)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("<html>Bad Gateway</html>", "not JSON"),
        ({}, "without choices"),
        ({"choices": []}, "without choices"),
        ({"choices": [{"message": {"content": None}}]}, "no text"),
        ({"choices": [{"message": {"content": [{"type": "image_url"}]}}]}, "no text"),
        ('{"choices": [{"message": {"content": "Action: cl', "not JSON"),
        ("x" * 1000, "not JSON"),
    ],
)
def test_a_200_with_a_garbage_body_is_a_model_error(
    server: FakeServer, body: JsonBody, says: str
) -> None:
    server.replies = [Reply(200, body)]
    with pytest.raises(ModelError, match=says) as err:
        fast_model(server.url).generate([text_request("hi")])
    assert len(str(err.value)) < 400 and "\n" not in str(err.value)
    assert len(server.seen) == 1


def test_connection_refused_is_a_model_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    model = fast_model(f"http://127.0.0.1:{port}/v1", max_retries=2)
    with pytest.raises(ModelError, match=r"3 attempts.*ConnectionRefusedError"):
        model.generate([text_request("hi")])


def test_a_batch_respects_max_concurrency_and_keeps_input_order(server: FakeServer) -> None:
    def echo(body: dict[str, object]) -> Reply:
        msgs = body["messages"]
        assert isinstance(msgs, list)
        text = str(msgs[-1]["content"])
        return Reply(body=ok(f"echo {text}").body, delay_s=0.03 * (6 - int(text[-1])))

    server.responder = echo
    requests = [text_request(f"step {i}") for i in range(6)]
    out = fast_model(server.url, max_concurrency=2).generate(requests)
    assert [c.text for c in out] == [f"echo step {i}" for i in range(6)]
    assert server.max_in_flight == 2


def test_one_failure_fails_the_batch_and_names_the_request(server: FakeServer) -> None:
    def reply(body: dict[str, object]) -> Reply:
        msgs = body["messages"]
        assert isinstance(msgs, list)
        bad = msgs[-1]["content"] == "bad"
        return Reply(400, {"error": {"message": "nope"}}) if bad else ok()

    server.responder = reply
    with pytest.raises(ModelError, match=r"request 2 of 3: .*HTTP 400: 'nope'"):
        fast_model(server.url).generate([text_request(t) for t in ("a", "bad", "c")])


def test_an_empty_batch_sends_nothing(server: FakeServer) -> None:
    assert fast_model(server.url).generate([]) == []
    assert server.seen == []


def test_the_api_key_never_shows_in_errors_or_name(server: FakeServer) -> None:
    server.replies = [Reply(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}})]
    model = fast_model(server.url, api_key=KEY, max_retries=1)
    with pytest.raises(ModelError) as rejected:
        model.generate([text_request("hi")])
    assert "Incorrect API key provided: ***" in str(rejected.value)
    server.responder = lambda body: Reply(503, f"bad key {KEY}")
    with pytest.raises(ModelError) as exhausted:
        model.generate([text_request("hi")])
    server.replies = [Reply(200, f"not json {KEY}")]
    with pytest.raises(ModelError) as garbage:
        model.generate([text_request("hi")])
    for e in (rejected, exhausted, garbage):
        assert KEY not in str(e.value)
    assert KEY not in model.name


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "openai:http://127.0.0.1:8000/v1#ui-tars-1.5-7b",
            ("http://127.0.0.1:8000/v1", "ui-tars-1.5-7b"),
        ),
        ("openai:http://127.0.0.1:8000/v1/#qwen", ("http://127.0.0.1:8000/v1", "qwen")),
        ("openai:https://llm.example/v1#org/Model-7B", ("https://llm.example/v1", "org/Model-7B")),
        ("openai:http://localhost:30000#m", ("http://localhost:30000", "m")),
    ],
)
def test_parse_spec_accepts(spec: str, expected: tuple[str, str]) -> None:
    assert parse_spec(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "openai:http://127.0.0.1:8000/v1",  # no model
        "openai:http://127.0.0.1:8000/v1#",  # empty model
        "openai:#model",  # empty URL
        "openai:ftp://host/v1#m",  # not http(s)
        "openai:127.0.0.1:8000/v1#m",  # no scheme
        "http://127.0.0.1:8000/v1#m",  # no openai: prefix
        "openai:http://user:pw@127.0.0.1/v1#m",  # credentials belong in GAZE_API_KEY
        "openai:http://127.0.0.1:80x/v1#m",  # port not a number
        "openai:http://[::1/v1#m",  # malformed host
    ],
)
def test_parse_spec_rejects_with_the_expected_form(spec: str) -> None:
    with pytest.raises(ValueError, match="openai:http://HOST:PORT/v1#MODEL_NAME") as err:
        parse_spec(spec)
    assert "pw@" not in str(err.value)
