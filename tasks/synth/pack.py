"""Moving generated datasets to another machine (a lent GPU) in size-capped, pixel-exact packs.

    python -m tasks.synth.pack pack --out DIR --max-mb 50 DATA [DATA ...]
    python -m tasks.synth.pack unpack PACK.tar.xz [PACK.tar.xz ...] --dest DIR

Contract:
- ``pack`` writes ``DIR/pack-000.tar.xz``, ``pack-001.tar.xz``, ... each about ``max_bytes`` at
  most (estimated as it is written). Inside, every dataset is the folder named after it: its
  manifest, samples and OCR words (all in the first pack, they compress ~15x) and its screenshots
  as lossless WebP (the same pixels as the PNGs, ~3x smaller on generated pages). Only
  screenshots the OCR has read (listed in a shard's ``words.jsonl``) travel unless ``all_images``:
  the trainer's ``--read-only-cached`` would leave the others out anyway. Datasets fill the packs
  in the order given, so the first packs hold the first datasets whole.
- ``unpack`` extracts into ``dest`` and writes each WebP back as PNG; then each shard's
  ``words.jsonl`` lists only the screenshots present (the packed list is kept as
  ``words.packed.jsonl``), so a trainer given ``--read-only-cached`` uses what arrived and
  nothing that did not. Unpacking the packs one at a time works; each widens the set.
- Needs Pillow only (no Playwright, no torch): a bare GPU machine can unpack.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tarfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from PIL import Image

from perception.builtin.ocr_cache import WORDS, load_words, shard_dirs

PACKED = "words.packed.jsonl"
META_SUFFIXES = (".json", ".jsonl")


def _images(root: Path, all_images: bool) -> Iterator[Path]:
    for shard in shard_dirs(root):
        if all_images:
            yield from sorted((shard / "images").glob("*.png"))
        else:  # the screenshots the OCR has read
            yield from (shard / rel for rel in sorted(load_words(shard)))


def _webp(path: Path) -> bytes:
    with Image.open(path) as im:
        buf = io.BytesIO()
        im.save(buf, format="WEBP", lossless=True, quality=50, method=4)
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def pack(
    datasets: Sequence[Path],
    out: Path,
    *,
    max_bytes: int = 50_000_000,
    all_images: bool = False,
    workers: int = 2,
) -> list[Path]:
    """Write the packs (see the module contract); returns their paths."""
    names = [d.resolve().name for d in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"datasets need distinct folder names, got {names}")
    out.mkdir(parents=True, exist_ok=True)
    packs: list[Path] = []
    tar: tarfile.TarFile | None = None
    used = 0

    def start() -> tarfile.TarFile:
        packs.append(out / f"pack-{len(packs):03d}.tar.xz")
        return tarfile.open(packs[-1], "w:xz", preset=0)

    tar = start()
    for name, root in zip(names, datasets, strict=True):
        for f in sorted(root.rglob("*")):
            if f.is_file() and f.suffix in META_SUFFIXES:
                data = f.read_bytes()
                _add(tar, f"{name}/{f.relative_to(root)}", data)
                used += len(data) // 10  # xz shrinks text ~10-15x
    with ProcessPoolExecutor(max(1, workers)) as pool:
        for root, name in zip(datasets, names, strict=True):
            images = list(_images(root, all_images))
            for img, data in zip(images, pool.map(_webp, images, chunksize=16), strict=True):
                if used and used + len(data) > max_bytes:
                    tar.close()
                    tar, used = start(), 0
                rel = img.relative_to(root).with_suffix(".webp")
                _add(tar, f"{name}/{rel}", data)
                used += len(data) + 1024
    tar.close()
    return packs


def _png(path: Path) -> None:
    with Image.open(path) as im:
        im.save(path.with_suffix(".png"), format="PNG", compress_level=1)
    os.remove(path)


def unpack(packs: Sequence[Path], dest: Path, *, workers: int | None = None) -> int:
    """Extract ``packs`` into ``dest`` (see the module contract); returns the images written."""
    dest.mkdir(parents=True, exist_ok=True)
    for p in packs:
        with tarfile.open(p) as tar:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4: no paths outside dest
                tar.extractall(dest, filter="data")
            else:
                tar.extractall(dest)
    webps = sorted(dest.rglob("*.webp"))
    with ProcessPoolExecutor(workers or os.cpu_count() or 1) as pool:
        list(pool.map(_png, webps, chunksize=32))
    for shard in shard_dirs(dest):
        words, packed = shard / WORDS, shard / PACKED
        if words.is_file() and not packed.is_file():
            os.replace(words, packed)
        if packed.is_file():
            keep = [
                line
                for line in packed.read_text(encoding="utf-8").splitlines()
                if line.strip() and _present(shard, line)
            ]
            words.write_text("".join(f"{line}\n" for line in keep), encoding="utf-8")
    return len(webps)


def _present(shard: Path, line: str) -> bool:
    try:
        return (shard / json.loads(line)["image"]).is_file()
    except (json.JSONDecodeError, KeyError, TypeError):
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tasks.synth.pack", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack", help="datasets -> size-capped packs")
    p.add_argument("datasets", type=Path, nargs="+")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--max-mb", type=float, default=50.0, help="size cap of one pack (10^6 bytes)")
    p.add_argument(
        "--all-images", action="store_true", help="also screenshots the OCR has not read"
    )
    p.add_argument("--workers", type=int, default=2)
    u = sub.add_parser("unpack", help="packs -> datasets with PNG screenshots")
    u.add_argument("packs", type=Path, nargs="+")
    u.add_argument("--dest", type=Path, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "pack":
        missing = [str(d) for d in args.datasets if not (d / "manifest.json").is_file()]
        if missing:
            print(f"error: not a dataset (no manifest.json): {', '.join(missing)}", file=sys.stderr)
            return 2
        for path in pack(
            args.datasets,
            args.out,
            max_bytes=int(args.max_mb * 1e6),
            all_images=args.all_images,
            workers=args.workers,
        ):
            print(f"{path}  {path.stat().st_size / 1e6:.1f} MB")
        return 0
    n = unpack(args.packs, args.dest)
    print(f"{n} screenshots unpacked into {args.dest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
