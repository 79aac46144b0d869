"""Tiny random model folders, each built once per test session (about a second for all three)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.model.tiny import FAMILIES, Family, build

FolderFactory = Callable[..., Path]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Model tests never reach a hub, whatever the environment says."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    yield


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> FolderFactory:
    """``tiny_folder(family, forced=None)`` -> a saved tiny model folder, cached per session."""
    cache: dict[tuple[Family, str | None], Path] = {}
    root = tmp_path_factory.mktemp("tiny-models")

    def get(family: Family, forced: str | None = None) -> Path:
        key = (family, forced)
        if key not in cache:
            name = family if forced is None else f"{family}-forced-{len(cache)}"
            cache[key] = build(family, root / name, forced=forced)
        return cache[key]

    return get


@pytest.fixture(scope="session")
def tiny_folders(tiny_folder: FolderFactory) -> dict[Family, Path]:
    return {f: tiny_folder(f) for f in FAMILIES}
