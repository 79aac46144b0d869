"""Real headless Chromium on pages served from 127.0.0.1; the only fake is the model."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from actions.browser import BrowserEnv
from actions.environment import BrowserConfig
from tasks.loader import bundled_suite, discover, load_task
from tasks.server import SiteServer
from tasks.spec import TaskSpec

DEMO_FILES = discover([bundled_suite("demo"), bundled_suite("basics")])


def demo_tasks() -> list[TaskSpec]:
    return [load_task(p) for p in DEMO_FILES]


@pytest.fixture(scope="session")
def server() -> Iterator[SiteServer]:
    with SiteServer() as s:
        yield s


@pytest.fixture(scope="session")
def env() -> Iterator[BrowserEnv]:
    with BrowserEnv(BrowserConfig()) as e:
        yield e


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
