"""The filtering proxy: the network layer of the allow-list (``actions.safety.UrlPolicy``).

Contract: ``FilteringProxy`` is an HTTP proxy on 127.0.0.1 that the browser context sends every
request through (loopback included), so redirect hops, iframes, popups, workers, websockets
(tunnelled with CONNECT) and form posts are each checked against the policy on their own. A blocked
navigation is answered ``204 No Content`` (the page stays where it was), any other blocked request
``403``; each block is reported through ``on_block``. It never connects to a blocked host, nor to
itself. ``launch_args`` adds the Chromium flags that keep traffic inside the proxy (no WebRTC UDP
around it) and merges every ``--disable-features`` into one; ``block_note`` is the sentence a
block becomes in the model's next prompt.

Nothing here imports Playwright; ``actions.browser`` wires the proxy into the browser context.
"""

from __future__ import annotations

import contextlib
import html
import logging
import select
import socket
import threading
from collections.abc import Callable, Sequence
from urllib.parse import SplitResult, urlsplit

from actions.safety import UrlPolicy

log = logging.getLogger(__name__)

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
