"""Dataset packs for another machine: size-capped, pixel-exact, only what the OCR read."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tasks.synth.pack import main, pack, unpack


def _dataset(root: Path, images: int, read: int, seed: int) -> None:
    """A dataset folder as ``tasks.synth`` writes one: manifest, one shard, PNG screenshots,
    OCR words for the first ``read`` of them. Noise pixels, so WebP cannot shrink them much."""
    shard = root / "train" / "shard-00000"
    (shard / "images").mkdir(parents=True)
    (root / "manifest.json").write_text('{"format": "gaze-synth/1"}\n', encoding="utf-8")
    rng = np.random.default_rng(seed)
    lines, words = [], []
    for i in range(images):
        px = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
        Image.fromarray(px).save(shard / "images" / f"p{i:03d}.png")
        lines.append(json.dumps({"image": f"images/p{i:03d}.png", "target": "done()"}))
        if i < read:
            words.append(json.dumps({"image": f"images/p{i:03d}.png", "words": []}))
    (shard / "samples.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (shard / "words.jsonl").write_text("\n".join(words) + "\n", encoding="utf-8")


def _listed(shard: Path) -> list[str]:
    text = (shard / "words.jsonl").read_text(encoding="utf-8")
    return [json.loads(line)["image"] for line in text.splitlines()]


def test_packs_are_capped_pixel_exact_and_widen_the_read_set(tmp_path: Path) -> None:
    _dataset(tmp_path / "a", images=6, read=5, seed=1)
    _dataset(tmp_path / "b", images=3, read=3, seed=2)
    packs = pack([tmp_path / "a", tmp_path / "b"], tmp_path / "packs", max_bytes=40_000)
    assert len(packs) >= 3  # ~14 KB per noise image: a few per pack
    assert all(p.stat().st_size <= 40_000 for p in packs)

    dest = tmp_path / "there"
    unpack(packs[:1], dest, workers=1)  # the first pack alone: metadata and the first images
    shard_a = dest / "a" / "train" / "shard-00000"
    first = _listed(shard_a)
    assert first and all((shard_a / rel).is_file() for rel in first)
    assert len(_listed(dest / "b" / "train" / "shard-00000")) == 0  # b's images come later

    unpack(packs[1:], dest, workers=1)
    assert _listed(shard_a) == [f"images/p{i:03d}.png" for i in range(5)]
    assert not (shard_a / "images" / "p005.png").exists()  # never read by the OCR: not packed
    assert not list(dest.rglob("*.webp"))
    for rel in _listed(shard_a):
        got = np.asarray(Image.open(shard_a / rel))
        want = np.asarray(Image.open(tmp_path / "a" / "train" / "shard-00000" / rel))
        assert np.array_equal(got, want), rel
    assert (shard_a / "samples.jsonl").read_bytes() == (
        tmp_path / "a" / "train" / "shard-00000" / "samples.jsonl"
    ).read_bytes()


def test_cli_refuses_a_folder_that_is_no_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x").mkdir()
    assert main(["pack", "--out", str(tmp_path / "p"), str(tmp_path / "x")]) == 2
    assert "no manifest.json" in capsys.readouterr().err
