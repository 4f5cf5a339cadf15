from pathlib import Path

import pytest

from sentinet.config import Config, apply_override, from_dict, load_config, resolve_path
from sentinet.errors import SentinetError
from sentinet.models.recurrent import RecurrentOptions


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_nested_values(tmp_path):
    cfg = load_config(write(tmp_path, "model:\n  encoder:\n    name: lstm\n    hidden_size: 64\n"))
    assert isinstance(cfg.model.encoder, RecurrentOptions)
    assert (cfg.model.encoder.name, cfg.model.encoder.hidden_size) == ("lstm", 64)
    assert cfg.train.optimizer.name == "adam" and cfg.run.name == "c"


def test_all_shipped_configs_load():
    configs = sorted(Path(__file__).resolve().parents[1].glob("configs/*.yaml"))
    assert configs
    for path in configs:
        assert isinstance(load_config(path), Config)


def test_unknown_key_names_it_and_suggests(tmp_path):
    with pytest.raises(SentinetError, match=r"unknown config key 'train\.epoch' \(did you mean 'epochs'\?\)"):
        load_config(write(tmp_path, "train:\n  epoch: 3\n"))
    with pytest.raises(SentinetError, match=r"'model\.encoder\.hiden_size'.*'hidden_size'"):
        load_config(write(tmp_path, "model:\n  encoder: {name: gru, hiden_size: 3}\n"))
    with pytest.raises(SentinetError, match=r"unknown config key 'tokeniser'.*'tokenizer'"):
        load_config(write(tmp_path, "tokeniser: {}\n"))


def test_overrides_are_typed(tmp_path):
    path = write(tmp_path, "model:\n  encoder: gru\n")
    cfg = load_config(path, ["train.epochs=3", "model.encoder.hidden_size=32",
                             "train.optimizer.lr=5e-4", "vectors.freeze=false", "train.device=cuda:1"])
    assert cfg.train.epochs == 3 and cfg.model.encoder.hidden_size == 32
    assert cfg.train.optimizer.lr == pytest.approx(5e-4) and cfg.vectors.freeze is False
    assert cfg.train.device == "cuda:1"
    with pytest.raises(SentinetError, match=r"train\.epochs: expected int, got 'many'"):
        load_config(path, ["train.epochs=many"])
    with pytest.raises(SentinetError, match=r"unknown config key 'train\.epocs'"):
        load_config(path, ["train.epocs=3"])
    with pytest.raises(SentinetError, match="expected KEY=VALUE"):
        load_config(path, ["train.epochs"])


def test_choices_and_encoder_names_are_checked():
    with pytest.raises(SentinetError, match=r"data\.conflict_policy: 'majorty' is not one of .*did you mean 'majority'"):
        from_dict({"data": {"conflict_policy": "majorty"}})
    with pytest.raises(SentinetError, match=r"unknown encoder 'gruu' \(did you mean 'gru'\?\)"):
        from_dict({"model": {"encoder": {"name": "gruu"}}})
    with pytest.raises(SentinetError, match="pooling"):
        from_dict({"model": {"encoder": {"name": "gru", "pooling": "median"}}})


def test_bad_yaml_says_where(tmp_path):
    with pytest.raises(SentinetError, match="line 2, column 11"):
        load_config(write(tmp_path, "train:\n  epochs: @\n"))
    with pytest.raises(SentinetError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_apply_override_creates_sections():
    raw: dict = {}
    apply_override(raw, "model.encoder.name=lstm")
    assert raw == {"model": {"encoder": {"name": "lstm"}}}


def test_relative_paths_resolve_against_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINET_DATA", str(tmp_path))
    assert resolve_path("a/b.xml", "SENTINET_DATA") == (tmp_path / "a/b.xml").resolve()
    assert resolve_path("/abs/x.xml", "SENTINET_DATA") == Path("/abs/x.xml")
    monkeypatch.chdir(tmp_path / "..")
    assert resolve_path("./here/v.bin", "SENTINET_DATA") == (tmp_path / ".." / "here/v.bin").resolve()
