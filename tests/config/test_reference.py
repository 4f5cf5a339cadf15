"""sentinet.config.reference: the config key reference generated from the dataclasses and
their comments (docs/CONFIG.md is compared with it in tests/stories/test_newcomer.py)."""

from __future__ import annotations

import dataclasses
import re

from sentinet.config.encoders import ENCODERS
from sentinet.config.fields import bounded, choice
from sentinet.config.reference import _rows, _yaml, field_comments, reference_markdown
from sentinet.config.schema import Config


@dataclasses.dataclass
class Sample:
    """A sample section.

    Its second paragraph is not the summary.
    """

    # above the field,
    # on two lines
    plain: int = 3  # and at its end
    bare: str = "x"

    # a comment cut off from the next field by a blank line

    after_blank: bool = True
    mode: str = choice("a", "b")  # pick | one
    sizes: list[int] = bounded([1], ge=1)
    rate: float | None = bounded(None, gt=0, le=1)

    def method(self) -> int:
        inside: int = 4  # a method's own lines are no fields
        return inside


def test_field_comments_joins_the_lines_above_and_the_end_of_line_comment():
    comments = field_comments(Sample)
    assert comments["plain"] == "above the field, on two lines and at its end"
    assert comments["bare"] == ""
    assert comments["after_blank"] == ""  # a blank line ends a comment block
    assert comments["mode"] == "pick | one"
    assert "inside" not in comments


def test_rows_show_type_default_choices_and_range():
    rows = {row.split(" | ")[0].strip("| `"): row for row in _rows(Sample, "s.")}
    assert rows["s.plain"] == "| `s.plain` | int | `3` | above the field, on two lines and at its end |"
    assert rows["s.mode"] == "| `s.mode` | str | `a` | one of `a`, `b`. pick / one |"  # | cannot split a cell
    assert rows["s.sizes"] == "| `s.sizes` | list[int] | `[1]` | allowed: each ≥ 1. |"
    assert rows["s.rate"] == "| `s.rate` | float \\| None | `null` | allowed: > 0 and ≤ 1 or null. |"
    assert list(rows) == ["s.plain", "s.bare", "s.after_blank", "s.mode", "s.sizes", "s.rate"]
    assert [r for r in _rows(Sample, "s.", skip=("bare",)) if "s.bare" in r] == []


def test_defaults_are_written_as_yaml():
    assert [_yaml(v) for v in (None, "", "x", 1, 0.5, [3, 4, 5], True, "yes", "a: b")] == \
        ["null", "''", "x", "1", "0.5", "[3, 4, 5]", "true", "'yes'", "'a: b'"]


def _all_keys(cls: type, prefix: str) -> list[str]:
    keys = []
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default is dataclasses.MISSING and \
            f.default_factory is not dataclasses.MISSING else f.default
        if dataclasses.is_dataclass(default) and type(default).__module__ == "sentinet.config.schema":
            keys += _all_keys(type(default), f"{prefix}{f.name}.")
        elif f"{prefix}{f.name}" != "model.encoder":
            keys.append(f"{prefix}{f.name}")
    return keys


def test_the_reference_lists_every_config_key_once():
    text = reference_markdown()
    listed = re.findall(r"^\| `([\w.]+)` \|", text, re.MULTILINE)
    sections = [k for k in listed if not k.startswith("model.encoder.")]
    assert sorted(sections) == sorted(_all_keys(Config, ""))
    assert len(sections) == len(set(sections))


def test_the_reference_groups_encoders_that_share_their_options():
    text = reference_markdown()
    assert "### `name`: `rnn`, `lstm`, `gru`" in text
    assert "### `name`: `cnn`" in text and "### `name`: `sru`" in text
    headings = re.findall(r"^### `name`: (.*)$", text, re.MULTILINE)
    assert sorted(n for h in headings for n in re.findall(r"`(\w+)`", h)) == sorted(ENCODERS)
    assert "`model.encoder.name`" not in text  # name picks the table, it is no row of its own
    assert "| `model.encoder.widths` | list[int] | `[3, 4, 5]` |" in text


def test_the_reference_is_tidy_markdown():
    text = reference_markdown()
    assert text.startswith("# Config reference\n")
    assert "\n\n\n" not in text
    assert all(line == line.rstrip() for line in text.splitlines())
    for row in (line for line in text.splitlines() if line.startswith("| `")):
        assert len(re.split(r"(?<!\\)\|", row)) == 6, row  # four cells: no stray | splits one


def test_a_comment_above_one_field_stays_with_that_field() -> None:
    """multichannel's text once swallowed head_max_norm's: each row says its own field only."""
    rows = {line.split("|")[1].strip(): line for line in reference_markdown().splitlines() if line.startswith("| `")}
    assert "L2 norm" in rows["`model.head_max_norm`"] and "L2 norm" not in rows["`model.multichannel`"]
    assert "trainable copy" in rows["`model.multichannel`"]
