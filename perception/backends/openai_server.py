"""A ``Model`` that asks an OpenAI-compatible server (vLLM, SGLang, ...) over ``/v1/chat/completions``.

Contract:
- ``OpenAIServerModel(base_url, model).generate(requests)`` sends one HTTP request per
  ``ModelRequest``, at most ``max_concurrency`` in flight, and returns the completions in input
  order. ``base_url`` is the ``/v1`` root, as the OpenAI SDK's ``base_url`` (e.g.
  ``http://127.0.0.1:8000/v1``); requests go to ``{base_url}/chat/completions``.
- Images are sent as the request carries them: tiling already resized them to the profile's fixed
  point (smart_resize), so a server's own resize is a no-op *provided the server's min/max pixels
  match the profile's* (vLLM ``--mm-processor-kwargs``, see docs/SERVING.md). Otherwise the server
  resizes again and the model's pixel coordinates no longer match the Frames.
- HTTP 429 and 5xx, refused or reset connections and timeouts are retried with exponential backoff
  and jitter (a numeric ``Retry-After`` wins, both capped by ``max_backoff_s``); other statuses, a
  200 whose body is not a completion, and exhausted retries raise ``ModelError`` with one readable
  sentence. A failure of any request in a batch fails the batch (the loop counts a model failure).
- ``timeout_s`` bounds each socket operation (connect, each read), not a whole generation.
- The API key comes from the argument, else ``GAZE_API_KEY``, else ``OPENAI_API_KEY``; it is sent
  only as a Bearer header and is masked in every message, never part of ``name``.

Standard library only; it does not judge the text (parsers do) nor pick a profile.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import random
import threading
import time
import urllib.parse
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Literal

from perception.backends.chat import openai_messages
from perception.model import Completion, ModelError, ModelRequest

log = logging.getLogger(__name__)

SPEC_FORM = "openai:http://HOST:PORT/v1#MODEL_NAME"
_QUOTE_CHARS = 200
_V1_HINT = " (base_url should be the /v1 root, e.g. http://127.0.0.1:8000/v1)"


def _split_url(base_url: str) -> urllib.parse.SplitResult:
    """``base_url`` parsed, or ValueError when it is not a plain http(s) URL."""
    url = urllib.parse.urlsplit(base_url)  # ValueError for a malformed host
    if url.username or url.password:
        raise ValueError("put credentials in GAZE_API_KEY, not in the server URL")
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"{base_url!r} is not an http(s) URL such as http://127.0.0.1:8000/v1")
    if url.query or url.fragment:
        raise ValueError(f"{base_url!r} must not have a query or fragment")
    _ = (
        url.port
    )  # ValueError now, not at the first request, for a port out of range or not a number
    return url


def parse_spec(spec: str) -> tuple[str, str]:
    """``openai:http://127.0.0.1:8000/v1#name`` -> (base URL without trailing slash, model name)."""
    rest = spec.removeprefix("openai:")
    url, _, model = rest.partition("#")
    if rest == spec or not model.strip() or not url:
        raise ValueError(f"model spec {spec!r} is not of the form {SPEC_FORM}")
    try:
        _split_url(url)
    except ValueError as e:
        raise ValueError(f"{e}; a model spec looks like {SPEC_FORM}") from None
    return url.rstrip("/"), model.strip()


def _quote(raw: bytes | str) -> str:
    """At most 200 characters of ``raw`` on one line, quoted."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = " ".join(text.split())
    return repr(text if len(text) <= _QUOTE_CHARS else text[:_QUOTE_CHARS] + "...")


def _server_message(raw: bytes) -> str:
    """The error text of an error response: OpenAI's ``error.message``, else the body's start."""
    try:
        data = json.loads(raw)
    except ValueError:
        return _quote(raw)
    if isinstance(data, dict):
        err = data.get("error")
        for msg in (err.get("message") if isinstance(err, dict) else err, data.get("message")):
            if isinstance(msg, str) and msg.strip():
                return _quote(msg)
    return _quote(raw)


def _content_text(content: object) -> str | None:
    """A message's ``content`` as text: a string, or the text parts of a list joined; else None."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        ]
        return "".join(texts) if texts else None
    return None


