"""Task specs: the pydantic models behind task YAML files, and the JSON schema users see.

Contract:
- A task file is one YAML mapping validated by ``TaskSpec`` (frozen, extra fields forbidden).
  ``tasks.loader`` reads files and turns validation errors into messages with file, line and field.
- Success ``checks`` are declarative (URL regex, visible text, an element's state by CSS selector, a
  JS expression, the model's final answer); ``tasks.checks`` evaluates them against a live page.
- ``reference`` is an optional solution: a list of steps, each one action whose target may be a CSS
  selector (resolved to the element's centre on the live page at run time) or viewport coordinates.
  It proves the task is solvable and drives the end-to-end tests; it is never shown to a model.
- ``allowed_domains`` bounds what the browser may reach (``actions.safety`` host patterns); absent,
  only the start page's host is allowed (for ``site:`` tasks the loopback server). Secrets appear
  as ``${{ secrets.NAME }}`` placeholders; ``tasks.loader`` resolves their values into a private
  ``Secrets`` that no dump of the spec contains (``browser_config`` hands it to the browser).

This module only describes data; it touches neither files, browsers nor models (``browser_config``
only builds a configuration value).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    field_validator,
    model_validator,
)

from actions.environment import BrowserConfig
from actions.safety import HostPattern, Secrets

SCHEMA_VERSION = 1


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class Viewport(_Spec):
    width: int = Field(1280, ge=200, le=7680, description="CSS px")
    height: int = Field(800, ge=200, le=4320, description="CSS px")
    device_scale_factor: float = Field(1.0, gt=0, le=4, description="device pixels per CSS px")


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as e:
        raise ValueError(f"not a valid regular expression: {e}") from None
    return value


# ---------------------------------------------------------------- success checks


class UrlCheck(_Spec):
    """The current URL matches a regular expression (``re.search``)."""

    url_matches: str

    @field_validator("url_matches")
    @classmethod
    def _valid(cls, v: str) -> str:
        return _regex(v)


class TextCheck(_Spec):
    """This text is visible on the page (in ``document.body.innerText``, case-sensitive)."""

    text_visible: str = Field(min_length=1)


class ElementState(_Spec):
    selector: str = Field(min_length=1, description="CSS selector; the first match is checked")
    exists: bool | None = None
    visible: bool | None = None
    checked: bool | None = None
    enabled: bool | None = None
    value: str | None = Field(None, description="exact value of an input, select or textarea")
    text_contains: str | None = None


class ElementCheck(_Spec):
    """An element's state or value, by CSS selector."""

    element: ElementState


class JsCheck(_Spec):
    """A JavaScript expression that must evaluate truthy in the page."""

    js: str = Field(min_length=1)


class AnswerRule(_Spec):
    equals: str | None = None
    contains: str | None = None
    matches: str | None = None
    ignore_case: bool = True

    @model_validator(mode="after")
    def _one(self) -> AnswerRule:
        if sum(v is not None for v in (self.equals, self.contains, self.matches)) != 1:
            raise ValueError("give exactly one of equals, contains, matches")
        if self.matches is not None:
            _regex(self.matches)
        return self


class AnswerCheck(_Spec):
    """The answer given with the final ``done`` action."""

    answer: AnswerRule


def _check_tag(v: Any) -> str | None:
    """Which check a YAML mapping (or an already built check) is: the key it carries."""
    for key in ("url_matches", "text_visible", "element", "js", "answer"):
        if (isinstance(v, dict) and key in v) or (isinstance(v, BaseModel) and hasattr(v, key)):
            return key
    return None


Check = Annotated[
    Annotated[UrlCheck, Tag("url_matches")]
    | Annotated[TextCheck, Tag("text_visible")]
    | Annotated[ElementCheck, Tag("element")]
    | Annotated[JsCheck, Tag("js")]
    | Annotated[AnswerCheck, Tag("answer")],
    Discriminator(
        _check_tag,
        custom_error_type="unknown_check",
        custom_error_message="a check needs one of: url_matches, text_visible, element, js, answer",
    ),
]


# ---------------------------------------------------------------- reference solutions


class Point(_Spec):
    x: float
    y: float


class SelectorTarget(_Spec):
    selector: str = Field(min_length=1)
    dx: float = Field(0.0, description="CSS px offset from the element's centre")
    dy: float = 0.0


# Where a pointer action lands: a CSS selector string (element centre), {selector, dx, dy}, or {x, y}.
Target = str | SelectorTarget | Point


class TypeStep(_Spec):
    text: str
    submit: bool = False


class ScrollStep(_Spec):
    at: Target = Field(description="where the wheel turns; the element under it scrolls")
    dx: float = 0.0
    dy: float = 0.0


class DragStep(_Spec):
    from_: Target = Field(alias="from")
    to: Target


class DoneStep(_Spec):
    answer: str | None = None


STEP_KEYS = (
    "click",
    "double_click",
    "right_click",
    "hover",
    "drag",
    "type",
    "key",
    "scroll",
    "navigate",
    "back",
    "wait",
    "done",
)


