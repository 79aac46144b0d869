"""Which datasets' train splits make the training pool, and how much of each.

Contract:
- A source is written ``PATH[:weight=W][:width=A-B]`` (``gaze train --data`` and each
  ``--extra-data``): ``PATH`` a generated dataset folder (``tasks.synth``); ``weight`` (> 0,
  default 1) scales the source's share of the pool: 2 lists each sample twice, 0.25 keeps a
  seeded quarter of them; ``width`` keeps only samples whose page's viewport is ``A`` to ``B``
  CSS px wide (``A-``: at least A, ``-B``: at most B), e.g. the widget-sized screens of a set
  that also holds full pages.
- ``DataSource.parse(spec)`` raises ``SourceError`` naming the bad part; ``str(source)`` writes
  the spec back (``parse(str(s)) == s``).
- ``DataSource.weighted(pool, seed)`` applies the weight to a list of samples the width already
  kept (``keeps``): the same seed gives the same list.

Without this, a pool's make-up was whatever the datasets' sizes made it, and a run could only
change it by copying folders (docs/BUILTIN.md "Runs 29-30").
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

T = TypeVar("T")
_OPTION = re.compile(r"^(weight|width)=(.*)$")
_WIDTH = re.compile(r"^(\d*)-(\d*)$")


class SourceError(ValueError):
    """A data source spec that does not parse."""


class DataSource(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    path: Path
    weight: float = Field(1.0, gt=0)
    min_width: int | None = Field(None, ge=0)
    max_width: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _widths_in_order(self) -> DataSource:
        lo, hi = self.min_width, self.max_width
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"width {lo}-{hi} keeps nothing")
        return self

    @classmethod
    def parse(cls, spec: str) -> DataSource:
        parts = spec.split(":")
        opts: dict[str, str] = {}
        while len(parts) > 1 and (m := _OPTION.match(parts[-1])):
            if m[1] in opts:
                raise SourceError(f"data source {spec!r}: {m[1]}= given twice")
            opts[m[1]] = m[2]
            parts.pop()
        path = ":".join(parts)
        if not path:
            raise SourceError(f"data source {spec!r}: no folder")
        fields: dict[str, object] = {"path": path}
        if "weight" in opts:
            try:
                fields["weight"] = float(opts["weight"])
            except ValueError:
                raise SourceError(
                    f"data source {spec!r}: weight={opts['weight']!r} is not a number"
                ) from None
        if "width" in opts:
            w = _WIDTH.match(opts["width"])
            if not w or not (w[1] or w[2]):
                raise SourceError(
                    f"data source {spec!r}: width={opts['width']!r} is not A-B, A- or -B (CSS px)"
                )
            fields["min_width"] = int(w[1]) if w[1] else None
            fields["max_width"] = int(w[2]) if w[2] else None
        try:
            return cls.model_validate(fields)
        except ValidationError as e:
            msg = "; ".join(
                f"{'.'.join(map(str, d['loc'])) or 'width'}: {d['msg']}" for d in e.errors()
            )
            raise SourceError(f"data source {spec!r}: {msg}") from None

    def __str__(self) -> str:
        out = str(self.path)
        if self.weight != 1.0:
            out += f":weight={self.weight:g}"
        if self.min_width is not None or self.max_width is not None:
            lo = "" if self.min_width is None else str(self.min_width)
            hi = "" if self.max_width is None else str(self.max_width)
            out += f":width={lo}-{hi}"
        return out

    @property
    def options(self) -> str:
        """The spec without the folder: ``':weight=0.25:width=-400'`` or ``''``."""
        return str(self)[len(str(self.path)) :]

    def keeps(self, viewport_w: int) -> bool:
        """Whether a sample from a page this wide is in the source."""
        if self.min_width is not None and viewport_w < self.min_width:
            return False
        return self.max_width is None or viewport_w <= self.max_width

    def weighted(self, pool: Sequence[T], seed: int) -> list[T]:
        """``pool`` listed ``weight`` times: whole copies, then a seeded sample of the rest."""
        whole = int(self.weight)
        part = round((self.weight - whole) * len(pool))
        out = list(pool) * whole
        if part:
            out += random.Random(f"{seed}:{self.path}").sample(list(pool), part)
        return out
