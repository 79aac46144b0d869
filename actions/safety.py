"""Safety boundaries: which URLs the browser may reach, and secrets that are typed but never shown.

Contract:
- ``UrlPolicy`` decides whether a URL may be loaded. ``check(url)`` (any request) and
  ``check_navigation(url)`` (a top-level load asked for by a model or a task: stricter) return None
  when allowed, else a sentence saying why not. Host patterns (``allowed_domains``):
  ``example.com`` is that host only, ``*.example.com`` is that host and every subdomain,
  ``127.0.0.1:8123`` pins a port (without one any port matches), ``[::1]:80`` for IPv6, ``*`` any
  host. No patterns (``None``) = any host. Whatever the hosts, ``file:`` and browser-internal URLs
  (``chrome:``, ``devtools:``, ``view-source:``...) are refused unless ``allow_file`` /
  ``allow_chrome``; ``about:`` is always allowed; ``data:``/``blob:`` subresources are allowed, a
  top-level ``data:`` navigation (a phishing vector) only with ``allow_data_navigation``.
- ``FilteringProxy`` enforces a policy at the network layer: an HTTP proxy on 127.0.0.1 that the
  browser context sends every request through (loopback included), so redirect hops, iframes,
  popups, workers, websockets (tunnelled with CONNECT) and form posts are each checked on their
  own. A blocked navigation is answered ``204 No Content`` (the page stays where it was), any other
  blocked request ``403``; each block is reported through ``on_block``. It never connects to a
  blocked host, nor to itself.
- ``Secrets`` holds named secret values. Task files name them as ``${{ secrets.NAME }}``; the
  value comes from the environment variable ``GAZE_SECRET_NAME`` (a prefix, so that a task file
  cannot read arbitrary variables). ``fill`` puts values into text just before it is typed,
  ``redact`` turns every value (raw, URL-encoded or HTML-escaped) back into its placeholder.
  ``str``/``repr`` show names only, so a Secrets never leaks through a config dump.

Nothing here imports Playwright; ``actions.browser`` wires the proxy into the browser context and
``actions.executor`` applies the navigation check and ``fill``.
"""

from __future__ import annotations

import contextlib
import html
import ipaddress
import logging
import re
import select
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, quote_plus, urlsplit

log = logging.getLogger(__name__)

# ---------------------------------------------------------------- URL policy

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_BROWSER_SCHEMES = frozenset(
    {"chrome", "chrome-extension", "chrome-untrusted", "chrome-search", "devtools", "view-source"}
)
_HOST_RE = re.compile(r"^(\*|\*\.[a-z0-9_.-]+|[a-z0-9_.-]+|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$")


@dataclass(frozen=True)
class HostPattern:
    """One entry of an allow-list; see the module contract for the syntax."""

    host: str  # lowercase; "*" for any host; without the "*." of a subdomain pattern
    port: int | None = None  # None: any port
    subdomains: bool = False  # "*.example.com": the host itself and every subdomain

    @classmethod
    def parse(cls, text: str) -> HostPattern:
        """A pattern from its text; ValueError with a sentence when it is not one."""
        t = _ascii_host(text.strip().lower())
        if "://" in t or "/" in t or "@" in t:
            raise ValueError(
                f"{text!r} is not a host pattern: give a host such as example.com, "
                "*.example.com or 127.0.0.1:8123, not a URL"
            )
        m = _HOST_RE.match(t)
        if m is None:
            raise ValueError(
                f"{text!r} is not a host pattern (example.com, *.example.com, 127.0.0.1:8123, *)"
            )
        host, port_text = m.group(1), m.group(2)
        port = int(port_text) if port_text else None
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"{text!r}: port {port} is out of range")
        if host.startswith("[") and not _is_ip(host[1:-1]):
            raise ValueError(f"{text!r}: {host} is not an IPv6 address")
        if host.startswith("*."):
            return cls(host=host[2:], port=port, subdomains=True)
        return cls(host=host, port=port)

    def matches(self, host: str, port: int) -> bool:
        if self.port is not None and port != self.port:
            return False
        if self.host == "*":
            return True
        return host == self.host or (self.subdomains and host.endswith("." + self.host))

    def __str__(self) -> str:
        host = ("*." if self.subdomains else "") + self.host
        return host if self.port is None else f"{host}:{self.port}"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _ascii_host(host: str) -> str:
    """A hostname in the ASCII form browsers send (``bücher.de`` -> ``xn--bcher-kva.de``)."""
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host  # not a valid name: it will match no pattern


