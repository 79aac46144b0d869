"""--model specs pick the right backend and profile, and refuse to guess a coordinate space."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.models import ModelSpecError, load_model
from perception.model import ScriptedModel
from perception.profiles import PROFILES, profile_for_model


def test_scripted_spec(tmp_path: Path) -> None:
    f = tmp_path / "r.txt"
    f.write_text("click(1, 2)\n---\n\ndone()\n")
    model, prof = load_model(f"scripted:{f}")
    assert isinstance(model, ScriptedModel) and prof.name == "gaze"
    _, prof = load_model(f"scripted:{f}", "uitars-1.5")
    assert prof.name == "uitars-1.5"
    f.write_text("---\n")
    with pytest.raises(ModelSpecError, match="no replies"):
        load_model(f"scripted:{f}")


@pytest.mark.parametrize(
    ("model_id", "profile"),
    [
        ("ByteDance-Seed/UI-TARS-1.5-7B", "uitars-1.5"),
        ("bytedance-research/UI-TARS-7B-DPO", "uitars-1.0"),
        ("Qwen/Qwen2.5-VL-7B-Instruct", "qwen2.5-vl"),
        ("showlab/ShowUI-2B", "showui"),
        ("OS-Copilot/OS-Atlas-Base-7B", "grounding-1000"),
        ("osunlp/UGround-V1-7B", "grounding-1000"),
    ],
)
def test_profiles_from_model_ids(model_id: str, profile: str) -> None:
    found = profile_for_model(model_id)
    assert found is not None and found.name == profile


def test_unknown_model_ids_match_nothing() -> None:
    assert profile_for_model("my-finetune-v3") is None


def folder(tmp_path: Path, name: str, config: dict[str, object]) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps(config))
    return d


def test_folder_profile_comes_from_name_then_model_type(tmp_path: Path) -> None:
    # no weights in these folders: the backend refuses to load, after the profile was chosen
    d = folder(tmp_path, "UI-TARS-1.5-7B", {"model_type": "qwen2_5_vl"})
    with pytest.raises(ModelSpecError) as e:
        load_model(str(d))
    assert "--profile" not in str(e.value)  # it got past profile selection
    d = folder(tmp_path, "my-model", {"model_type": "llava"})
    with pytest.raises(ModelSpecError, match="--profile"):
        load_model(str(d))


def test_no_spec_is_the_shipped_builtin_model(monkeypatch: pytest.MonkeyPatch) -> None:
    model, prof = load_model(None)
    assert prof.name == "gaze-builtin" and model.name.startswith("builtin")
    monkeypatch.setattr("perception.builtin.shipped", lambda folder=None: False)
    with pytest.raises(ModelSpecError, match="--model"):  # a checkout without the weights
        load_model(None)


def test_bad_specs_explain_themselves(tmp_path: Path) -> None:
    with pytest.raises(ModelSpecError, match="not a folder"):
        load_model(str(tmp_path / "nope"))
    with pytest.raises(ModelSpecError, match=r"config\.json"):
        load_model(str(tmp_path))
    script = tmp_path / "r.txt"
    script.write_text("done()")
    with pytest.raises(ModelSpecError, match="unknown profile"):
        load_model(f"scripted:{script}", "no-such-profile")


def test_openai_spec_picks_profile_from_served_name() -> None:
    model, prof = load_model("openai:http://127.0.0.1:9/v1#ui-tars-1.5-7b")
    assert prof.name == "uitars-1.5" and "127.0.0.1:9" in model.name
    with pytest.raises(ModelSpecError, match="--profile"):
        load_model("openai:http://127.0.0.1:9/v1#mystery")
    _, prof = load_model("openai:http://127.0.0.1:9/v1#mystery", "qwen2.5-vl")
    assert prof.name == "qwen2.5-vl"
    with pytest.raises(ModelSpecError):
        load_model("openai:ftp://x#y")


def test_every_profile_states_its_space() -> None:
    for p in PROFILES.values():
        assert p.space in ("pixels", "rel1000", "rel1")
        assert "{action_space}" in p.system_prompt
