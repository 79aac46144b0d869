"""The loopback web server for bundled sites: ``site:demo/login.html`` -> ``http://127.0.0.1:PORT/demo/login.html``.

Contract:
- ``SiteServer`` serves every folder of ``tasks/sites`` (or another root) read-only over HTTP on
  127.0.0.1 only, on a free port, from a daemon thread; ``close()`` stops it. It is a context manager.
- ``.html`` is served as ``text/html; charset=utf-8``; paths cannot escape the root; caching is off
  so a reload always sees the file on disk.
- ``resolve_start(start)`` turns a task's ``start`` into a URL (http(s) URLs pass through).

It knows nothing about tasks beyond the ``site:`` prefix.
"""

from __future__ import annotations

import logging
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

log = logging.getLogger(__name__)

SITES_ROOT = Path(__file__).parent / "sites"


class _Handler(SimpleHTTPRequestHandler):
    extensions_map = {  # noqa: RUF012 - the stdlib declares it as an instance attribute
        **SimpleHTTPRequestHandler.extensions_map,
        ".html": "text/html; charset=utf-8",
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".json": "application/json",
        ".svg": "image/svg+xml",
    }

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        log.debug("site server: " + format, *args)


class SiteServer:
    """Serves bundled sites from ``root`` on ``http://127.0.0.1:<port>/``."""

    def __init__(self, root: Path = SITES_ROOT, *, port: int = 0) -> None:
        self.root = root
        handler = partial(_Handler, directory=str(root))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="gaze-site-server", daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, site_path: str) -> str:
        """``demo/login.html`` -> ``http://127.0.0.1:PORT/demo/login.html``."""
        return f"{self.base_url}/{site_path.lstrip('/')}"

    def resolve_start(self, start: str) -> str:
        if start.startswith("site:"):
            return self.url(start.removeprefix("site:"))
        return start

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SiteServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
