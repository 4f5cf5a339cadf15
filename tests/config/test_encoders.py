"""sentinet.config.encoders: the encoder registry and the options each encoder takes."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import sentinet
from sentinet.config.encoders import (
    ENCODER_OPTIONS, ENCODERS, MAX_UNITS, CNNOptions, RecurrentOptions, SRUOptions,
)
from sentinet.config.fields import EncoderOptions, Range
from sentinet.errors import SentinetError

MODELS = Path(sentinet.__file__).parent / "models"


def test_the_registry_names_every_encoder_once_with_its_options():
    assert sorted(ENCODERS) == ["cnn", "gru", "lstm", "rnn", "sru"]
    assert ENCODER_OPTIONS == {name: spec.options for name, spec in ENCODERS.items()}
    assert ENCODER_OPTIONS["cnn"] is CNNOptions and ENCODER_OPTIONS["sru"] is SRUOptions
    assert {ENCODER_OPTIONS[n] for n in ("rnn", "lstm", "gru")} == {RecurrentOptions}
    # the three torch recurrent cells share one class, told apart by the cell name it is given
    assert [ENCODERS[n].args for n in ("rnn", "lstm", "gru")] == [("rnn",), ("lstm",), ("gru",)]
    assert ENCODERS["cnn"].args == ENCODERS["sru"].args == ()


@pytest.mark.parametrize("name", sorted(ENCODERS))
def test_every_builder_names_a_class_that_exists_under_sentinet_models(name):
    """Read without importing (torch): "module:Class" must be a class in that module's file."""
    module, _, cls = ENCODERS[name].builder.partition(":")
    path = MODELS.joinpath(*module.split(".")).with_suffix(".py")
    assert path.is_file(), path
    classes = {node.name for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
               if isinstance(node, ast.ClassDef)}
    assert cls in classes


@pytest.mark.parametrize("options", sorted(set(ENCODER_OPTIONS.values()), key=lambda c: c.__name__))
def test_every_options_class_builds_from_its_defaults_alone(options):
    assert issubclass(options, EncoderOptions) and dataclasses.is_dataclass(options)
    built = options()
    assert built.name == "gru"  # the base's default; the config sets the name it picked
    for f in dataclasses.fields(options):
        assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING, f.name


def test_recurrent_and_sru_defaults():
    assert dataclasses.asdict(RecurrentOptions()) == {
        "name": "gru", "hidden_size": 128, "num_layers": 1, "bidirectional": True, "dropout": 0.0,
        "pooling": "max"}
    sru = SRUOptions()
    assert isinstance(sru, RecurrentOptions)
    assert sru.num_layers == 2 and sru.hidden_size == 128  # cheaper layers: two by default, the rest inherited
    pooling = next(f for f in dataclasses.fields(SRUOptions) if f.name == "pooling")
    assert pooling.metadata["choices"] == ("max", "last", "mean")


def test_cnn_options_need_a_filter_width():
    assert CNNOptions().widths == [3, 4, 5] and CNNOptions().filters == 100
    assert CNNOptions(widths=[2]).widths == [2]
    with pytest.raises(SentinetError, match=r"^model\.encoder\.widths: \[\] must hold at least one filter width$"):
        CNNOptions(widths=[])


def test_sizes_are_bounded_far_below_what_a_typo_would_allocate():
    ranges = {f.name: f.metadata.get("range") for cls in (CNNOptions, RecurrentOptions)
              for f in dataclasses.fields(cls)}
    assert ranges["hidden_size"] == ranges["filters"] == Range(ge=1, le=MAX_UNITS)
    assert ranges["dropout"] == Range(ge=0, lt=1)
    assert 10**11 not in ranges["hidden_size"]