def _host_key(host: str) -> str:
    """A hostname as patterns spell it: lowercase ASCII, IPv6 in brackets."""
    h = _ascii_host(host.lower())
    return f"[{h}]" if ":" in h and not h.startswith("[") else h


@dataclass(frozen=True)
class UrlPolicy:
    """Which URLs the browser may load; see the module contract."""

    hosts: tuple[HostPattern, ...] | None = None  # None: any host
    allow_file: bool = False
    allow_chrome: bool = False
    allow_data_navigation: bool = False

    @classmethod
    def from_patterns(
        cls,
        patterns: Iterable[str] | None,
        *,
        allow_file: bool = False,
        allow_chrome: bool = False,
        allow_data_navigation: bool = False,
    ) -> UrlPolicy:
        """A policy from pattern texts (ValueError for a bad one); None = any host."""
        hosts = None if patterns is None else tuple(HostPattern.parse(p) for p in patterns)
        return cls(hosts, allow_file, allow_chrome, allow_data_navigation)

    @property
    def restricts_hosts(self) -> bool:
        return self.hosts is not None and not any(
            p.host == "*" and p.port is None for p in self.hosts
        )

    def describe(self) -> str:
        if self.hosts is None:
            return "any host"
        return ", ".join(str(p) for p in self.hosts) or "no host"

    def check_host(self, host: str, port: int) -> str | None:
        """None if ``host:port`` may be contacted, else why not."""
        key = _host_key(host)
        if self.hosts is None or any(p.matches(key, port) for p in self.hosts):
            return None
        return f"{key}:{port} is not in the allow-list ({self.describe()})"

    def check(self, url: str) -> str | None:
        """None if the browser may request ``url`` (a page, frame, script, image, socket...)."""
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme in _DEFAULT_PORTS:
            try:
                parts = urlsplit(url)
                host, port = parts.hostname, parts.port or _DEFAULT_PORTS[scheme]
            except ValueError as e:
                return f"{url} is not a valid URL ({e})"
            if not host:
                return f"{url} has no host"
            return self.check_host(host, port)
        if scheme in ("about", "data"):
            return None
        if scheme == "blob":  # blob:http://host:port/uuid belongs to the origin it names
            inner = url[len("blob:") :]
            return None if inner.startswith("null") else self.check(inner)
        if scheme == "file":
            return None if self.allow_file else "file: URLs are blocked (local files)"
        if scheme in _BROWSER_SCHEMES:
            return None if self.allow_chrome else f"{scheme}: URLs are blocked (browser internals)"
        return f"{scheme or 'scheme-less'} URLs are not allowed"

    def check_navigation(self, url: str) -> str | None:
        """``check`` for a top-level load a model or task asked for, plus what only makes sense
        there: no ``javascript:``, no ``data:`` (unless allowed), and nothing that parsers read
        differently (whitespace, control characters, backslashes, user:password@)."""
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme == "javascript":
            return "javascript: URLs run script; they are not navigations"
        if scheme == "data" and not self.allow_data_navigation:
            return "top-level data: URLs are blocked (they can impersonate any site)"
        if scheme in _DEFAULT_PORTS:
            if any(c.isspace() or ord(c) < 32 or c == "\\" for c in url):
                return "the URL contains whitespace, control characters or backslashes"
            with contextlib.suppress(ValueError):
                if "@" in urlsplit(url).netloc:
                    return "URLs with a user name or password (user@host) are refused"
        return self.check(url)


# ---------------------------------------------------------------- the filtering proxy

