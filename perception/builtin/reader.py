"""The built-in model's reading aid: words and their boxes, read from pixels by a pretrained OCR.

Contract:
- ``read_words(image)`` returns the ``Word``s drawn in a PIL image (text, box in that image's px,
  recognition score), top-to-bottom. It only looks at pixels: PP-OCRv4 detection + recognition
  (ONNX, shipped inside the ``rapidocr-onnxruntime`` package, installed by ``make setup``) reads text
  lines, and each line is cut into words at spaces using the recogniser's per-character boxes.
- Results are cached by image content (an LRU of 64): an agent that sees the same screen twice, or
  tiles one screenshot, reads it once. Below that, recognised text lines are cached by their
  pixels (an LRU of ``LINE_CACHE_SIZE``): the next step's screen differs from the last one in a few
  lines (a typed field, an opened menu), so only those are recognised again; detection runs on
  every new screen. ``clear_cache()`` empties both.
- A missing package is ``ReaderUnavailable`` naming the install command; any other OCR failure
  returns no words (the model can still point at image patches) rather than failing the step.

Why OCR: a 3 M-parameter model trained for an hour on two CPU cores does not learn to read
(docs/BUILTIN.md, run 2: 13.6% held-out clicks). PP-OCR is one of the registry packages that ship
pretrained weights, which the issue allows for parts of the built-in model; the model's own layers
still decide which word (or which patch) the goal refers to.
"""

from __future__ import annotations

import copy
import hashlib
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import Image

CACHE_SIZE = 64
LINE_CACHE_SIZE = 2048
INK = 48  # grey levels from the background that count as a line's ink (its cache key)
MAX_SIDE = 2000  # the detector's input is at most this many px on its long side
# The recogniser reads each text line alone at its own width (48 px high, at least REC_MIN_WIDTH
# wide). rapidocr's default pads every line of a batch to the widest one and to at least 320 px:
# its cost grows with the padded width, so the demo shop page's 52 lines cost 1.8x the pixels,
# and the padding made it miss spaces ("Booknow", "AccountID"). docs/BUILTIN.md "OCR speed".
REC_MIN_WIDTH = 48
REC_HEIGHT = 48  # the PP-OCRv4 recogniser's input height


class ReaderUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class Word:
    text: str
    x: float  # box in image px
    y: float
    w: float
    h: float
    score: float
    # a control outline's drawn state (perception.builtin.proposals.control_on): 1.0 for a tick
    # box, radio button or switch drawn on, else 0.0 (words the OCR read are never controls)
    on: float = 0.0

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def contains(self, x: float, y: float, margin: float = 0.0) -> bool:
        """Whether (x, y) lies in the box, its edges and ``margin`` px around it included."""
        return (
            self.x - margin <= x <= self.x + self.w + margin
            and self.y - margin <= y <= self.y + self.h + margin
        )

    def to_json(self) -> list[object]:
        return [self.text, round(self.x, 1), round(self.y, 1), round(self.w, 1), round(self.h, 1),
                round(self.score, 3)]  # fmt: skip

    @classmethod
    def from_json(cls, row: list[Any]) -> Word:
        text, x, y, w, h, score = row
        return cls(str(text), float(x), float(y), float(w), float(h), float(score))


_lock = threading.Lock()
_engine: Any = None
_threads = -1  # onnxruntime's default: every core
_cache: OrderedDict[str, list[Word]] = OrderedDict()
_lines: OrderedDict[bytes, Any] = OrderedDict()


