"""Task logs: the on-disk record of a run, written step by step and read back tolerantly.

Layout of a run folder (format version ``LOG_VERSION``)::

    meta.json          RunMeta: task spec, model, profile, config, versions, start time
    steps.jsonl        one StepRecord per line, appended and flushed as each model call finishes
    screenshots/       step-000.png ... (the observation each step saw, as captured)
    downloads/         files the page downloaded
    result.json        RunResult, written last (absent if the run was killed)

Contract:
- ``Recorder`` writes; each ``step`` call appends one JSON line and flushes, so a run killed at any
  point leaves every completed step readable. Screenshots are written as the browser encoded them
  (no re-encoding on the hot path) when the bytes are available.
- ``read_log`` reads a folder back into typed records. A truncated or corrupt *last* line (a kill
  mid-write) is skipped and reported in ``warnings``; corruption elsewhere is an error naming the
  line. Nothing here is pickle; everything is pydantic-validated JSON.
- A write that fails (disk full, ``RLIMIT_FSIZE``, permissions) raises ``LogWriteError`` naming the
  reason and the file, after cutting ``steps.jsonl`` back to its last whole line and removing the
  partial screenshot or JSON file, so the folder stays readable; the runner ends the run with
  ``log_error``. Strings that cannot be encoded (lone surrogates from a page) are written as U+FFFD.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticSerializationError

from actions.types import Action, ActionResult, DialogInfo, Observation
from agent.redact import redact_model
from perception.frames import Frame
from perception.parsers.base import valid_unicode

LOG_VERSION = 1

StopReason = Literal[
    "done",
    "gave_up",
    "asked_user",
    "step_limit",
    "unparseable",
    "stuck",
    "model_error",
    "env_error",
    "interrupted",
    "task_ended",
    "log_error",  # the run folder could not be written (disk full, file size limit)
]


class _Rec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ImageRecord(_Rec):
    """An image the model saw: a region of ``source`` resized as ``frame`` says."""

    source: str  # screenshot file (relative to the run folder) the image was cut from
    frame: Frame
    label: str = "screen"


class MessageRecord(_Rec):
    role: Literal["system", "user", "assistant"]
    text: str
    images: list[ImageRecord] = Field(default_factory=list)


class StepRecord(_Rec):
    step: int  # 0-based action step
    attempt: int = 0  # model calls within the step (retries after unparseable replies)
    goal_index: int = 0
    time: str  # ISO-8601 UTC at the start of the step
    url: str
    title: str = ""
    screenshot: str  # relative path of the observation's screenshot
    screenshot_scale: float = 1.0  # image px per CSS px
    dialog: DialogInfo | None = None
    notes: list[str] = Field(default_factory=list)
    prompt: list[MessageRecord] = Field(default_factory=list)
    model_text: str | None = None
    model_error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    thought: str | None = None
    actions: list[Action] = Field(default_factory=list)
    parse_error: str | None = None
    results: list[ActionResult] = Field(default_factory=list)  # one per executed action
    feedback: list[str] = Field(default_factory=list)  # what the loop will tell the model next
    timings: dict[str, float] = Field(default_factory=dict)  # seconds


class Versions(_Rec):
    gaze: str
    python: str
    playwright: str | None = None
    chromium: str | None = None
    torch: str | None = None
    transformers: str | None = None


class RunMeta(_Rec):
    format_version: int = LOG_VERSION
    run_id: str
    started_at: str
    task: dict[str, Any]  # the TaskSpec as JSON (kept loose so old logs stay readable)
    task_file: str | None = None
    model: str
    profile: str
    config: dict[str, Any] = Field(default_factory=dict)
    versions: Versions


class CheckRecord(_Rec):
    check: str
    passed: bool
    detail: str


class RunResult(_Rec):
    success: bool
    stop_reason: StopReason
    detail: str = ""
    answer: str | None = None
    steps: int
    model_calls: int
    goals_completed: int
    checks: list[CheckRecord] = Field(default_factory=list)
    duration_s: float
    model_latency_s: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finished_at: str
    # A benchmark's own score, when it has one (MiniWoB: {"raw": ..., "timed": ...}); None for task
    # files, and in logs written before this field existed.
    reward: dict[str, float] | None = None


def observed_step(
    obs: Observation, *, step: int, screenshot: str, goal_index: int = 0, attempt: int = 0
) -> StepRecord:
    """A step record holding what the observation showed; the caller adds what happened."""
    return StepRecord(
        step=step,
        attempt=attempt,
        goal_index=goal_index,
        time=now_iso(),
        url=obs.url,
        title=obs.title,
        screenshot=screenshot,
        screenshot_scale=obs.screenshot_scale,
        dialog=obs.dialog,
        notes=list(obs.notes),
    )


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Recorder:
    """Writes one run folder; see the module contract."""

    def __init__(
        self, run_dir: Path, meta: RunMeta, *, redact: Callable[[str], str] | None = None
    ) -> None:
        self.run_dir = run_dir
        # applied to every string of meta, steps and result before writing (agent.redact)
        self._redact = redact
        meta = redact_model(meta, redact)
        steps = run_dir / "steps.jsonl"
        try:
            (run_dir / "screenshots").mkdir(parents=True, exist_ok=True)
            _write_json(run_dir / "meta.json", meta.model_dump(mode="json"))
            # unbuffered: a failed write leaves nothing pending that a later flush could half-write
            self._steps = open(steps, "ab", buffering=0)  # noqa: SIM115
        except OSError as e:
            raise write_failure(steps if e.filename is None else Path(e.filename), e) from None
        self._whole = self._steps.seek(0, os.SEEK_END)  # bytes of steps.jsonl in whole lines

    def screenshot(self, name: str, image: Image.Image, encoded: bytes | None, fmt: str) -> str:
        """Save a screenshot; returns its path relative to the run folder."""
        ext = "jpg" if fmt == "jpeg" else fmt
        rel = f"screenshots/{name}.{ext}"
        path = self.run_dir / rel
        try:
            if encoded is not None:
                path.write_bytes(encoded)
            else:
                image.convert("RGB").save(path, format="JPEG" if fmt == "jpeg" else "PNG")
        except OSError as e:
            with contextlib.suppress(OSError):
                path.unlink()  # no half image for a report to choke on
            raise write_failure(path, e) from None
        return rel

    def observation(self, step: int, attempt: int, obs: Observation) -> str:
        """Save the screenshot a step saw as ``step-NNN[-attempt]``; its relative path."""
        name = f"step-{step:03d}" + (f"-{attempt}" if attempt else "")
        return self.screenshot(name, obs.screenshot, obs.encoded, obs.encoded_format)

    def step(self, record: StepRecord) -> None:
        record = redact_model(record, self._redact)
        try:
            line = record.model_dump_json(exclude_defaults=False)
        except PydanticSerializationError:  # a lone surrogate (from a page title, say)
            line = json.dumps(_encodable(record.model_dump(mode="json")), separators=(",", ":"))
        self._append((line + "\n").encode("utf-8"))

    def _append(self, data: bytes) -> None:
        """Write one whole line or, on failure, none: the file is cut back to its last line."""
        view = memoryview(data)
        try:
            while view:
                n = self._steps.write(view)
                if not n:  # a regular file never does this; do not spin if one does
                    raise OSError(errno.EIO, "the file accepted no bytes")
                view = view[n:]
        except OSError as e:
            with contextlib.suppress(OSError):
                os.ftruncate(self._steps.fileno(), self._whole)
            raise write_failure(self.run_dir / "steps.jsonl", e) from None
        self._whole += len(data)

    def finish(self, result: RunResult) -> None:
        result = redact_model(result, self._redact)
        try:
            _write_json(self.run_dir / "result.json", result.model_dump(mode="json"))
        finally:
            self.close()

    def close(self) -> None:
        if not self._steps.closed:
            self._steps.close()


def _write_json(path: Path, data: object) -> None:
    """Write atomically: a reader never sees half a file. LogWriteError if it cannot be written."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        tmp.write_text(json.dumps(_encodable(data), indent=2, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise write_failure(path, e) from None


