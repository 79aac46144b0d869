"""perception.builtin.soup: the blend of two exports is exact at its ends and the mean between."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from perception.builtin.model import GazeVLM
from perception.builtin.soup import SoupError, blend, main
from perception.builtin.train import PRESETS
from perception.builtin.weights import export, load

TINY = PRESETS["tiny"].model


def _model(seed: int) -> GazeVLM:
    torch.manual_seed(seed)
    m = GazeVLM(TINY)
    with torch.no_grad():  # zero-initialised heads too: every tensor differs between seeds
        for p in m.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return m.eval()


def test_blend_is_each_model_at_its_end_and_the_mean_between() -> None:
    a, b = _model(0), _model(1)
    sa, sb = a.state_dict(), b.state_dict()
    for alpha, want in ((0.0, sa), (1.0, sb)):
        got = blend(a, b, alpha).state_dict()
        assert all(torch.equal(got[k], want[k]) for k in sa)
    mid = blend(a, b, 0.5).state_dict()
    k = next(k for k, v in sa.items() if v.is_floating_point() and not torch.equal(v, sb[k]))
    assert torch.allclose(mid[k], (sa[k] + sb[k]) / 2)
    assert not torch.equal(mid[k], sa[k])
    assert all(torch.equal(a.state_dict()[k], sa[k]) for k in sa)  # the inputs are untouched


def test_other_configs_and_alphas_are_refused() -> None:
    other = GazeVLM(TINY.model_copy(update={"span_page": not TINY.span_page}))
    with pytest.raises(SoupError, match="span_page"):
        blend(_model(0), other, 0.5)
    with pytest.raises(SoupError, match="alpha"):
        blend(_model(0), _model(1), 1.5)


def test_a_decoding_only_field_may_differ_and_the_blend_takes_the_tuned_ones() -> None:
    a = _model(0)
    b = GazeVLM(TINY.model_copy(update={"answer_pointer": not TINY.answer_pointer}))
    b.load_state_dict(_model(1).state_dict())
    for base, tuned in ((a, b), (b, a)):
        out = blend(base, tuned, 0.5)
        assert out.config == tuned.config
        k = next(k for k, v in a.state_dict().items() if v.is_floating_point())
        want = (a.state_dict()[k] + b.state_dict()[k]) / 2
        assert torch.allclose(out.state_dict()[k], want)


def test_main_writes_an_export_that_loads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export(_model(0), tmp_path / "a")
    export(_model(1), tmp_path / "b")
    assert (
        main(
            [
                str(tmp_path / "a"),
                str(tmp_path / "b"),
                "--alpha",
                "0.25",
                "--out",
                str(tmp_path / "c"),
            ]
        )
        == 0
    )
    a, b, c = (load(tmp_path / n).state_dict() for n in "abc")
    k = next(k for k, v in a.items() if not torch.equal(v, b[k]))
    assert torch.allclose(c[k], 0.75 * a[k] + 0.25 * b[k], atol=1e-2, rtol=1e-2)  # stored as bf16
    assert main([str(tmp_path / "a"), str(tmp_path / "nowhere"), "--out", str(tmp_path / "d")]) == 2
    assert "missing" in capsys.readouterr().err
    argv = [
        str(tmp_path / "a"),
        str(tmp_path / "b"),
        "--keep",
        "verb.",
        "--out",
        str(tmp_path / "e"),
    ]
    assert main(argv) == 0
    e = load(tmp_path / "e").state_dict()
    assert all(torch.equal(e[k], a[k]) for k in a if k.startswith("verb."))
    assert "verb. kept from" in capsys.readouterr().out
    assert main([*argv[:3], "nothing.", *argv[4:]]) == 2
    assert "'nothing.'" in capsys.readouterr().err


def test_kept_prefixes_stay_the_base_and_an_unknown_prefix_is_refused() -> None:
    a, b = _model(0), _model(1)
    sa, sb = a.state_dict(), b.state_dict()
    got = blend(a, b, 0.5, keep=["verb."]).state_dict()
    kept = [k for k in sa if k.startswith("verb.")]
    assert kept
    assert all(torch.equal(got[k], sa[k]) for k in kept)
    k = next(k for k, v in sa.items() if v.is_floating_point() and not k.startswith("verb."))
    assert torch.allclose(got[k], (sa[k] + sb[k]) / 2)
    with pytest.raises(SoupError, match="'verbb\\.'"):
        blend(a, b, 0.5, keep=["verbb."])
