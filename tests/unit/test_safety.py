"""Safety boundaries without a browser: the URL policy, the filtering proxy on real sockets, secrets
in task files, and redaction of everything a run writes."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from actions.environment import BrowserConfig
from actions.proxy import FilteringProxy, block_note, launch_args
from actions.safety import HostPattern, SecretError, Secrets, UrlPolicy, with_secret_hint
from actions.types import ActionResult, Type
from agent.cli import parser
from agent.redact import redact_json
from agent.trajectory import Recorder, RunMeta, RunResult, StepRecord, Versions, read_log
from tasks.loader import TaskFileError, parse_task

# ---------------------------------------------------------------- host patterns and the policy


@pytest.mark.parametrize(
    ("text", "host", "port", "subdomains"),
    [
        ("example.com", "example.com", None, False),
        ("EXAMPLE.com", "example.com", None, False),
        ("*.example.com", "example.com", None, True),
        ("127.0.0.1:8123", "127.0.0.1", 8123, False),
        ("[::1]:8080", "[::1]", 8080, False),
        ("*", "*", None, False),
        ("bücher.de", "xn--bcher-kva.de", None, False),
    ],
)
def test_host_patterns_parse(text: str, host: str, port: int | None, subdomains: bool) -> None:
    assert HostPattern.parse(text) == HostPattern(host, port, subdomains)


@pytest.mark.parametrize(
    "text",
    ["http://example.com", "example.com/path", "user@example.com", "", "exa mple.com",
     "ex*mple.com", "example.com:0", "example.com:99999", "[nothost]:80", "*.*.com"],
)  # fmt: skip
def test_bad_host_patterns_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(ValueError, match=r"host pattern|out of range|not an IPv6"):
        HostPattern.parse(text)


POLICY = UrlPolicy.from_patterns(["127.0.0.1:8123", "*.example.com", "plain.org"])


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.1:8123/a?b#c", True),
        ("ws://127.0.0.1:8123/socket", True),
        ("http://127.0.0.1:8124/", False),  # the pattern pins the port
        ("http://127.0.0.1/", False),  # default port 80 is not 8123
        ("http://localhost:8123/", False),  # another name for the same machine is another host
        ("https://example.com/", True),  # *.example.com includes the apex
        ("https://a.b.example.com:444/", True),  # ... and any subdomain, any port
        ("https://badexample.com/", False),
        ("https://example.com.evil.net/", False),
        ("http://plain.org/", True),
        ("http://www.plain.org/", False),  # a bare name does not include subdomains
        ("http://PLAIN.ORG/", True),
        ("http://plain.org@evil.net/", False),  # the host is evil.net
        ("wss://evil.net/", False),
        ("about:blank", True),
        ("data:image/png;base64,AAAA", True),  # a subresource; navigations are checked apart
        ("blob:http://127.0.0.1:8123/1f2e", True),
        ("blob:http://evil.net/1f2e", False),
        ("file:///etc/passwd", False),
        ("chrome://version", False),
        ("view-source:http://127.0.0.1:8123/", False),
        ("devtools://devtools/bundled/inspector.html", False),
        ("ftp://example.com/", False),
        ("javascript:alert(1)", False),
    ],
)
def test_policy_checks_every_request(url: str, allowed: bool) -> None:
    reason = POLICY.check(url)
    assert (reason is None) == allowed, reason


def test_a_blocked_host_is_explained_with_the_allow_list() -> None:
    reason = POLICY.check("http://evil.net/x")
    assert (
        reason == "evil.net:80 is not in the allow-list (127.0.0.1:8123, *.example.com, plain.org)"
    )
    note = block_note("http://evil.net/x?secret=1", reason)
    assert note.startswith("Gaze blocked a request to http://evil.net: ")  # origin only: merges


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("data:text/html,<h1>Your bank</h1>", "data: URLs are blocked"),
        ("javascript:alert(1)", "javascript:"),
        ("http://evil.net\\@127.0.0.1:8123/", "backslashes"),
        ("http://127.0.0.1:8123/\n", "control characters"),
        ("http://me:pw@127.0.0.1:8123/", "user name or password"),
        ("http://127.0.0.2:8123/", "not in the allow-list"),
        ("file:///etc/passwd", "file: URLs are blocked"),
    ],
)
def test_navigation_checks_are_stricter(url: str, fragment: str) -> None:
    reason = POLICY.check_navigation(url)
    assert reason is not None and fragment in reason
    assert POLICY.check_navigation("http://127.0.0.1:8123/ok") is None


def test_flags_allow_files_browser_pages_and_data_navigations() -> None:
    loose = UrlPolicy.from_patterns(
        None, allow_file=True, allow_chrome=True, allow_data_navigation=True
    )
    for url in ("file:///tmp/x.html", "chrome://version", "data:text/html,hi", "http://any.net/"):
        assert loose.check_navigation(url) is None
    default = UrlPolicy()  # no hosts given: any host, but still no files or browser pages
    assert default.check("http://any.net/") is None and not default.restricts_hosts
    assert default.check("file:///etc/passwd") and default.check("chrome://settings")
    assert not UrlPolicy.from_patterns(["*"]).restricts_hosts
    assert UrlPolicy.from_patterns(["*:8080"]).restricts_hosts
    assert UrlPolicy.from_patterns([]).check("http://127.0.0.1/")  # an empty list: no host


def test_launch_args_merge_disable_features_and_stop_webrtc_udp() -> None:
    args = launch_args(["--disable-gpu", "--disable-features=Translate,A", "--disable-features=B"])
    assert [a for a in args if a.startswith("--disable-features=")] == [
        "--disable-features=Translate,A,B,AutofillServerCommunication"
    ]
    assert "--webrtc-ip-handling-policy=disable_non_proxied_udp" in args
    assert "--disable-gpu" in args


# ---------------------------------------------------------------- the proxy, on real sockets


class _Count(ThreadingHTTPServer):
    """A server that counts every connection it accepts, before reading anything."""

    connections = 0

    def verify_request(self, request: object, client_address: object) -> bool:
        self.connections += 1
        return True

    def reached(self) -> int:
        """Connections so far, counting one the kernel has queued but the server not yet taken."""
        pending = select.select([self.socket], [], [], 0)[0]
        return self.connections + bool(pending)


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = f"hello from {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def _server() -> Iterator[_Count]:
    srv = _Count(("127.0.0.1", 0), _Hello)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _get(proxy: FilteringProxy, url: str) -> tuple[int, str]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy.server}))
    try:
        with opener.open(url, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _connect(proxy: FilteringProxy, target: str) -> bytes:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        return s.recv(4096)


def test_proxy_forwards_allowed_and_refuses_blocked_without_connecting() -> None:
    blocks: list[tuple[str, str]] = []
    with _server() as good, _server() as evil:
        g, e = good.server_address[1], evil.server_address[1]
        proxy = FilteringProxy(
            UrlPolicy.from_patterns([f"127.0.0.1:{g}"]), lambda t, r: blocks.append((t, r))
        )
        try:
            assert _get(proxy, f"http://127.0.0.1:{g}/page?q=1") == (200, "hello from /page?q=1")
            status, body = _get(proxy, f"http://127.0.0.1:{e}/steal")
            assert status == 403 and "Blocked by Gaze" in body
            assert _connect(proxy, f"127.0.0.1:{e}").startswith(b"HTTP/1.1 403")
            assert _connect(proxy, f"127.0.0.1:{g}").startswith(b"HTTP/1.1 200")
            # a page cannot use the proxy to reach the proxy itself, even when 127.0.0.1 is allowed
            proxy.policy = UrlPolicy.from_patterns(["127.0.0.1"])
            assert _get(proxy, f"http://127.0.0.1:{proxy.port}/")[0] == 403
        finally:
            proxy.close()
        deadline = time.monotonic() + 5  # the allowed server may not have taken both yet
        while good.reached() < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert good.reached() >= 2
        assert evil.reached() == 0
    assert [t for t, _ in blocks] == [
        f"http://127.0.0.1:{e}/steal",
        f"127.0.0.1:{e}",
        f"http://127.0.0.1:{proxy.port}/",
    ]


def test_proxy_answers_a_blocked_navigation_with_no_content() -> None:
    """A 204 keeps the page where it was instead of showing a page from the blocked host."""
    with _server() as evil:
        proxy = FilteringProxy(UrlPolicy.from_patterns(["127.0.0.1:1"]), lambda t, r: None)
        try:
            url = f"http://127.0.0.1:{evil.server_address[1]}/"
            req = urllib.request.Request(url, headers={"Upgrade-Insecure-Requests": "1"})
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({"http": proxy.server})
            )
            with opener.open(req, timeout=10) as r:
                assert r.status == 204
        finally:
            proxy.close()
        assert evil.reached() == 0


def test_proxy_answers_bad_gateway_when_an_allowed_host_is_down() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    proxy = FilteringProxy(UrlPolicy.from_patterns(["127.0.0.1"]), lambda t, r: None)
    try:
        status, body = _get(proxy, f"http://127.0.0.1:{dead}/")
    finally:
        proxy.close()
    assert status == 502 and f"could not connect to 127.0.0.1:{dead}" in body


# ---------------------------------------------------------------- secrets


def test_secrets_fill_and_redact_and_never_print_their_values() -> None:
    s = Secrets({"PASSWORD": "hunter2&Co", "PIN": "9876"})
    assert s.fill("pw: ${{ secrets.PASSWORD }} / ${{secrets.PIN}}") == "pw: hunter2&Co / 9876"
    with pytest.raises(SecretError, match="no secret named TOKEN"):
        s.fill("${{ secrets.TOKEN }}")
    text = "a hunter2&Co b hunter2%26Co c hunter2%26Co d hunter2&amp;Co e 9876"
    assert s.redact(text) == (
        "a ${{ secrets.PASSWORD }} b ${{ secrets.PASSWORD }} c ${{ secrets.PASSWORD }} "
        "d ${{ secrets.PASSWORD }} e ${{ secrets.PIN }}"
    )
    assert "hunter2" not in repr(s) and "hunter2" not in str(s) and "PASSWORD" in repr(s)
    config = BrowserConfig(secrets=s)
    dumped = json.dumps({k: str(v) for k, v in asdict(config).items()})  # what meta.json keeps
    assert "hunter2" not in dumped and "9876" not in dumped


def test_secrets_come_from_prefixed_variables_and_must_be_long_enough() -> None:
    env = {"GAZE_SECRET_PW": "long enough", "PW": "not this one", "GAZE_SECRET_PIN": "12"}
    assert Secrets.from_env(["PW"], env).fill("${{ secrets.PW }}") == "long enough"
    with pytest.raises(SecretError, match="export GAZE_SECRET_TOKEN"):
        Secrets.from_env(["TOKEN"], env)
    with pytest.raises(SecretError, match="shorter than 4"):
        Secrets.from_env(["PIN"], env)


def test_a_goal_that_names_a_secret_tells_the_model_how_to_type_it() -> None:
    assert with_secret_hint("Open the inbox") == "Open the inbox"
    hinted = with_secret_hint("Sign in with ${{ secrets.PW }}")
    assert hinted.startswith("Sign in with ${{ secrets.PW }}\n(") and "type it exactly" in hinted


TASK = """\
id: login
start: site:demo/login.html
goal: Sign in as alice with the password ${{ secrets.PASSWORD }}.
checks:
  - url_matches: dashboard
