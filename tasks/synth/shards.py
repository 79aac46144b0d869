"""The on-disk format of generated data: a manifest, and shards of samples with their images.

Layout (documented in docs/DATA.md)::

    <out>/manifest.json                      format, generator version, one entry per split
    <out>/<split>/shard-00000/samples.jsonl  one Sample per line (tasks.synth.samples)
    <out>/<split>/shard-00000/images/*.png   the screenshots those samples refer to

Contract:
- ``ShardWriter`` takes one page's screens and samples at a time (a page never straddles two
  shards, so every sample's image lies in its own shard), starts a new shard once the current one
  holds ``max_samples`` samples, and returns a ``ShardInfo`` per shard with SHA-256 digests of
  ``samples.jsonl`` and of the image set. Writing is deterministic: the same pages in the same
  order give byte-identical ``samples.jsonl`` files.
- ``write_manifest`` records one split and keeps the entries of other splits already in the
  folder, so train and held-out data can share one ``<out>``.
- ``iter_samples`` reads lazily, shard by shard and line by line; with ``verify`` it checks each
  shard's digest, each line against the ``Sample`` schema, and each image's presence and pixel size
  (from the PNG header), and raises ``DatasetError`` naming the file and line at the first problem.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image
from pydantic import BaseModel, ConfigDict, ValidationError

from tasks.synth.samples import Sample, Screen

FORMAT = "gaze-synth/1"
MANIFEST = "manifest.json"
SAMPLES = "samples.jsonl"


class DatasetError(Exception):
    """A generated dataset that does not match its manifest or schema."""


class ShardInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str  # relative to the dataset root, e.g. "train/shard-00000"
    samples: int
    images: int
    samples_sha256: str  # of samples.jsonl
    images_sha256: str  # of "name sha256" lines, one per image, sorted by name


class SplitInfo(BaseModel):
    """How one split was generated and what it holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    split: str
    seed: int
    pages: int  # pages attempted
    kinds: tuple[str, ...]
    samples: int
    counts: dict[str, int]  # samples per kind ("alignment", "demo")
    tasks: dict[str, int]  # samples per task (read_at_point, ..., login, tabs, ...)
    demos: dict[str, int]  # successful demonstrations per goal kind
    dropped: dict[str, int]  # pages that gave no samples, by reason
    templates: tuple[str, ...]  # page templates of this split
    vocabulary: str  # fingerprint of this split's word lists (tasks.synth.vocab)
    heldout_every: int  # one word in this many is held out
    phrases: float = 0.0  # share of typed values drawn as two-word phrases (--phrases)
    # share of form fields shown holding a value (--prefill); a manifest without it: 0.25, the
    # share every earlier generator version drew (pages.PREFILL_SHARE)
    prefill: float = 0.25
    viewports: tuple[tuple[int, int], ...]
    dprs: tuple[float, ...]
    chromium: str
    shards: tuple[ShardInfo, ...]


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    format: str = FORMAT
    generator_version: str
    splits: dict[str, SplitInfo]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG header, or None if the file is not a PNG."""
    with path.open("rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    w, h = struct.unpack(">II", head[16:24])
    return w, h


class ShardWriter:
    """Writes ``<root>/<split>/shard-NNNNN`` folders; see the module contract."""

    def __init__(self, root: Path, split: str, *, max_samples: int) -> None:
        self.base = root / split
        self.split = split
        self.max_samples = max_samples
        self.shards: list[ShardInfo] = []
        self._dir: Path | None = None
        self._lines: list[str] = []
        self._images: dict[str, str] = {}
        if self.base.exists():
            shutil.rmtree(self.base)

    def add(self, screens: Sequence[Screen], samples: Sequence[Sample]) -> None:
        """One page's screens and samples (samples may only use these screens)."""
        if not samples:
            return
        if self._dir is None:
            self._dir = self.base / f"shard-{len(self.shards):05d}"
            (self._dir / "images").mkdir(parents=True)
        names = {s.image_path for s in screens}
        for s in samples:
            if s.image not in names:
                raise ValueError(
                    f"sample {s.id} refers to {s.image}, which is not among its screens"
                )
        used = {s.image for s in samples}
        for screen in screens:
            if screen.image_path in used and screen.image_path not in self._images:
                (self._dir / screen.image_path).write_bytes(screen.png)
                self._images[screen.image_path] = hashlib.sha256(screen.png).hexdigest()
        self._lines.extend(s.model_dump_json() + "\n" for s in samples)
        if len(self._lines) >= self.max_samples:
            self._close_shard()

    def _close_shard(self) -> None:
        if self._dir is None:
            return
        path = self._dir / SAMPLES
        path.write_text("".join(self._lines), encoding="utf-8")
        index = "".join(f"{name} {digest}\n" for name, digest in sorted(self._images.items()))
        self.shards.append(
            ShardInfo(
                path=self._dir.relative_to(self.base.parent).as_posix(),
                samples=len(self._lines),
                images=len(self._images),
                samples_sha256=_sha256(path),
                images_sha256=hashlib.sha256(index.encode()).hexdigest(),
            )
        )
        self._dir, self._lines, self._images = None, [], {}

    def close(self) -> tuple[ShardInfo, ...]:
        self._close_shard()
        return tuple(self.shards)


