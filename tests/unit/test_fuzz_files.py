"""Fuzzing what Gaze reads from disk (task files and run logs) and spot-checking bad arguments.

Every malformed task file must end as one ``TaskFileError`` line naming the file (and the line and
field where known); every damaged run folder must either read (with warnings) or raise ``LogError``
naming the file, and ``gaze show`` / ``gaze report`` on it must exit 0 or 2 with one line, never a
traceback; so must a bad command-line argument. The runs are deterministic (``derandomize=True``)
and bounded; each ``@example`` and each entry of ``REGRESSIONS`` is a crash or a bad message found
by this file and since fixed.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from rich.console import Console

from agent import cli
from agent.console import log_table
from agent.loop import LoopConfig, run_episode
from agent.policy import ModelPolicy
from agent.report import render_report
from agent.runner import RunSink
from agent.trajectory import (
    LoadedLog,
    LogError,
    Recorder,
    RunMeta,
    RunResult,
    Versions,
    now_iso,
    read_log,
)
from perception.model import ScriptedModel
from perception.profiles import get_profile
from tasks.loader import SUITES_ROOT, TaskFileError, load_task, parse_task
from tests.fakes import two_screen_env

DEMO_FILES = sorted((SUITES_ROOT / "demo").glob("*.yaml"))
DEMO_TEXTS = [p.read_text(encoding="utf-8") for p in DEMO_FILES]
DEMO_DATA = [yaml.safe_load(t) for t in DEMO_TEXTS]


def fuzz(n: int) -> settings:
    return settings(
        max_examples=n,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure prints its draws as-is
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# ---------------------------------------------------------------- task files


def task_error(text: str, path: str = "fuzz.yaml") -> TaskFileError | None:
    """Parse ``text`` as a task; the TaskFileError, or None if it is a valid task."""
    try:
        parse_task(text, path)
    except TaskFileError as e:
        check_task_error(e, path)
        return e
    return None


def check_task_error(e: TaskFileError, path: str) -> None:
    msg = str(e)
    assert msg.startswith(f"{path}:"), msg
    assert "\n" not in msg and e.message.strip(), msg
    if e.field is not None:  # a named field always comes with the line it is on
        assert e.line is not None, msg


def nested(depth: int) -> str:
    return "a: " + "[" * depth + "]" * depth + "\n"


# Regressions: each of these raised RecursionError / AttributeError or gave a multi-line message.
DEEP_LIST = nested(3000)
DEEP_MAP = "a: " + "{b: " * 2000 + "1" + "}" * 2000 + "\n"
BAD_TIMESTAMP = "id: !!timestamp not-a-date\n"
MERGE_KEY = "base: &b {js: '1'}\nid: x\nstart: site:demo/x\ngoal: g\nchecks: [{<<: *b}]\n"
HUGE_INT = (
    "id: x\nstart: site:demo/x\ngoal: g\nmax_steps: " + "9" * 5000 + "\nchecks: [{js: '1'}]\n"
)


@given(st.text(max_size=300))
@example(DEEP_LIST)
@example(DEEP_MAP)
@example(BAD_TIMESTAMP)
@example(MERGE_KEY)
@example(HUGE_INT)
@example("id: !!int abc\n")
@example("a: &a [*a]\n")
@example("\ufeff\ufeffid: x\n")
@fuzz(150)
def test_any_text_is_a_task_or_one_line_error(text: str) -> None:
    task_error(text)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (DEEP_LIST, "nested more than 50 levels"),
        (nested(60), "nested more than 50 levels"),
        (DEEP_MAP, "nested more than 50 levels"),
        (BAD_TIMESTAMP, "'not-a-date' is not a valid !!timestamp value"),
        (MERGE_KEY, "fuzz.yaml:5: YAML merge keys (<<) are not supported"),
        (HUGE_INT, "fuzz.yaml:4: '9999"),
    ],
)
def test_fixed_crashes_now_name_the_problem(text: str, words: str) -> None:
    e = task_error(text)
    assert e is not None and words in str(e)


@given(st.binary(max_size=1500))
@example(b"\xff\xfeid: x\n")
@example(b"\xef\xbb\xbfid: x\x00\n")
@example(b"id: \xed\xa0\x80\n")  # a UTF-8-encoded surrogate
@fuzz(100)
def test_random_bytes_in_a_file(raw: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bytes.yaml"
        path.write_bytes(raw)
        try:
            load_task(path)
        except TaskFileError as e:
            check_task_error(e, str(path))


# A value that is wrong in an interesting way wherever it lands.
WEIRD: list[object] = [
    None, True, 0, -1, 10**30, 1e308, math.inf, math.nan, "", " ", "x" * 5000, [], {}, [[[]]],
    {"js": 1}, {"url_matches": "("}, "${{ secrets.NOPE }}", "site:", "http://", "\t", "\x85",
    {"selector": ""}, [None], {"from": "#a"}, 1.5, "0x10", "2020-01-01",
]  # fmt: skip
TASK_KEYS = ["id", "start", "goal", "goals", "max_steps", "viewport", "checks", "reference", "tags"]


def paths(data: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every key/index path into ``data``."""
    out: list[tuple[object, ...]] = [prefix]
    if isinstance(data, dict):
        for k, v in data.items():
            out.extend(paths(v, (*prefix, k)))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.extend(paths(v, (*prefix, i)))
    return out


