"""Success checks: evaluate a task's declarative checks against a live environment.

Contract: ``run_checks(checks, env, answer)`` returns one ``CheckResult`` per check, in order, each
with ``passed`` and a ``detail`` sentence (what was expected, what was found). It never raises for
page trouble: a check that cannot be evaluated (dialog open, script error, browser gone) fails with
the reason. Text and element checks run in the page through ``env.evaluate``.
"""

from __future__ import annotations

import re
from typing import assert_never

from pydantic import BaseModel, ConfigDict

from actions.environment import EnvError, Environment, JsonValue
from tasks.spec import AnswerCheck, AnswerRule, Check, ElementCheck, JsCheck, TextCheck, UrlCheck

# Reads an element's state; returns null when no element matches.
_ELEMENT_JS = """(sel) => {
  const el = document.querySelector(sel);
  if (!el) return null;
  const r = el.getBoundingClientRect();
  const st = getComputedStyle(el);
  return {
    visible: r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none',
    checked: 'checked' in el ? !!el.checked : null,
    enabled: !el.disabled,
    value: 'value' in el ? String(el.value) : null,
    text: el.innerText ?? el.textContent ?? '',
  };
}"""


class CheckResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    check: str
    passed: bool
    detail: str


def _describe(check: Check) -> str:
    return check.model_dump_json(exclude_none=True)


def _answer_ok(rule: AnswerRule, answer: str | None) -> tuple[bool, str]:
    if answer is None:
        return False, "no answer was given with done()"
    a = answer.strip()
    flags = re.IGNORECASE if rule.ignore_case else 0
    if rule.equals is not None:
        ok = a.casefold() == rule.equals.casefold() if rule.ignore_case else a == rule.equals
        return ok, f"answer {a!r}, expected {rule.equals!r}"
    if rule.contains is not None:
        ok = re.search(re.escape(rule.contains), a, flags) is not None
        return ok, f"answer {a!r}, expected it to contain {rule.contains!r}"
    assert rule.matches is not None
    return re.search(rule.matches, a, flags) is not None, f"answer {a!r}, expected /{rule.matches}/"


def _element_ok(check: ElementCheck, state: JsonValue) -> tuple[bool, str]:
    spec = check.element
    if not isinstance(state, dict):
        if spec.exists is False:
            return True, f"no element matches {spec.selector!r}, as expected"
        return False, f"no element matches {spec.selector!r}"
    problems = []
    if spec.exists is False:
        problems.append("exists")
    expected: list[tuple[str, bool | str | None]] = [
        ("visible", spec.visible),
        ("checked", spec.checked),
        ("enabled", spec.enabled),
        ("value", spec.value),
    ]
    for key, want in expected:
        if want is not None and state.get(key) != want:
            problems.append(f"{key}={state.get(key)!r} (expected {want!r})")
    if spec.text_contains is not None and spec.text_contains not in str(state.get("text", "")):
        problems.append(f"text does not contain {spec.text_contains!r}")
    if problems:
        return False, f"{spec.selector}: " + "; ".join(problems)
    return True, f"{spec.selector}: as expected"


def run_check(check: Check, env: Environment, answer: str | None) -> CheckResult:
    try:
        match check:
            case UrlCheck(url_matches=pattern):
                url = env.url
                ok, detail = re.search(pattern, url) is not None, f"url {url!r} vs /{pattern}/"
            case TextCheck(text_visible=text):
                body = env.evaluate("() => document.body ? document.body.innerText : ''")
                ok = isinstance(body, str) and text in body
                detail = f"text {text!r} {'found' if ok else 'not found'} on the page"
            case ElementCheck():
                ok, detail = _element_ok(check, env.evaluate(_ELEMENT_JS, check.element.selector))
            case JsCheck(js=expr):
                value = env.evaluate(f"() => {{ return ({expr}); }}")
                ok, detail = bool(value), f"{expr} -> {value!r}"
            case AnswerCheck(answer=rule):
                ok, detail = _answer_ok(rule, answer)
            case _:
                assert_never(check)
    except EnvError as e:
        ok, detail = False, f"could not evaluate: {e}"
    return CheckResult(check=_describe(check), passed=ok, detail=detail)


def run_checks(checks: list[Check], env: Environment, answer: str | None) -> list[CheckResult]:
    return [run_check(c, env, answer) for c in checks]
