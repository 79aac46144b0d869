"""Training data sources (perception.builtin.sources): the ``DIR[:weight=W][:width=A-B]`` spec
that says how much of each dataset's train split joins the pool, and its errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from perception.builtin.sources import DataSource, SourceError


@pytest.mark.parametrize(
    ("spec", "weight", "lo", "hi"),
    [
        ("/d/g1", 1.0, None, None),
        ("/d/g1:weight=0.25", 0.25, None, None),
        ("/d/g1:width=-400", 1.0, None, 400),
        ("/d/g1:weight=2:width=401-", 2.0, 401, None),
        ("/d/g1:width=300-800:weight=1.5", 1.5, 300, 800),
        ("/d/a:b/g1:weight=3", 3.0, None, None),  # a colon in the folder name stays
    ],
)
def test_specs_parse_and_write_back(
    spec: str, weight: float, lo: int | None, hi: int | None
) -> None:
    s = DataSource.parse(spec)
    assert (s.weight, s.min_width, s.max_width) == (weight, lo, hi)
    assert s.path == Path(spec.split(":weight")[0].split(":width")[0])
    assert DataSource.parse(str(s)) == s
    assert str(s) == str(s.path) + s.options


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("/d/g1:weight=0", "greater than 0"),
        ("/d/g1:weight=-1", "greater than 0"),
        ("/d/g1:weight=lots", "weight='lots' is not a number"),
        ("/d/g1:width=400", "width='400' is not A-B"),
        ("/d/g1:width=-", "width='-' is not A-B"),
        ("/d/g1:width=800-400", "800-400 keeps nothing"),
        ("/d/g1:weight=1:weight=2", "weight= given twice"),
        (":weight=2", "no folder"),
    ],
)
def test_bad_specs_name_the_part(spec: str, says: str) -> None:
    with pytest.raises(SourceError, match=r"data source .*" + says.replace("(", r"\(")) as e:
        DataSource.parse(spec)
    assert spec in str(e.value)


def test_widths_keep_the_pages_between_their_bounds() -> None:
    narrow = DataSource.parse("/d:width=-400")
    wide = DataSource.parse("/d:width=401-")
    band = DataSource.parse("/d:width=300-500")
    for w in (160, 400, 401, 1280):
        assert narrow.keeps(w) == (w <= 400)
        assert wide.keeps(w) == (w > 400)
        assert band.keeps(w) == (300 <= w <= 500)
        assert DataSource.parse("/d").keeps(w)


def test_weight_lists_whole_copies_then_a_seeded_share() -> None:
    pool = list(range(40))
    assert DataSource.parse("/d").weighted(pool, 0) == pool
    twice = DataSource.parse("/d:weight=2").weighted(pool, 0)
    assert sorted(twice) == sorted(pool * 2)
    quarter = DataSource.parse("/d:weight=0.25").weighted(pool, 0)
    assert len(quarter) == 10 and len(set(quarter)) == 10 and set(quarter) <= set(pool)
    assert DataSource.parse("/d:weight=0.25").weighted(pool, 0) == quarter  # same seed, same list
    assert DataSource.parse("/d:weight=0.25").weighted(pool, 1) != quarter
    more = DataSource.parse("/d:weight=1.5").weighted(pool, 0)
    assert len(more) == 60 and set(more) == set(pool)
    assert DataSource.parse("/d:weight=0.25").weighted([], 0) == []


def test_gaze_train_refuses_a_bad_source_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from perception.builtin.train import main

    out = tmp_path / "run"
    code = main(["--out", str(out), "--preset", "tiny", "--extra-data", "/d/g1:weight=0"])
    assert code == 2
    assert "data source '/d/g1:weight=0': weight: Input should be greater than 0" in (
        capsys.readouterr().err
    )
    assert not out.exists()
    code = main(["--out", str(out), "--preset", "tiny", "--data", "/d/f:width=9-1"])
    assert code == 2 and "width 9-1 keeps nothing" in capsys.readouterr().err
