"""Task files: valid ones load, bad ones give file:line: field: message, nothing else escapes."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasks.loader import TaskFileError, load_many, load_task, parse_task
from tasks.spec import TaskSpec, task_json_schema

GOOD = """\
id: login
start: site:demo/login.html
goal: Sign in as alice
max_steps: 8
viewport: {width: 1024, height: 700, device_scale_factor: 2}
checks:
  - url_matches: dashboard
  - text_visible: Welcome, alice
  - element: {selector: "#remember", checked: true}
  - js: "localStorage.getItem('user') === 'alice'"
  - answer: {contains: alice}
reference:
  - click: "#username"
  - type: alice
  - click: {selector: "#password", dx: 3}
  - type: {text: hunter2, submit: true}
  - scroll: {at: {x: 10, y: 20}, dy: 300}
  - drag: {from: "#a", to: {x: 5, y: 6}}
  - key: ctrl+a
  - back
  - done: alice
"""


def test_good_file_loads() -> None:
    t = parse_task(GOOD, "good.yaml")
    assert t.id == "login" and t.viewport.device_scale_factor == 2
    assert [s.name for s in t.reference or []] == [
        "click",
        "type",
        "click",
        "type",
        "scroll",
        "drag",
        "key",
        "back",
        "done",
    ]
    assert t.goal_list == ["Sign in as alice"]


BAD = [
    (
        "checks:\n  - element:\n      checked: true\n",
        5,
        "checks[0].element.selector",
        "Field required",
    ),
    ("max_steps: lots\n", 6, "max_steps", "valid integer"),
    ("foo: 3\n", 6, "foo", "Extra inputs"),
    ("checks:\n  - foo: 1\n", 5, "checks[0]", "url_matches, text_visible"),
    ("reference:\n  - click: {x: 1}\n", 7, "reference[0].click.y", "Field required"),
    ("reference:\n  - click: '#a'\n    key: Enter\n", 7, "reference[0]", "exactly one action"),
    ("viewport: {width: 10}\n", 6, "viewport.width", "greater than or equal"),
    ("checks:\n  - url_matches: '(unclosed'\n", 5, "checks[0].url_matches", "regular expression"),
]
HEAD = "id: t\nstart: site:demo/x.html\ngoal: g\n"


@pytest.mark.parametrize(("tail", "line", "field", "msg"), BAD)
def test_bad_field_is_named_with_its_line(tail: str, line: int, field: str, msg: str) -> None:
    # HEAD is lines 1-3; tails that are not about checks start at line 6, after a valid check
    text = HEAD + (tail if tail.startswith("checks") else "checks:\n  - js: '1'\n" + tail)
    with pytest.raises(TaskFileError) as ei:
        parse_task(text, "bad.yaml")
    e = ei.value
    assert (e.path, e.field) == ("bad.yaml", field)
    assert msg in e.message
    assert e.line == line, str(e)
    assert str(e).startswith(f"bad.yaml:{line}: {field}: ")


@pytest.mark.parametrize(
    ("text", "msg"),
    [
        ("", "empty"),
        ("- a\n- b\n", "mapping"),
        ("id: [\n", "invalid YAML"),
        ("id: x\nid: y\n", "duplicate key"),
        ("a: &a [*a]\n", "recursive"),
        ("id: t\nstart: ftp://x\ngoal: g\nchecks: [{js: '1'}]\n", "http(s) URL"),
        ("id: t\nstart: site:demo/x\nchecks: [{js: '1'}]\n", "goal"),
        ("id: t\nstart: site:demo/x\ngoal: g\nchecks: []\n", "at least 1"),
        ("id: 'bad id!'\nstart: site:demo/x\ngoal: g\nchecks: [{js: '1'}]\n", "pattern"),
    ],
)
def test_whole_file_problems(text: str, msg: str) -> None:
    with pytest.raises(TaskFileError) as ei:
        parse_task(text, "f.yaml")
    assert msg in str(ei.value)


def test_billion_laughs_is_refused_quickly() -> None:
    lines = ["a: &a [1,2,3,4,5,6,7,8,9]"]
    prev = "a"
    for name in "bcdefgh":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    with pytest.raises(TaskFileError, match="too many"):
        parse_task("\n".join(lines) + "\n", "laughs.yaml")


def test_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"id: \xff\xfe\n")
    with pytest.raises(TaskFileError, match="UTF-8"):
        load_task(tmp_path / "bin.yaml")
    with pytest.raises(TaskFileError, match="cannot read"):
        load_task(tmp_path / "missing.yaml")
    (tmp_path / "good.yaml").write_text(GOOD)
    tasks, errors = load_many([tmp_path])
    assert [t.id for t in tasks] == ["login"] and len(errors) == 1


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_any_text_gives_a_task_or_a_task_file_error(text: str) -> None:
    try:
        parse_task(text, "fuzz.yaml")
    except TaskFileError as e:
        assert str(e).startswith("fuzz.yaml")


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_mutated_good_file_never_escapes(data: st.DataObject) -> None:
    text = GOOD
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        op = data.draw(st.sampled_from(["del", "ins", "dup"]))
        if op == "del":
            text = text[:i] + text[i + 1 :]
        elif op == "ins":
            text = text[:i] + data.draw(st.sampled_from(list(":-[]{}&*!|>'\"#\n \t0x"))) + text[i:]
        else:
            text = text[:i] + text[i : i + 20] + text[i:]
    with contextlib.suppress(TaskFileError):
        parse_task(text, "m.yaml")


def test_schema_is_published_and_describes_the_fields() -> None:
    schema = task_json_schema()
    assert schema["title"] == "Gaze task"
    for field in ("id", "start", "goal", "goals", "checks", "reference", "viewport", "max_steps"):
        assert field in schema["properties"]
    json.dumps(schema)
    assert TaskSpec.model_validate(parse_task(GOOD).model_dump(by_alias=True)).id == "login"