# Launch flags that keep traffic inside the proxy: WebRTC may not send UDP around it (STUN to any
# host), and Chromium's own calls to the autofill server (which would show up as blocked requests
# the page never made) stay off.
_SAFETY_ARGS = ("--webrtc-ip-handling-policy=disable_non_proxied_udp",)
_DISABLED_FEATURES = ("AutofillServerCommunication",)


def launch_args(args: Sequence[str]) -> list[str]:
    """``args`` plus the safety flags, every ``--disable-features`` merged into one (Chromium
    honours only the last one given, so a second one would silently undo the first)."""
    features: list[str] = []
    out: list[str] = []
    for a in args:
        if a.startswith("--disable-features="):
            features.extend(f for f in a.split("=", 1)[1].split(",") if f)
        else:
            out.append(a)
    out.extend(a for a in _SAFETY_ARGS if a not in out)
    out.append("--disable-features=" + ",".join(dict.fromkeys([*features, *_DISABLED_FEATURES])))
    return out


_HEAD_LIMIT = 64 * 1024
_IO_TIMEOUT_S = 30.0
_BLOCK_PAGE = (
    "<!doctype html><meta charset=utf-8><title>Blocked by Gaze</title>"
    "<h1>Blocked by Gaze</h1><p>{reason}</p>"
)