class RefStep(_Spec):
    """One step of a reference solution: exactly one key, naming the action."""

    click: Target | None = None
    double_click: Target | None = None
    right_click: Target | None = None
    hover: Target | None = None
    drag: DragStep | None = None
    type: str | TypeStep | None = None
    key: str | None = None
    scroll: ScrollStep | None = None
    navigate: str | None = None
    back: bool | None = None
    wait: float | None = Field(None, ge=0, le=60)
    done: str | DoneStep | None = None

    @model_validator(mode="before")
    @classmethod
    def _allow_bare(cls, data: Any) -> Any:
        # `- back` / `- done` written as bare strings in YAML
        if isinstance(data, str) and data in ("back", "done"):
            return {data: True if data == "back" else DoneStep()}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> RefStep:
        present = [k for k in STEP_KEYS if getattr(self, k) is not None]
        if len(present) != 1:
            raise ValueError(
                f"a reference step names exactly one action ({', '.join(STEP_KEYS)}); got "
                f"{', '.join(present) or 'none'}"
            )
        return self

    @property
    def name(self) -> str:
        return next(k for k in STEP_KEYS if getattr(self, k) is not None)


# ---------------------------------------------------------------- the task


class TaskSpec(_Spec):
    """One browser task: where to start, what to achieve, how success is judged."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=100)
    description: str = ""
    start: str = Field(
        description="http(s) URL, or 'site:NAME/PATH' for a bundled site served on 127.0.0.1"
    )
    goal: str | None = Field(None, description="one instruction; or use goals")
    goals: list[str] | None = Field(
        None, description="instructions to reach in order, same browser"
    )
    max_steps: int = Field(15, ge=1, le=500)
    viewport: Viewport = Field(default_factory=Viewport)
    checks: list[Check] = Field(default_factory=list, min_length=1)
    reference: list[RefStep] | None = None
    tags: list[str] = Field(default_factory=list)
    allowed_domains: list[str] | None = Field(
        None,
        description="hosts the browser may reach: example.com (that host), *.example.com (and its "
        "subdomains), 127.0.0.1:8123 (that port only), * (any host); the start page's host is "
        "always allowed; absent = the start page's host only",
    )
    _secrets: Secrets = PrivateAttr(default_factory=Secrets)

    @field_validator("allowed_domains")
    @classmethod
    def _hosts(cls, v: list[str] | None) -> list[str] | None:
        for pattern in v or ():
            HostPattern.parse(pattern)  # ValueError names the bad pattern
        return v

    @field_validator("start")
    @classmethod
    def _start(cls, v: str) -> str:
        if re.match(r"^https?://[^\s/]+", v) or re.match(r"^site:[A-Za-z0-9_\-]+/\S*$", v):
            return v
        raise ValueError(
            "start must be an http(s) URL or 'site:NAME/PATH' (e.g. 'site:demo/login.html')"
        )

    @model_validator(mode="after")
    def _goal_xor_goals(self) -> TaskSpec:
        if (self.goal is None) == (self.goals is None):
            raise ValueError("give either goal (one instruction) or goals (a list), not both")
        if self.goals is not None and (not self.goals or any(not g.strip() for g in self.goals)):
            raise ValueError("goals must be a non-empty list of non-empty instructions")
        if self.goal is not None and not self.goal.strip():
            raise ValueError("goal must not be empty")
        return self

    @property
    def goal_list(self) -> list[str]:
        return [self.goal] if self.goal is not None else list(self.goals or [])

    @property
    def secrets(self) -> Secrets:
        """The values of the secrets this task names (set by ``tasks.loader``; empty otherwise)."""
        return self._secrets

    def with_secrets(self, secrets: Secrets) -> TaskSpec:
        copy = self.model_copy()
        copy._secrets = secrets
        return copy

    def allowed_hosts(self, start_url: str | None = None) -> tuple[str, ...]:
        """The host patterns this task may reach: its ``allowed_domains`` (absent: none) plus the
        start page's host, ``host:port`` of ``start_url`` when given (where the ``site:`` server
        really is), else of ``start``; a ``site:`` start without a URL allows 127.0.0.1, any port."""
        start = start_url or self.start
        if start.startswith("site:"):
            own = "127.0.0.1"
        else:
            parts = urlsplit(start)
            host = parts.hostname or ""
            host = f"[{host}]" if ":" in host else host
            try:
                port = parts.port
            except ValueError:  # out of range: the browser will say so when it loads
                port = None
            own = f"{host}:{port}" if port else host
        return tuple(dict.fromkeys([*(self.allowed_domains or []), own]))

    def browser_config(
        self,
        base: BrowserConfig | None = None,
        downloads_dir: Path | None = None,
        start_url: str | None = None,
    ) -> BrowserConfig:
        """``base`` (launch options, timeouts, screenshot format, extra allowed hosts) with this
        task's viewport, allowed hosts (``allowed_hosts``, plus the base's) and secrets."""
        vp = self.viewport
        cfg = (base or BrowserConfig()).for_viewport(
            vp.width, vp.height, vp.device_scale_factor, downloads_dir
        )
        hosts = (*self.allowed_hosts(start_url), *(cfg.allowed_domains or ()))
        return replace(cfg, allowed_domains=tuple(dict.fromkeys(hosts)), secrets=self.secrets)


def task_json_schema() -> dict[str, Any]:
    """The JSON schema of a task file, as published by ``gaze schema``."""
    schema = TaskSpec.model_json_schema(by_alias=True)
    schema["$id"] = f"https://gaze.dev/schema/task-v{SCHEMA_VERSION}.json"
    schema["title"] = "Gaze task"
    return schema


CheckKind = Literal["url_matches", "text_visible", "element", "js", "answer"]