def _line_key(crop: Any, return_word_box: bool) -> bytes:
    """A text-line crop's cache key: the pixels of its ink (what differs from the crop's border
    colour by more than ``INK``), so that the detector framing the same line a pixel wider on the
    next screen still finds it."""
    import numpy as np

    ink = ink_mask(crop)
    if ink.any():
        ys, xs = np.nonzero(ink)
        crop = crop[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    digest = hashlib.blake2b(np.ascontiguousarray(crop).tobytes(), digest_size=16).digest()
    return digest + repr((crop.shape, return_word_box)).encode()


def ink_mask(crop: Any) -> Any:
    """Which pixels of ``crop`` (an (H, W, 3) or (H, W) uint8 array) differ from the median grey
    of its border by more than ``INK``: its text's glyphs, on a line or a button."""
    import numpy as np

    grey = crop.astype(np.int16).mean(axis=2) if crop.ndim == 3 else crop.astype(np.int16)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return np.abs(grey - np.median(border)) > INK


class _LineCache:
    """rapidocr's recogniser, asked only about text lines it has not seen: results are the
    recogniser's own (text, score, per-character boxes relative to the crop), keyed by the line's
    ink (``_line_key``). Recognising the other lines is what a step saves: most of the OCR's time.
    A line found again a pixel off gets its old per-character boxes, a pixel off.
    New lines are recognised one per call, widest first, on ``workers`` threads that each run the
    one-thread ONNX session: a text line is too small for onnxruntime to split one run over two
    cores well (the shop page's 52 lines: 0.85 s on one run at a time with 2 threads, 0.49 s as
    two runs at a time with 1 thread each)."""

    def __init__(self, recognise: Any, workers: int) -> None:
        self.recognise = recognise
        self.workers = workers

    def _one(self, crop: Any, return_word_box: bool) -> tuple[Any, float]:
        got, elapsed = self.recognise([crop], return_word_box)
        return got[0], elapsed

    def __call__(self, crops: Any, return_word_box: bool = False) -> tuple[list[Any], float]:
        keys = [_line_key(c, return_word_box) for c in crops]
        todo = sorted(  # one call per new line (duplicates once), the widest first
            {k: i for i, k in enumerate(keys) if k not in _lines}.values(),
            key=lambda i: (-crops[i].shape[1] / max(1, crops[i].shape[0]), i),
        )
        elapsed = 0.0
        if todo:
            if self.workers > 1 and len(todo) > 1:
                with ThreadPoolExecutor(min(self.workers, len(todo))) as pool:
                    got = list(pool.map(lambda i: self._one(crops[i], return_word_box), todo))
            else:
                got = [self._one(crops[i], return_word_box) for i in todo]
            for i, (res, took) in zip(todo, got, strict=True):
                _lines[keys[i]] = res
                elapsed += took
        out = [copy.deepcopy(_lines[k]) for k in keys]
        for k in keys:
            _lines.move_to_end(k)
        while len(_lines) > LINE_CACHE_SIZE:
            _lines.popitem(last=False)
        return out, elapsed


def set_threads(n: int) -> None:
    """CPU threads of the OCR (before its first use); one per process suits a pool of readers."""
    global _threads, _engine
    _threads, _engine = n, None


def _get_engine() -> Any:
    global _engine
    if _engine is None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as e:
            raise ReaderUnavailable(
                f"the built-in model reads text with PP-OCR but cannot import it ({e}); "
                "install it with `pip install rapidocr-onnxruntime==1.4.4` (make setup does)"
            ) from None
        _engine = RapidOCR(rec_batch_num=1, rec_img_shape=[3, REC_HEIGHT, REC_MIN_WIDTH])
        cores = _threads if _threads > 0 else (os.cpu_count() or 1)
        det, rec = _engine.text_det.infer, _engine.text_rec.session  # rapidocr's names
        det.session = _session(det.session._model_path, cores)
        rec.session = _session(rec.session._model_path, 1)
        _engine.text_rec = _LineCache(_engine.text_rec, workers=cores)
    return _engine


def _session(model_path: str, threads: int) -> Any:
    """An ONNX session for one of rapidocr's models, replacing the one rapidocr opened: its
    ``threads`` sleep when a run ends. onnxruntime's threads spin for a while after each run by
    default, and the built-in model's torch threads, which run right after the OCR on the same
    cores, lost ~40 ms a step to them (docs/BUILTIN.md "OCR speed")."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 4
    opts.enable_cpu_mem_arena = False  # as rapidocr: an arena keeps every line width's buffers
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model_path, sess_options=opts, providers=["CPUExecutionProvider"])


def words_from_line(
    box: list[list[float]], text: str, char_boxes: tuple[Any, Any] | None, score: float
) -> list[Word]:
    """One recognised line -> its words. ``char_boxes`` are rapidocr's per-character (quads,
    characters), or None: the line is one word. Spaces split words; punctuation stays with its
    word."""
    xs = [p[0] for p in box]
    ys = [p[1] for p in box]
    line = Word(text.strip(), min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys), score)
    if not char_boxes or len(char_boxes[0]) != len(char_boxes[1]):
        return [line] if line.text else []
    quads, chars = char_boxes[0], char_boxes[1]
    words: list[Word] = []
    cur: list[tuple[str, list[list[float]]]] = []

    def flush() -> None:
        if not cur:
            return
        qx = [p[0] for _, q in cur for p in q]
        x0, x1 = min(qx), max(qx)
        words.append(Word("".join(c for c, _ in cur), x0, line.y, max(1.0, x1 - x0), line.h, score))
        cur.clear()

    for ch, quad in zip(chars, quads, strict=True):
        if ch.isspace():
            flush()
        else:
            cur.append((ch, quad))
    flush()
    return words


def _read_uncached(image: Image.Image) -> list[Word]:
    import numpy as np

    engine = _get_engine()
    rgb = image.convert("RGB")
    engine.text_det.limit_type = "max"
    engine.text_det.limit_side_len = min(MAX_SIDE, max(rgb.width, rgb.height, 64))
    try:
        result, _ = engine(np.asarray(rgb), use_cls=False, return_word_box=True)
    except Exception:  # an unreadable image is "no words", not a failed step
        return []
    words: list[Word] = []
    for row in result or []:
        box, text, score = row[0], str(row[1]), float(row[2])
        chars = (row[3], row[4]) if len(row) > 4 else None
        words.extend(words_from_line(box, text, chars, score))
    words.sort(key=reading_order)
    return words


def reading_order(w: Word) -> tuple[int, float]:
    """The order ``read_words`` returns words in: by 8 px bands top to bottom, then left to right."""
    return round(w.y / 8), w.x


def recognise(crops: list[Any]) -> list[tuple[str, float]]:
    """The recogniser alone on image crops (each an (H, W, 3) uint8 RGB array holding one line
    or caption): (text, score) for each, through the line cache. Any OCR failure reads as
    ("", 0.0) for every crop."""
    with _lock:
        try:
            got, _ = _get_engine().text_rec(crops, False)
        except ReaderUnavailable:
            raise
        except Exception:
            return [("", 0.0)] * len(crops)
    return [(str(g[0]), float(g[1])) for g in got]


def to_css(image: Image.Image, scale: float) -> Image.Image:
    """An RGB copy at 1 px per CSS px (``scale``: image px per CSS px), which is what is read."""
    rgb = image.convert("RGB")
    if abs(scale - 1.0) <= 1e-6:
        return rgb
    size = (max(1, round(rgb.width / scale)), max(1, round(rgb.height / scale)))
    return rgb.resize(size, Image.Resampling.LANCZOS)


def clear_cache(*, lines: bool = True) -> None:
    """Forget the screens read so far, and (``lines``) the text lines recognised so far."""
    with _lock:
        _cache.clear()
        if lines:
            _lines.clear()


def read_words(image: Image.Image) -> list[Word]:
    key = hashlib.blake2b(image.tobytes(), digest_size=16).hexdigest() + f"{image.size}"
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
        words = _read_uncached(image)
        _cache[key] = words
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return words