def mutate(data: Any, path: tuple[object, ...], op: str, value: object) -> Any:
    if not path:
        return value if op == "set" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]  # type: ignore[index]
    last = path[-1]
    if op == "delete":
        del parent[last]  # type: ignore[arg-type]
    elif op == "set":
        parent[last] = value  # type: ignore[index]
    elif op == "wrap":
        parent[last] = [parent[last]]  # type: ignore[index]
    elif op == "rename" and isinstance(parent, dict):
        parent[f"{last}_typo"] = parent.pop(last)
    return data


@given(st.data())
@fuzz(150)
def test_mutated_demo_tasks(data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(DEMO_DATA) - 1), label="file")
    task = json.loads(json.dumps(DEMO_DATA[i]))
    for _ in range(data.draw(st.integers(1, 3))):
        where = data.draw(st.sampled_from(paths(task)), label="path")
        op = data.draw(st.sampled_from(["delete", "set", "wrap", "rename"]), label="op")
        task = mutate(task, where, op, data.draw(st.sampled_from(WEIRD), label="value"))
    text = yaml.safe_dump(task, allow_unicode=True, sort_keys=False)
    if data.draw(st.booleans(), label="duplicate a line"):
        lines = text.splitlines(keepends=True)
        j = data.draw(st.integers(0, len(lines) - 1))
        text = "".join(lines[: j + 1] + lines[j:])
    task_error(text, DEMO_FILES[i].name)


TEXT_EDITS: dict[str, Callable[[str, int], str]] = {
    "bom": lambda t, i: "\ufeff" + t,
    "tab": lambda t, i: t[:i] + "\t" + t[i:],
    "crlf": lambda t, i: t.replace("\n", "\r\n"),
    "cut": lambda t, i: t[:i],
    "nul": lambda t, i: t[:i] + "\x00" + t[i:],
    "colon": lambda t, i: t[:i] + ": " + t[i:],
    "anchor": lambda t, i: "x: &x [" + ",".join(["1"] * 50) + "]\n" + t + "y: [" + ",".join(["*x"] * 2500) + "]\n",
    "bomb": lambda t, i: "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n" + t,
    "deep": lambda t, i: t + nested(500),
    "dup": lambda t, i: t + t.splitlines(keepends=True)[0],
}  # fmt: skip


@given(st.data())
@fuzz(120)
def test_text_edits_of_demo_tasks(data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(DEMO_TEXTS) - 1), label="file")
    text = DEMO_TEXTS[i]
    for _ in range(data.draw(st.integers(1, 3))):
        edit = data.draw(st.sampled_from(sorted(TEXT_EDITS)), label="edit")
        text = TEXT_EDITS[edit](text, data.draw(st.integers(0, len(text))))
    raw = text.encode("utf-8", "surrogatepass")
    if data.draw(st.booleans(), label="invalid UTF-8"):
        j = data.draw(st.integers(0, len(raw)))
        raw = raw[:j] + b"\xc3\x28" + raw[j:]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / DEMO_FILES[i].name
        path.write_bytes(raw)
        try:
            load_task(path)
        except TaskFileError as e:
            check_task_error(e, str(path))


def test_alias_bombs_are_refused_not_expanded() -> None:
    # 10^6 leaves if expanded; yaml.compose shares the nodes, and _construct stops at its node cap
    e = task_error(TEXT_EDITS["bomb"](DEMO_TEXTS[0], 0))
    assert e is not None and "too many YAML nodes" in str(e)