def read_manifest(root: Path) -> Manifest:
    path = root / MANIFEST
    try:
        return Manifest.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{path}: no manifest; is this a generated dataset?") from None
    except ValidationError as e:
        raise DatasetError(f"{path}: {e.errors()[0]['loc']}: {e.errors()[0]['msg']}") from None


def write_manifest(root: Path, info: SplitInfo, *, generator_version: str) -> Manifest:
    """Record ``info`` in ``<root>/manifest.json``, keeping the other splits' entries."""
    splits: dict[str, SplitInfo] = {}
    if (root / MANIFEST).exists():
        old = read_manifest(root)
        if old.generator_version == generator_version:
            splits = {k: v for k, v in old.splits.items() if k != info.split}
    splits[info.split] = info
    manifest = Manifest(generator_version=generator_version, splits=dict(sorted(splits.items())))
    text = json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n"
    (root / MANIFEST).write_text(text, encoding="utf-8")
    return manifest


@dataclass(frozen=True)
class LoadedSample:
    """A sample and the absolute path of its image (opened only on ``image()``)."""

    sample: Sample
    image_path: Path

    def image(self) -> Image.Image:
        img = Image.open(self.image_path)
        img.load()
        return img


def _shard_samples(root: Path, shard: ShardInfo, *, verify: bool) -> Iterator[LoadedSample]:
    folder = root / shard.path
    path = folder / SAMPLES
    if not path.exists():
        raise DatasetError(f"{path}: missing (listed in the manifest)")
    if verify and _sha256(path) != shard.samples_sha256:
        raise DatasetError(f"{path}: SHA-256 differs from the manifest; the shard was changed")
    n = 0
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                sample = Sample.model_validate_json(line)
            except ValidationError as e:
                err = e.errors()[0]
                loc = ".".join(str(p) for p in err["loc"])
                raise DatasetError(f"{path}:{n}: {loc}: {err['msg']}") from None
            image = folder / sample.image
            if verify:
                if not image.exists():
                    raise DatasetError(f"{path}:{n}: image {sample.image} is missing")
                size = png_size(image)
                if size != (sample.image_w, sample.image_h):
                    raise DatasetError(
                        f"{path}:{n}: {sample.image} is {size}, the sample says "
                        f"{(sample.image_w, sample.image_h)}"
                    )
            yield LoadedSample(sample, image)
    if verify and n != shard.samples:
        raise DatasetError(f"{path}: {n} samples, the manifest says {shard.samples}")


def iter_samples(
    root: Path, split: str | None = None, *, verify: bool = True
) -> Iterator[LoadedSample]:
    """Every sample of ``split`` (or of all splits), lazily; see the module contract."""
    manifest = read_manifest(root)
    if split is not None and split not in manifest.splits:
        have = ", ".join(manifest.splits) or "none"
        raise DatasetError(f"{root / MANIFEST}: no split {split!r} (have: {have})")
    for name, info in manifest.splits.items():
        if split is None or name == split:
            for shard in info.shards:
                yield from _shard_samples(root, shard, verify=verify)