reference:
  - click: '#password'
  - type: {text: '${{ secrets.PASSWORD }}', submit: true}
"""


def test_task_secrets_resolve_at_load_and_stay_out_of_dumps() -> None:
    task = parse_task(TASK, "t.yaml", environ={"GAZE_SECRET_PASSWORD": "hunter2!"})
    assert task.secrets.names == ("PASSWORD",)
    assert task.secrets.fill(task.goal or "").endswith("password hunter2!.")
    dumped = task.model_dump_json() + repr(task)
    assert "hunter2" not in dumped and "${{ secrets.PASSWORD }}" in dumped
    config = task.browser_config()
    assert config.secrets is task.secrets
    assert parse_task(TASK.replace("${{ secrets.PASSWORD }}", "x"), "t.yaml").secrets.names == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (TASK, "t.yaml:3: goal: secret PASSWORD is not set: export GAZE_SECRET_PASSWORD"),
        (
            TASK.replace("url_matches: dashboard", "text_visible: '${{ secrets.PASSWORD }}'"),
            "t.yaml:5: checks[0].text_visible: secrets may appear only in goal, goals and "
            "reference type steps",
        ),
        (
            TASK.replace("${{ secrets.PASSWORD }}.", "${{ secret.PASSWORD }}."),
            "t.yaml:3: goal: '${{ secret.PASSWORD }}' is not a secret placeholder; write "
            "${{ secrets.NAME }}",
        ),
        (
            TASK + "allowed_domains: ['https://example.com']\n",
            "t.yaml:9: allowed_domains: 'https://example.com' is not a host pattern",
        ),
    ],
)
def test_task_file_errors_name_file_line_field_and_variable(text: str, message: str) -> None:
    with pytest.raises(TaskFileError) as err:
        parse_task(text, "t.yaml", environ={})
    assert str(err.value).startswith(message)


def test_a_secret_first_named_in_a_reference_step_is_reported_there() -> None:
    text = TASK.replace("${{ secrets.PASSWORD }}.", "its password.")
    with pytest.raises(TaskFileError, match=r"^t\.yaml:8: reference\[1\]\.type\.text: secret"):
        parse_task(text, "t.yaml", environ={})


def test_allowed_hosts_default_to_the_start_page_host() -> None:
    task = parse_task(TASK.replace("${{ secrets.PASSWORD }}", "pw"), "t.yaml")
    assert task.allowed_hosts() == ("127.0.0.1",)  # site: without a server: the loopback host
    assert task.allowed_hosts("http://127.0.0.1:4567/demo/login.html") == ("127.0.0.1:4567",)
    other = task.model_copy(
        update={"start": "https://Shop.example.com/", "allowed_domains": ["*.cdn.net"]}
    )
    assert other.allowed_hosts() == ("*.cdn.net", "shop.example.com")
    base = BrowserConfig(allowed_domains=("extra.org",))
    assert other.browser_config(base).allowed_domains == (
        "*.cdn.net",
        "shop.example.com",
        "extra.org",
    )
    assert other.browser_config(base).url_policy.check("https://x.cdn.net/a.js") is None


def test_cli_allow_domain_is_repeatable_and_validated(capsys: pytest.CaptureFixture[str]) -> None:
    args = parser().parse_args(["run", "demo", "--allow-domain", "a.org", "--allow-domain", "*"])
    assert args.allow_domain == ["a.org", "*"]
    with pytest.raises(SystemExit) as e:
        parser().parse_args(["run", "demo", "--allow-domain", "http://a.org/"])
    assert e.value.code == 2
    assert "is not a host pattern" in capsys.readouterr().err


# ---------------------------------------------------------------- redaction of what a run writes


def test_redact_json_touches_string_values_only() -> None:
    data = {'a"b': ['x a"b y', 3, None, {"k": 'a"b'}]}
    out = redact_json(data, lambda s: s.replace('a"b', "<S>"))
    assert out == {'a"b': ["x <S> y", 3, None, {"k": "<S>"}]}


def test_recorder_redacts_meta_steps_and_result(tmp_path: Path) -> None:
    secrets = Secrets({"PW": 's3cr3t "quoted" value'})
    value = 's3cr3t "quoted" value'
    meta = RunMeta(
        run_id="r",
        started_at="t",
        task={"goal": f"type {value}"},
        model="m",
        profile="p",
        versions=Versions(gaze="dev", python="3"),
    )
    rec = Recorder(tmp_path, meta, redact=secrets.redact)
    rec.step(
        StepRecord(
            step=0,
            time="t",
            url=f"http://x/?pw={value}",
            screenshot="",
            model_text=f'type("{value}")',
            actions=[Type(text=value)],
            results=[ActionResult.failure(f"could not type {value}")],
        )
    )
    result = RunResult(
        success=False,
        stop_reason="done",
        detail=value,
        answer=value,
        steps=1,
        model_calls=1,
        goals_completed=0,
        duration_s=0.1,
        finished_at="t",
    )
    rec.finish(result)
    written = "".join(p.read_text() for p in tmp_path.iterdir() if p.is_file())
    assert "s3cr3t" not in written
    log = read_log(tmp_path)  # still valid JSON, read back as records
    assert log.steps[0].actions == [Type(text="${{ secrets.PW }}")]
    assert log.result is not None and log.result.answer == "${{ secrets.PW }}"
