import dataclasses
import math
import re
import typing
from pathlib import Path

import pytest
import yaml

from sentinet.config.schema import Config, apply_overrides, from_dict, load_config
from sentinet.config.paths import resolve_path
from sentinet.config.fields import Range
from sentinet.config.encoders import ENCODER_OPTIONS
from sentinet.errors import SentinetError
from sentinet.config.encoders import RecurrentOptions


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_nested_values(tmp_path):
    cfg = load_config(write(tmp_path, "model:\n  encoder:\n    name: lstm\n    hidden_size: 64\n"), None)
    assert isinstance(cfg.model.encoder, RecurrentOptions)
    assert (cfg.model.encoder.name, cfg.model.encoder.hidden_size) == ("lstm", 64)
    assert cfg.train.optimizer.name == "adam" and cfg.run.name == "c"


def test_all_shipped_configs_load():
    configs = sorted(Path(__file__).resolve().parents[2].glob("configs/*.yaml"))
    assert configs
    for path in configs:
        assert isinstance(load_config(path, None), Config)


def test_unknown_key_names_it_and_suggests(tmp_path):
    with pytest.raises(SentinetError, match=r"unknown config key 'train\.epoch' \(did you mean 'epochs'\?\)"):
        load_config(write(tmp_path, "train:\n  epoch: 3\n"), None)
    with pytest.raises(SentinetError, match=r"'model\.encoder\.hiden_size'.*'hidden_size'"):
        load_config(write(tmp_path, "model:\n  encoder: {name: gru, hiden_size: 3}\n"), None)
    with pytest.raises(SentinetError, match=r"unknown config key 'tokeniser'.*'tokenizer'"):
        load_config(write(tmp_path, "tokeniser: {}\n"), None)


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
        load_config(write(tmp_path, "train:\n  epochs: @\n"), None)
    with pytest.raises(SentinetError, match="not found"):
        load_config(tmp_path / "missing.yaml", None)


def test_apply_override_creates_sections():
    raw: dict = {}
    apply_overrides(raw, ["model.encoder.name=lstm"])
    assert raw == {"model": {"encoder": {"name": "lstm"}}}