# ---------------------------------------------------------------- run logs


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real run folder: four model calls (one unparseable) on the fake environment."""
    run = tmp_path_factory.mktemp("logs") / "run"
    meta = RunMeta(
        run_id="run",
        started_at=now_iso(),
        task={"id": "t", "goal": "[bold]g[/]", "viewport": {"width": 400, "height": 300}},
        model="scripted",
        profile="gaze",
        versions=Versions(gaze="dev", python="3.11"),
    )
    rec = Recorder(run, meta)
    replies = ["Thought: [/] go\nclick(70, 60)", "[red]garbage[/", "click(200, 170)", 'done("x")']
    model = ScriptedModel(replies)
    ep = run_episode(["g"], two_screen_env(), ModelPolicy(model, get_profile("gaze")), config=LoopConfig(), sink=RunSink(rec))  # fmt: skip
    assert ep.stop_reason == "done"
    rec.finish(
        RunResult(
            success=True, stop_reason="done", detail="x", steps=ep.steps, model_calls=4,
            goals_completed=1, duration_s=0.1, finished_at=now_iso(),
        )
    )  # fmt: skip
    return run


def render(log: LoadedLog) -> None:
    """Everything that shows a log to a person must cope with whatever it holds."""
    render_report(log)
    Console(file=io.StringIO(), width=120).print(log_table(log))


def run_cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = cli.main(list(argv))
        except SystemExit as e:  # how the CLI leaves after printing a bad log's error
            rc = e.code if isinstance(e.code, int) else 1
    return rc, err.getvalue()


def check_folder(run: Path) -> None:
    """read_log reads or raises LogError; show and report exit 0, or 2 with one error line."""
    try:
        render(read_log(run))
    except LogError as e:
        assert str(e).startswith(str(run)) and "\n" not in str(e), str(e)
    for argv in (["show", str(run)], ["report", str(run), "-o", str(run.parent / "r.html")]):
        rc, err = run_cli(*argv)
        lines = [x for x in err.splitlines() if not x.startswith("warning:")]
        assert rc == 0 or (rc == 2 and len(lines) == 1 and lines[0].startswith("error:")), err


def weird_json(draw: st.DrawFn) -> object:
    return draw(
        st.sampled_from(WEIRD)
        | st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=8), inner, max_size=3)
            ),
            max_leaves=8,
        )
    )


def json_edit(raw: bytes, draw: st.DrawFn) -> bytes:
    """A JSON document with one value replaced, deleted or wrapped; the raw text if not JSON."""
    try:
        data = json.loads(raw)
    except ValueError:
        return raw
    where = draw(st.sampled_from(paths(data)))
    op = draw(st.sampled_from(["delete", "set", "wrap"]))
    data = mutate(data, where, op, weird_json(draw))
    return json.dumps(data, allow_nan=True).encode()


def damage(run: Path, name: str, how: str, draw: st.DrawFn) -> None:
    """Damage one file of a run folder the way ``how`` says; the content drawn as needed."""
    path = run / name
    if path.is_dir():
        return
    old = path.read_bytes() if path.is_file() else b""
    at = draw(st.integers(0, len(old)))
    match how:
        case "folder":
            path.unlink(missing_ok=True)
            path.mkdir()
        case "delete":
            path.unlink(missing_ok=True)
        case "bytes":
            path.write_bytes(draw(st.binary(max_size=300)))
        case "cut":  # a kill mid-write, or a disk that filled up
            path.write_bytes(old[:at])
        case "utf8":
            path.write_bytes(old[:at] + b"\xff\xc3(" + old[at:])
        case "huge":
            path.write_bytes(old + b'{"step": 9, "url": "' + b"A" * 300_000 + b'"}\n')
        case _:  # "json": one value of the document (one line of steps.jsonl) changed
            lines = old.split(b"\n")
            i = draw(st.integers(0, max(0, len(lines) - 2))) if name == "steps.jsonl" else 0
            lines[i] = json_edit(lines[i], draw) if name == "steps.jsonl" else json_edit(old, draw)
            path.write_bytes(b"\n".join(lines) if name == "steps.jsonl" else lines[0])


HOWS = ["json", "json", "json", "bytes", "cut", "delete", "folder", "huge", "utf8"]


@given(st.data())
@fuzz(120)
def test_damaged_run_folders(template: Path, data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as d:
        run = Path(d) / "run"
        shutil.copytree(template, run)
        for _ in range(data.draw(st.integers(1, 3), label="damages")):
            name = data.draw(st.sampled_from(["meta.json", "steps.jsonl", "result.json"]))
            damage(run, name, data.draw(st.sampled_from(HOWS), label="how"), data.draw)
        check_folder(run)


def edit_steps(run: Path, update: Callable[[dict[str, Any]], None], line: int = 0) -> None:
    lines = (run / "steps.jsonl").read_text().splitlines()
    rec = json.loads(lines[line])
    update(rec)
    lines[line] = json.dumps(rec)
    (run / "steps.jsonl").write_text("\n".join(lines) + "\n")


def edit_meta(run: Path, update: Callable[[dict[str, Any]], None]) -> None:
    meta = json.loads((run / "meta.json").read_text())
    update(meta)
    (run / "meta.json").write_text(json.dumps(meta))


# Each of these crashed `gaze show` or `gaze report` before the fix it names.
REGRESSIONS: dict[str, Callable[[Path], None]] = {
    # IsADirectoryError escaped read_log
    "steps.jsonl is a folder": lambda r: ((r / "steps.jsonl").unlink(), (r / "steps.jsonl").mkdir()),
    # rich MarkupError in log_table
    "markup in a url": lambda r: edit_steps(r, lambda s: s.update(url="[/]")),
    "markup in an action": lambda r: edit_steps(r, lambda s: s.update(actions=[{"kind": "type", "text": "[/x]"}])),
    # AttributeError / ValueError in render_report
    "viewport is a list": lambda r: edit_meta(r, lambda m: m["task"].update(viewport=[1, 2])),
    "viewport width is text": lambda r: edit_meta(r, lambda m: m["task"].update(viewport={"width": "wide"})),
    "goals is a number": lambda r: edit_meta(r, lambda m: m["task"].update(goals=5)),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(REGRESSIONS))
def test_fixed_log_crashes(template: Path, tmp_path: Path, name: str) -> None:
    run = tmp_path / "run"
    shutil.copytree(template, run)
    REGRESSIONS[name](run)
    check_folder(run)


def test_markup_in_a_result_detail_is_shown_verbatim(template: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(template, run)
    result = {
        "success": False, "stop_reason": "gave_up", "detail": "[/] [red]no[/red]", "steps": 1,
        "model_calls": 1, "goals_completed": 0, "duration_s": 1.0, "finished_at": now_iso(),
    }  # fmt: skip
    (run / "result.json").write_text(json.dumps(result))
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert cli.main(["show", str(run)]) == 0
    assert "[/] [red]no[/red]" in out.getvalue() and "[/]" in out.getvalue()


def test_a_screenshot_path_outside_the_run_folder_is_not_inlined(
    template: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG not really, but private")
    run = tmp_path / "run"
    shutil.copytree(template, run)
    edit_steps(run, lambda s: s.update(screenshot=str(secret)), line=0)
    edit_steps(run, lambda s: s.update(screenshot="../secret.png"), line=1)
    html = render_report(read_log(run))
    assert "cHJpdmF0ZQ" not in html and "private" not in html  # base64 or plain, not there
    assert html.count("data:image/png;base64,") == 2  # the other two steps keep theirs


def test_truncated_last_line_is_reported_by_gaze_show(template: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(template, run)
    data = (run / "steps.jsonl").read_bytes()
    (run / "steps.jsonl").write_bytes(data[: len(data) - 40])  # killed in the middle of a write
    (run / "result.json").unlink()
    rc, err = run_cli("show", str(run))
    assert rc == 0
    assert "steps.jsonl:4: last line is truncated or corrupt and was skipped" in err
    assert "no result.json" in err
    assert len(read_log(run).steps) == 3


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["run", "demo/login", "--model", "scripted:R", "--max-steps", "0"], "not between 1 and 500"),
        (["run", "demo/login", "--model", "scripted:R", "--max-steps", "-3"], "not between 1 and"),
        (["run", "demo/login", "--model", "scripted:R", "--max-steps", "many"], "'many' is not an"),
        (["run", "demo/login", "--model", "scripted:R", "--chromium", "/no/such"], "no such file"),
        (["run", "demo/login", "--model", "scripted:/no/such/file"], "cannot read script"),
        (["run", "demo/login", "--model", "openai:http://x"], "is not of the form"),
        (["run", "demo/login", "--model", "scripted:R", "--profile", "[/]"], "unknown profile '[/]'"),
        (["run", "no/such/task", "--model", "scripted:R"], "no such file, folder or bundled suite"),
        (["serve", "--port", "99999"], "not between 0 and 65535"),
        (["show", "/no/such/run"], "not a Gaze run folder"),
        (["report", "/no/such/run"], "not a Gaze run folder"),
        (["locate", "/no/such.png", "x", "--model", "scripted:R"], "cannot read image"),
        (["locate", "site:demo/login.html", "x", "--model", "scripted:R", "--width", "-5"], "1-10000"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_2_with_one_line(tmp_path: Path, argv: list[str], words: str) -> None:
    replies = tmp_path / "replies.txt"
    replies.write_text("done()")
    argv = [a.replace("scripted:R", f"scripted:{replies}") for a in argv]
    rc, err = run_cli(*argv)
    assert rc == 2, err
    assert words in err and "Traceback" not in err, err
    assert len([line for line in err.splitlines() if "error" in line]) == 1, err


def test_a_report_that_cannot_be_written_is_one_line(template: Path, tmp_path: Path) -> None:
    rc, err = run_cli("report", str(template), "-o", str(tmp_path / "no" / "such" / "r.html"))
    assert rc == 2 and err.startswith("error: cannot write ") and err.count("\n") == 1, err


def test_serving_on_a_port_in_use_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        rc, err = run_cli("serve", "--port", str(taken.getsockname()[1]))
    assert rc == 2 and "Address already in use" in err and err.count("\n") == 1, err
