"""sentinet.config.fields: ranges, choices, coercion of one value, and the words of its errors."""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime

import pytest

from sentinet.config.fields import (
    EncoderOptions, Range, bounded, check_range, choice, coerce, join_key, number_text, suggest_name,
    unknown_key,
)
from sentinet.errors import SentinetError


def test_a_range_holds_its_inclusive_bounds_and_never_nan():
    closed, open_ = Range(ge=1, le=4), Range(gt=0, lt=1)
    assert [x in closed for x in (0.999, 1, 4, 4.001)] == [False, True, True, False]
    assert [x in open_ for x in (0, 1e-9, 0.999, 1)] == [False, True, True, False]
    assert all(math.nan not in r for r in (closed, open_, Range(ge=0), Range(lt=0)))  # any one bound
    assert math.inf in Range() and math.inf not in Range(le=10**9)


def test_a_range_reads_as_a_person_writes_it():
    assert str(Range(ge=1, le=4096)) == "≥ 1 and ≤ 4096"
    assert str(Range(gt=0, lt=1)) == "> 0 and < 1"
    assert str(Range(ge=1e-6)) == "≥ 1e-06"
    assert str(Range()) == ""
    assert [number_text(x) for x in (1, 0.5, 1e-06, 2.0, 1e20)] == ["1", "0.5", "1e-06", "2", "1e+20"]


def test_bounded_and_choice_declare_their_rules_in_the_metadata():
    @dataclasses.dataclass
    class Section:
        sizes: list[int] = bounded([3, 4], ge=1)
        rate: float = bounded(0.5, gt=0, lt=1)
        mode: str = choice("fast", "slow", "off")

    fields = {f.name: f for f in dataclasses.fields(Section)}
    assert fields["sizes"].metadata["range"] == Range(ge=1)
    assert fields["rate"].metadata["range"] == Range(gt=0, lt=1)
    assert fields["mode"].metadata["choices"] == ("fast", "slow", "off")  # the default comes first
    one, two = Section(), Section()
    one.sizes.append(5)
    assert two.sizes == [3, 4]  # a list default is copied per instance, never shared
    assert (two.rate, two.mode) == (0.5, "fast")
    assert EncoderOptions().name == "gru"


def test_check_range_refuses_numbers_outside_and_lets_everything_else_through():
    bounds = Range(ge=0)
    for value in (0, 3, 2.5, None, "balanced", True, False, [-1]):  # only plain numbers are checked
        check_range(value, bounds, "train.x", "")
    with pytest.raises(SentinetError, match=r"^train\.x: -1 must be ≥ 0$"):
        check_range(-1, bounds, "train.x", "")
    with pytest.raises(SentinetError, match=r"^train\.x: -0\.5 must be ≥ 0 or null$"):
        check_range(-0.5, bounds, "train.x", " or null")
    for value in (math.inf, -math.inf, math.nan):
        with pytest.raises(SentinetError, match=rf"^train\.x: {value} is not a finite number; it must be ≥ 0 or null$"):
            check_range(value, bounds, "train.x", " or null")


@pytest.mark.parametrize("hint, value, expected", [
    (int, 3, 3),
    (float, 2, 2.0),
    (float, "5e-4", 5e-4),  # PyYAML reads 5e-4 (no dot) as a string
    (str, 3, "3"),
    (str, 1.5, "1.5"),
    (str, date(2014, 7, 1), "2014-07-01"),  # YAML reads an unquoted date as a date
    (str, datetime(2014, 7, 1, 12, 30), "2014-07-01T12:30:00"),
    (bool, False, False),
    (int | None, None, None),
    (float | None, "1e3", 1000.0),
    (list[int], 3, [3]),  # a single value where a list is expected becomes a list of one
    (list[float], [1, "2e-1"], [1.0, 0.2]),
    (str | list[str], "a.xml", "a.xml"),
    (list[int | str], [1, "speech"], [1, "speech"]),
    (dict, {"a": 1}, {"a": 1}),  # a hint coerce does not know is passed through
])
def test_coerce_accepts_and_converts(hint, value, expected):
    result = coerce(hint, value, "k")
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("hint, value, message", [
    (int, True, "k: expected int, got True"),  # a bool is no number, although Python says so
    (int, 2.5, "k: expected int, got 2.5"),
    (float, "fast", "k: expected float, got 'fast'"),
    (float, False, "k: expected float, got False"),
    (bool, 1, "k: expected bool, got 1"),
    (bool, "yes", "k: expected bool, got 'yes'"),
    (str, None, "k: expected str, got None"),
    (str, True, "k: expected str, got True"),
    (list[int], {"a": 1}, "k: expected a list, got {'a': 1}"),
    (list[int], [1, "x"], "k[1]: expected int, got 'x'"),  # the item at fault is named
    (list[int], True, "k: expected a list, got True"),
    (int | None, "x", "k: expected int, got 'x'"),
    (float | str, None, "k: expected float, got None"),  # null only where the hint allows it
])
def test_coerce_refuses_with_one_line_naming_the_key(hint, value, message):
    with pytest.raises(SentinetError) as caught:
        coerce(hint, value, "k")
    assert str(caught.value) == message


def test_unknown_keys_are_named_in_full_with_a_suggestion_or_the_valid_ones():
    assert unknown_key("epoch", "train", ["epochs", "patience"]) == \
        "unknown config key 'train.epoch' (did you mean 'epochs'?)"
    assert unknown_key("zzz", "", ["data", "model"]) == "unknown config key 'zzz' (valid: data, model)"
    assert suggest_name("lstn", ["gru", "lstm", "cnn"]) == " (did you mean 'lstm'?)"
    assert suggest_name("q", []) == " (valid: )"
    assert join_key("", "data") == "data" and join_key("model.encoder", "name") == "model.encoder.name"