class FilteringProxy:
    """An HTTP proxy on 127.0.0.1 that forwards only what ``policy`` allows; see the contract.

    ``on_block(target, reason)`` is called from the proxy's threads for every refused request;
    ``target`` is the URL (plain HTTP) or ``host:port`` (CONNECT: HTTPS and websockets).
    """

    def __init__(self, policy: UrlPolicy, on_block: Callable[[str, str], None]) -> None:
        self.policy = policy  # swapped by the owner between browser contexts
        self.on_block = on_block
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._accept, name="gaze-proxy", daemon=True)
        self._thread.start()

    @property
    def server(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            conns, self._open = list(self._open), set()
        for s in conns:
            with contextlib.suppress(OSError):
                s.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _track(self, s: socket.socket) -> None:
        with self._lock:
            if self._closed:
                s.close()
                raise OSError("proxy closed")
            self._open.add(s)

    def _serve(self, client: socket.socket) -> None:
        """One client connection: one CONNECT tunnel, or one plain-HTTP request."""
        upstream: socket.socket | None = None
        try:
            self._track(client)
            client.settimeout(_IO_TIMEOUT_S)
            head, rest = _read_head(client)
            if head is None:
                return
            lines = head.split(b"\r\n")
            method, target, version = _request_line(lines[0])
            if method == "CONNECT":  # HTTPS, wss:// and ws:// through a proxy
                host, _, port_text = target.rpartition(":")
                host, port = host.strip("[]"), int(port_text) if port_text.isdigit() else 0
                request, first = b"", rest
            else:  # an absolute http:// URL, sent on as one request per connection
                parts = urlsplit(target)
                if parts.scheme != "http" or not parts.hostname:
                    _respond(client, 400, "Bad Request", "Gaze's proxy only forwards http:// URLs")
                    return
                host, port = parts.hostname, parts.port or 80
                request, first = _origin_request(method, parts, version, lines[1:]), rest
            reason = self._refusal(host, port)
            if reason is not None:
                self.on_block(target, reason)
                if method != "CONNECT" and _is_navigation(method, lines[1:]):
                    _respond(client, 204, "No Content", "")  # the page stays where it was
                else:
                    page = _BLOCK_PAGE.format(reason=html.escape(reason))
                    _respond(client, 403, "Forbidden", page)
                return
            try:
                upstream = socket.create_connection((host, port), timeout=_IO_TIMEOUT_S)
            except OSError as e:
                why = html.escape(f"Gaze's proxy could not connect to {host}:{port}: {e}")
                _respond(client, 502, "Bad Gateway", f"<h1>Bad gateway</h1><p>{why}</p>")
                return
            self._track(upstream)
            if method == "CONNECT":
                client.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            # a plain request is answered once, then closed; a tunnel or an upgrade stays open
            one_shot = method != "CONNECT" and not _has_header(lines[1:], b"upgrade")
            _pipe(client, upstream, request + first, close_after_response=one_shot)
        except (OSError, ValueError) as e:
            log.debug("proxy connection ended: %s", e)
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with self._lock:
                        self._open.discard(sock)
                    with contextlib.suppress(OSError):
                        sock.close()

    def _refusal(self, host: str, port: int) -> str | None:
        if not 0 < port < 65536:
            return f"{host}:{port} is not a valid destination"
        if port == self.port and host.lower() in ("127.0.0.1", "localhost", "::1", "[::1]"):
            return "the browser may not talk to Gaze's own proxy"
        return self.policy.check_host(host, port)


def _origin_request(method: str, url: SplitResult, version: str, headers: list[bytes]) -> bytes:
    """A proxy request re-addressed to the origin server, asking it to close after answering
    (so that the next request, perhaps to another host, comes on a new connection) unless it is
    a protocol upgrade (a websocket sent as plain HTTP)."""
    upgrade = _has_header(headers, b"upgrade")
    kept = [
        h
        for h in headers
        if h
        and not h.lower().startswith((b"proxy-connection:", b"keep-alive:"))
        and (upgrade or not h.lower().startswith(b"connection:"))
    ]
    if not upgrade:
        kept.append(b"Connection: close")
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    line = f"{method} {path} {version}".encode("latin-1")
    return b"\r\n".join([line, *kept]) + b"\r\n\r\n"


def block_note(target: str, reason: str) -> str:
    """What the model reads about a blocked request: its origin (paths vary, so repeats merge)
    and why."""
    if "://" in target:
        with contextlib.suppress(ValueError):
            parts = urlsplit(target)
            target = f"{parts.scheme}://{parts.netloc}"
    return f"Gaze blocked a request to {target}: {reason}"


def _has_header(headers: list[bytes], name: bytes) -> bool:
    return any(h.lower().startswith(name + b":") for h in headers)


def _is_navigation(method: str, headers: list[bytes]) -> bool:
    """A page or frame load (Chromium marks them; plain http gets Upgrade-Insecure-Requests)."""
    lower = [h.lower() for h in headers]
    return method in ("GET", "POST") and any(
        h.startswith(b"sec-fetch-mode: navigate") or h.startswith(b"upgrade-insecure-requests:")
        for h in lower
    )


def _read_head(s: socket.socket) -> tuple[bytes | None, bytes]:
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            return None, b""
        buf += chunk
        if len(buf) > _HEAD_LIMIT:
            raise ValueError("request head too large")
    head, _, rest = buf.partition(b"\r\n\r\n")
    return head, rest


def _request_line(line: bytes) -> tuple[str, str, str]:
    parts = line.decode("latin-1").split(" ")
    if len(parts) != 3:
        raise ValueError(f"bad request line {line[:100]!r}")
    return parts[0].upper(), parts[1], parts[2]


def _respond(s: socket.socket, status: int, phrase: str, body: str) -> None:
    data = body.encode()
    head = (
        f"HTTP/1.1 {status} {phrase}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(data)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    s.sendall(head.encode() + data)


def _pipe(
    client: socket.socket, upstream: socket.socket, first: bytes, close_after_response: bool = False
) -> None:
    """Copy bytes both ways until the upstream side closes (or either side fails).

    ``close_after_response``: the request was sent with ``Connection: close``, so the response
    ends when the server closes; the client gets ``Connection: close`` in the response head too
    so it never reuses this connection for another host."""
    if first:
        upstream.sendall(first)
    pending_head = close_after_response
    head_buf = b""
    socks = [client, upstream]
    client_open = True
    while True:
        # a live client may keep a tunnel (a websocket) idle for long; once it has finished
        # sending, the server gets a bounded time to answer
        timeout = None if client_open else _IO_TIMEOUT_S
        readable, _, _ = select.select(socks if client_open else [upstream], [], [], timeout)
        if not readable:
            return
        for s in readable:
            data = s.recv(65536)
            if s is upstream:
                if not data:
                    if head_buf:
                        client.sendall(head_buf)
                    return
                if pending_head:
                    head_buf += data
                    if b"\r\n\r\n" not in head_buf and len(head_buf) < _HEAD_LIMIT:
                        continue
                    data, head_buf, pending_head = _close_header(head_buf), b"", False
                client.sendall(data)
            elif data:
                upstream.sendall(data)
            else:  # the client finished sending; keep reading the response
                client_open = False
                with contextlib.suppress(OSError):
                    upstream.shutdown(socket.SHUT_WR)


def _close_header(response: bytes) -> bytes:
    """A response head with its connection headers replaced by ``Connection: close``."""
    head, sep, body = response.partition(b"\r\n\r\n")
    lines = [
        h
        for h in head.split(b"\r\n")
        if not h.lower().startswith((b"connection:", b"keep-alive:", b"proxy-connection:"))
    ]
    return b"\r\n".join([*lines, b"Connection: close"]) + sep + body


# ---------------------------------------------------------------- secrets

PLACEHOLDER = re.compile(r"\$\{\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
ANY_PLACEHOLDER = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
ENV_PREFIX = "GAZE_SECRET_"
MIN_SECRET_CHARS = 4  # shorter values would redact ordinary words all over the logs


class SecretError(ValueError):
    """A secret that cannot be resolved or used; the message names it (never its value)."""


def placeholder(name: str) -> str:
    return "${{ secrets." + name + " }}"


def secret_names(text: str) -> list[str]:
    """The names of the secrets ``text`` refers to, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def malformed_placeholder(text: str) -> str | None:
    """The first ``${{ ... }}`` in ``text`` that is not a secrets placeholder, if any."""
    for m in ANY_PLACEHOLDER.finditer(text):
        if not PLACEHOLDER.fullmatch(m.group(0)):
            return m.group(0)
    return None


SECRET_HINT = (
    "Text written as ${{ secrets.NAME }} stands for a secret you cannot see: type it exactly as "
    "written and it will be filled in."
)


def with_secret_hint(goal: str) -> str:
    """A goal that names secrets, with one sentence telling the model how to type them."""
    return f"{goal}\n({SECRET_HINT})" if secret_names(goal) else goal


class Secrets:
    """Named secret values; see the module contract. Immutable once built."""

    __slots__ = ("_values", "_variants")

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self._values: dict[str, str] = dict(values or {})
        variants: dict[str, str] = {}
        for name, value in self._values.items():
            for v in (value, quote(value, safe=""), quote(value), quote_plus(value)):
                variants.setdefault(v, name)
            variants.setdefault(html.escape(value), name)
        # longest first, so a secret that contains another is replaced whole
        self._variants = sorted(variants.items(), key=lambda kv: -len(kv[0]))

    @classmethod
    def from_env(cls, names: Sequence[str], environ: Mapping[str, str]) -> Secrets:
        """The named secrets from ``GAZE_SECRET_<NAME>`` variables; SecretError if one is missing
        or too short to redact."""
        values = {}
        for name in names:
            var = ENV_PREFIX + name
            value = environ.get(var)
            if value is None:
                raise SecretError(f"secret {name} is not set: export {var}")
            if len(value) < MIN_SECRET_CHARS:
                raise SecretError(
                    f"secret {name} ({var}) is shorter than {MIN_SECRET_CHARS} characters, too "
                    "short to redact from logs reliably"
                )
            values[name] = value
        return cls(values)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def __repr__(self) -> str:
        return f"Secrets({', '.join(self._values)})"

    __str__ = __repr__

    def fill(self, text: str) -> str:
        """``text`` with every placeholder replaced by its value; SecretError for an unknown one."""

        def value(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in self._values:
                known = ", ".join(self._values) or "none"
                raise SecretError(f"there is no secret named {name} in this task (known: {known})")
            return self._values[name]

        return PLACEHOLDER.sub(value, text)

    def redact(self, text: str) -> str:
        """``text`` with every secret value (also URL-encoded or HTML-escaped) replaced by its
        placeholder."""
        for variant, name in self._variants:
            if variant in text:
                text = text.replace(variant, placeholder(name))
        return text