def test_relative_paths_resolve_against_env(tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINET_DATA", str(tmp_path))
    assert resolve_path("a/b.xml", "SENTINET_DATA") == (tmp_path / "a/b.xml").resolve()
    assert resolve_path("/abs/x.xml", "SENTINET_DATA") == Path("/abs/x.xml")
    monkeypatch.chdir(tmp_path / "..")
    assert resolve_path("./here/v.bin", "SENTINET_DATA") == (tmp_path / ".." / "here/v.bin").resolve()


# --------------------------------------------------------------------------------------
# Number ranges: every number field declares one (bounded), and the loader enforces it


def _sections(cls: type, prefix: str, select: dict) -> list[tuple[str, type, dict]]:
    """(dotted prefix, dataclass, keys that select it) for every config section and every
    encoder's options, so a future section or encoder is covered without a change here."""
    from sentinet.config.fields import EncoderOptions
    from sentinet.config.encoders import ENCODERS

    found = [(prefix, cls, select)]
    for name, hint in typing.get_type_hints(cls).items():
        if hint is EncoderOptions:
            found += [(f"{prefix}encoder.", spec.options, {"name": encoder})
                      for encoder, spec in ENCODERS.items()]
        elif dataclasses.is_dataclass(hint):
            found += _sections(hint, f"{prefix}{name}.", {})
    return found


def _number_type(hint) -> type | None:
    """int or float wherever the hint holds one (X | None, list[X], str | list[X]); bool is no
    number, nor is int | str (a label: any value)."""
    if hint in (int, float):
        return hint
    if {int, str} <= set(typing.get_args(hint)):
        return None
    return next(filter(None, map(_number_type, typing.get_args(hint))), None)


def _holds_list(hint) -> bool:
    return typing.get_origin(hint) is list or any(map(_holds_list, typing.get_args(hint)))


def _number_fields() -> list[tuple[str, dict, dataclasses.Field, type, bool]]:
    """(dotted key, encoder selection, field, int or float, list of them?) per number field."""
    out = []
    for prefix, cls, select in _sections(Config, "", {}):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = _number_type(hints[f.name])
            if kind is not None:
                out.append((prefix + f.name, select, f, kind, _holds_list(hints[f.name])))
    return out


def _raw(key: str, select: dict, value) -> dict:
    """The raw config dict that sets dotted ``key`` (and the encoder's name where needed)."""
    *path, last = key.split(".")
    raw: dict = {}
    node = raw
    for part in path:
        node = node.setdefault(part, {})
    node.update(select)
    node[last] = value
    return raw


def _outside(bounds: Range, kind: type) -> list:
    """Values just outside each declared bound (and the non-finite floats)."""
    step = 1 if kind is int else 1e-6
    values = [b for b in (bounds.gt, bounds.lt) if b is not None]
    values += [bounds.ge - step] if bounds.ge is not None else []
    values += [bounds.le + step] if bounds.le is not None else []
    return values if kind is int else [*values, math.nan, math.inf]


NUMBER_FIELDS = _number_fields()
IDS = [f"{key}-{select['name']}" if select else key for key, select, *_ in NUMBER_FIELDS]


def test_every_number_field_declares_its_range():
    assert len(NUMBER_FIELDS) > 30  # the walk reached every section and the encoders' options
    missing = [key for key, _, f, _, _ in NUMBER_FIELDS if not isinstance(f.metadata.get("range"), Range)]
    assert not missing, f"declare the allowed range with bounded(...) for: {missing}"


@pytest.mark.parametrize("key, select, f, kind, is_list", NUMBER_FIELDS, ids=IDS)
def test_values_outside_the_declared_range_are_refused(key, select, f, kind, is_list):
    bounds = f.metadata["range"]
    where = f"{key}[0]" if is_list else key
    for value in _outside(bounds, kind):
        with pytest.raises(SentinetError, match=rf"^{re.escape(where)}: .*must be {re.escape(str(bounds))}"):
            from_dict(_raw(key, select, [value] if is_list else value))


def _inside(bounds: Range, kind: type) -> list:
    """The inclusive bounds themselves and one value well inside the range."""
    low = bounds.ge if bounds.ge is not None else bounds.gt
    high = bounds.le if bounds.le is not None else bounds.lt
    bounded_both = low is not None and high is not None
    middle = (low + high) / 2 if bounded_both else (low or 0) + 2  # 2, not 1: data.folds may not be 1
    return [b for b in (bounds.ge, bounds.le) if b is not None] + [int(middle) if kind is int else middle]


@pytest.mark.parametrize("key, select, f, kind, is_list", NUMBER_FIELDS, ids=IDS)
def test_values_inside_the_declared_range_are_accepted(key, select, f, kind, is_list):
    for value in _inside(f.metadata["range"], kind):
        given = [value] * (3 if key == "train.class_weights" else 1) if is_list else value
        section = from_dict(_raw(key, select, given))
        for part in key.split("."):
            section = getattr(section, part)
        assert section == given


def test_yaml_and_set_meet_one_rule(tmp_path):
    """The issue's examples, from a YAML file and from --set: the same one-line message."""
    cases = {"train.batch_size": (0, "train.batch_size: 0 must be ≥ 1 and ≤ 1000000"),
             "train.clip_grad_norm": (-1, "train.clip_grad_norm: -1.0 must be ≥ 0 or null"),
             "model.head_dropout": (1.5, "model.head_dropout: 1.5 must be ≥ 0 and < 1"),
             "vectors.word2vec.window": (0, "vectors.word2vec.window: 0 must be ≥ 1 and ≤ 1000"),
             "model.encoder.hidden_size": (10**11, "model.encoder.hidden_size: 100000000000 must be ≥ 1 and ≤ 4096")}
    for key, (value, message) in cases.items():
        with pytest.raises(SentinetError) as from_yaml:
            load_config(write(tmp_path, yaml.safe_dump(_raw(key, {}, value))), None)
        with pytest.raises(SentinetError) as from_set:
            load_config(write(tmp_path, ""), [f"{key}={value}"])
        assert str(from_yaml.value) == str(from_set.value) == message


def test_null_and_zero_keep_their_meaning():
    """null switches clipping, thread count and unfreezing off; clip_grad_norm 0 is off too
    (the training loop clips only when it is non-zero), so both stay accepted."""
    cfg = from_dict({"train": {"clip_grad_norm": None, "num_threads": None},
                     "vectors": {"unfreeze_epoch": None}})
    assert (cfg.train.clip_grad_norm, cfg.train.num_threads, cfg.vectors.unfreeze_epoch) == (None, None, None)
    assert from_dict({"train": {"clip_grad_norm": 0}}).train.clip_grad_norm == 0
    for key in ("train.patience", "train.epochs", "train.num_threads", "vectors.unfreeze_epoch"):
        with pytest.raises(SentinetError, match=rf"^{re.escape(key)}: 0 must be ≥ 1"):
            from_dict(_raw(key, {}, 0))


def test_a_config_without_a_model_section_gets_the_default_encoders_options(tmp_path):
    """A minimal config (data + vectors) once built a bare EncoderOptions, and training failed
    with "'EncoderOptions' object has no attribute 'hidden_size'"."""
    for raw in ({"data": {"train": "x.xml"}}, {"model": {"embedding_dropout": 0.1}}):
        encoder = from_dict(raw).model.encoder
        assert encoder == ENCODER_OPTIONS["gru"]()
        assert encoder.hidden_size == 128


def test_yaml_that_would_be_silently_wrong_or_explode_is_refused(tmp_path):
    """A key given twice (YAML keeps the last), an alias bomb (1 KB → 10^9 values), a file
    too big to be a config and nesting too deep: each one line naming the file."""
    with pytest.raises(SentinetError, match=r"key 'epochs' is given twice \(lines 2 and 3\)"):
        load_config(write(tmp_path, "train:\n  epochs: 3\n  epochs: 5\n"), None)
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    bomb += [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 10)}]" for i in range(8)]
    path = write(tmp_path, "\n".join(bomb) + "\n")
    assert path.stat().st_size < 1000
    with pytest.raises(SentinetError, match="expand to more than 100,000 values"):
        load_config(path, None)
    shared = load_config(write(tmp_path, "model: {head_dropout: &d 0.25}\ntrain: {label_smoothing: *d}\n"),
                         None)
    assert shared.train.label_smoothing == 0.25  # an alias or two still works
    with pytest.raises(SentinetError, match="bytes is no config"):
        load_config(write(tmp_path, "# " + "x" * 1_000_001 + "\n"), None)
    with pytest.raises(SentinetError, match="nested too deep|line"):
        load_config(write(tmp_path, "[" * 5000 + "]" * 5000 + "\n"), None)