def _encodable(data: object) -> object:
    """JSON data with every string made encodable as UTF-8 (lone surrogates -> U+FFFD)."""
    if isinstance(data, str):
        return valid_unicode(data)
    if isinstance(data, dict):
        return {_encodable(k): _encodable(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_encodable(v) for v in data]
    return data


class LogWriteError(Exception):
    """A run folder could not be written; the message says why and which file, on one line."""


def write_failure(path: Path, e: OSError) -> LogWriteError:
    """``no space left on device while writing runs/x/steps.jsonl`` (ENOSPC, EFBIG, EACCES...)."""
    reason = e.strerror or str(e) or type(e).__name__
    return LogWriteError(f"{reason[:1].lower()}{reason[1:]} while writing {path}")


class LogError(Exception):
    pass


class LoadedLog(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    run_dir: Path
    meta: RunMeta
    steps: list[StepRecord]
    result: RunResult | None
    warnings: list[str]


def first_error(e: ValidationError) -> str:
    """``field.path: message`` of a pydantic error's first problem (just the message at the top)."""
    first = e.errors(include_url=False)[0]
    loc = ".".join(str(p) for p in first["loc"])
    return f"{loc + ': ' if loc else ''}{first['msg']}"


def _read_model(path: Path, cls: type[_Rec]) -> Any:
    try:
        return cls.model_validate_json(path.read_bytes())
    except OSError as e:
        raise LogError(f"{path}: cannot read ({e.strerror or e})") from None
    except ValidationError as e:
        raise LogError(f"{path}: {first_error(e)}") from None


def read_log(run_dir: str | Path) -> LoadedLog:
    """Read a run folder; raises LogError with the file and line for anything unreadable."""
    d = Path(run_dir)
    if not (d / "meta.json").is_file():
        raise LogError(f"{d}: not a Gaze run folder (no meta.json)")
    meta: RunMeta = _read_model(d / "meta.json", RunMeta)
    if meta.format_version > LOG_VERSION:
        raise LogError(
            f"{d}: log format {meta.format_version} is newer than this Gaze ({LOG_VERSION})"
        )
    steps: list[StepRecord] = []
    warnings: list[str] = []
    path = d / "steps.jsonl"
    try:
        lines = path.read_bytes().split(b"\n") if path.exists() else []
    except OSError as e:
        raise LogError(f"{path}: cannot read ({e.strerror or e})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    for i, raw in enumerate(lines, start=1):
        try:
            steps.append(StepRecord.model_validate_json(raw))
        except ValidationError as e:
            if i == len(lines):
                warnings.append(
                    f"steps.jsonl:{i}: last line is truncated or corrupt and was skipped"
                )
                break
            raise LogError(f"{path}:{i}: {e.errors(include_url=False)[0]['msg']}") from None
    result = None
    if (d / "result.json").exists():
        result = _read_model(d / "result.json", RunResult)
    else:
        warnings.append("no result.json: the run did not finish (killed or still running)")
    return LoadedLog(run_dir=d, meta=meta, steps=steps, result=result, warnings=warnings)