def _count(usage: object, key: str) -> int:
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class OpenAIServerModel:
    """An OpenAI-compatible chat-completions server as a ``Model``; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 20.0,
        max_concurrency: int = 4,
        image_format: Literal["png", "jpeg"] = "png",
        temperature: float = 0.0,
        extra_body: dict[str, object] | None = None,
    ) -> None:
        if timeout_s <= 0 or max_retries < 0 or max_concurrency < 1 or backoff_s < 0:
            raise ValueError("need timeout_s > 0, max_retries >= 0, max_concurrency >= 1")
        self._url = _split_url(base_url)
        base_url = base_url.rstrip("/")
        self.name = f"openai:{base_url}#{model}"
        self.base_url = base_url
        self.model = model
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.max_concurrency = max_concurrency
        self.image_format: Literal["png", "jpeg"] = image_format
        self.temperature = temperature
        self.extra_body = dict(extra_body or {})
        self._api_key = (
            api_key or os.environ.get("GAZE_API_KEY") or os.environ.get("OPENAI_API_KEY")
        )
        self._path = self._url.path.rstrip("/") + "/chat/completions"
        self._rng = random.Random()

    def generate(self, requests: Sequence[ModelRequest]) -> list[Completion]:
        abort = threading.Event()  # set when one request failed: the others stop retrying
        if len(requests) <= 1:
            return [self._complete(r, abort) for r in requests]
        pool = ThreadPoolExecutor(min(self.max_concurrency, len(requests)), "gaze-openai")
        try:
            futures = [pool.submit(self._complete, r, abort) for r in requests]
            wait(futures, return_when=FIRST_EXCEPTION)
            for i, f in enumerate(futures, 1):
                exc = f.exception() if f.done() else None
                if exc is not None:
                    abort.set()
                    if isinstance(exc, ModelError):
                        raise ModelError(f"request {i} of {len(futures)}: {exc}") from exc
                    raise exc
            return [f.result() for f in futures]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _error(self, sentence: str) -> ModelError:
        """A ModelError whose message names this model and never shows the API key."""
        text = f"{self.name} {sentence}"
        return ModelError(text.replace(self._api_key, "***") if self._api_key else text)

    def _body(self, req: ModelRequest) -> bytes:
        payload: dict[str, object] = {
            "model": self.model,
            "messages": openai_messages(req, self.image_format),
            "max_tokens": req.max_new_tokens,
            "temperature": self.temperature,
        }
        if req.stop:
            payload["stop"] = list(req.stop)
        payload.update(self.extra_body)
        return json.dumps(payload).encode("utf-8")

    def _post(self, body: bytes) -> tuple[int, str | None, bytes]:
        """One HTTP exchange -> (status, Retry-After header, body); transport errors raise."""
        https = self._url.scheme == "https"  # HTTPSConnection verifies certificates by default
        cls = http.client.HTTPSConnection if https else http.client.HTTPConnection
        conn = cls(self._url.hostname or "", self._url.port, timeout=self.timeout_s)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        try:
            conn.request("POST", self._path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheader("Retry-After"), resp.read()
        finally:
            conn.close()

    def _delay_s(self, attempt: int, retry_after: str | None) -> float:
        try:
            if retry_after is not None and float(retry_after) >= 0:
                return min(self.max_backoff_s, float(retry_after))
        except ValueError:
            pass  # an HTTP-date: fall back to our own backoff
        base = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return base * (0.5 + 0.5 * self._rng.random())

    def _complete(self, req: ModelRequest, abort: threading.Event) -> Completion:
        try:
            body = self._body(req)
        except (TypeError, ValueError, OSError) as e:
            raise self._error(f"could not encode the request: {e}") from None
        last = "nothing"
        for attempt in range(1, self.max_retries + 2):
            retry_after = None
            t0 = time.monotonic()
            try:
                status, retry_after, raw = self._post(body)
            except TimeoutError:
                last = f"no response within the {self.timeout_s:g} s timeout"
            except (OSError, http.client.HTTPException) as e:
                last = f"connection failed ({type(e).__name__}: {str(e) or 'no detail'})"
            else:
                if status == 200:
                    return self._completion(raw, time.monotonic() - t0, attempt, len(body))
                msg = _server_message(raw)
                if status != 429 and status < 500:
                    wrong_root = status == 404 and not self._path.endswith("/v1/chat/completions")
                    hint = _V1_HINT if wrong_root else ""
                    raise self._error(f"rejected the request with HTTP {status}: {msg}{hint}")
                last = f"HTTP {status}: {msg}"
            if attempt > self.max_retries:
                break
            delay = self._delay_s(attempt, retry_after)
            log.debug(
                "%s attempt %d failed (%s); retrying in %.2f s", self.name, attempt, last, delay
            )
            if abort.wait(delay):
                raise self._error("stopped retrying because another request failed")
        raise self._error(f"failed after {attempt} attempts; the last failure: {last}")

    def _completion(self, raw: bytes, latency_s: float, attempts: int, size: int) -> Completion:
        try:
            data = json.loads(raw)
        except ValueError:
            raise self._error(f"answered 200 with a body that is not JSON: {_quote(raw)}") from None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices:
            raise self._error(f"answered 200 without choices: {_quote(raw)}")
        message = choices[0].get("message") if isinstance(choices[0], dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        text = _content_text(content)
        if text is None:
            raise self._error(
                f"answered 200 with no text in choices[0].message.content: {_quote(raw)}"
            )
        usage = data.get("usage")
        return Completion(
            text=text,
            prompt_tokens=_count(usage, "prompt_tokens"),
            completion_tokens=_count(usage, "completion_tokens"),
            latency_s=latency_s,
            extra={"attempts": attempts, "request_bytes": size},
        )
