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
- ``actions.proxy.FilteringProxy`` enforces a policy at the network layer (every request of the
  browser context goes through it).
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
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote, quote_plus, urlsplit

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
