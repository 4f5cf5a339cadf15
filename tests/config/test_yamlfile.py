"""sentinet.config.yamlfile: what yaml.safe_load would accept silently (a key twice, an alias
bomb, an endless alias) refused first, and every problem one line naming where."""

from __future__ import annotations

import os

import pytest

from sentinet.config import yamlfile
from sentinet.config.yamlfile import MAX_CONFIG_BYTES, YAMLSyntaxError, load_yaml, parse_yaml, read_yaml
from sentinet.errors import SentinetError


def test_plain_yaml_loads_as_safe_load_reads_it():
    assert load_yaml("") is None
    assert load_yaml("a: 1\nb: [x, 2.5]\n") == {"a": 1, "b": ["x", 2.5]}
    # keys of different types are different keys: 1 (an int) and '1' (a string)
    assert load_yaml("1: a\n'1': b\n") == {1: "a", "1": "b"}


def test_a_key_given_twice_is_refused_with_both_lines_at_any_depth():
    with pytest.raises(SentinetError, match=r"^key 'a' is given twice \(lines 1 and 3\); keep one$"):
        load_yaml("a: 1\nb: 2\na: 3\n")
    with pytest.raises(SentinetError, match=r"^key 'y' is given twice \(lines 3 and 4\)"):
        load_yaml("x:\n  - z: 0\n  - y: 1\n    y: 2\n")
    with pytest.raises(SentinetError, match=r"^key 'k' is given twice \(lines 1 and 1\)"):
        load_yaml("{k: 1, k: 2}")
    long = "k" * 100
    with pytest.raises(SentinetError) as caught:
        load_yaml(f"{long}: 1\n{long}: 2\n")
    assert f"key {'k' * 60!r} is given twice" in str(caught.value)  # a long key is cut to 60


def test_merge_keys_and_shared_aliases_stay_allowed():
    text = "base: &b {x: 1}\nmore: &c {y: 2}\nm:\n  <<: *b\n  <<: *c\nn: *b\n"
    assert load_yaml(text) == {"base": {"x": 1}, "more": {"y": 2}, "m": {"x": 1, "y": 2}, "n": {"x": 1}}


def test_aliases_are_counted_expanded_up_to_the_limit():
    """Each level refers ten times to the one before: 10, 110, 1,110... values expanded."""
    def levels(n: int) -> str:
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, n)]
        return "\n".join(lines) + "\n"

    assert len(load_yaml(levels(4))["a3"]) == 10  # about 12,000 values: a config may do that
    with pytest.raises(SentinetError, match=r"^its aliases \(\*name\) expand to more than 100,000 values: refused"):
        load_yaml(levels(5))  # about 123,000


def test_an_alias_inside_its_own_value_is_refused_not_walked_forever():
    for text in ("a: &a [*a]\n", "a: &a {b: [1, {c: *a}]}\n"):
        with pytest.raises(SentinetError, match=r"^an alias \(\*name\) inside the value it names \(&name\) "
                                                r"makes an endless value: refused$"):
            load_yaml(text)


def test_parse_yaml_names_where_and_keeps_syntax_errors_apart():
    with pytest.raises(YAMLSyntaxError, match=r"^--set a: found character '@' that cannot start any token "
                                              r"at line 1, column 4$"):
        parse_yaml("a: @", "--set a")
    with pytest.raises(YAMLSyntaxError, match=r"^f\.yaml: .* at line 2, column 1$"):
        parse_yaml("a: [1,\n", "f.yaml")
    # refusals of valid YAML are not syntax errors: a --set value must not fall back to a string
    with pytest.raises(SentinetError) as caught:
        parse_yaml("a: 1\na: 2\n", "W")
    assert not isinstance(caught.value, YAMLSyntaxError)
    assert str(caught.value) == "W: key 'a' is given twice (lines 1 and 2); keep one"
    with pytest.raises(SentinetError, match=r"^W: nested too deep to be a config$") as caught:
        parse_yaml("[" * 800 + "]" * 800, "W")  # about two frames a level: past Python's 1,000
    assert not isinstance(caught.value, YAMLSyntaxError)


def test_parse_yaml_bounds_the_text_before_reading_it(monkeypatch):
    with pytest.raises(SentinetError, match=r"^W: 1,000,001 characters is no config \(the limit is 1,000,000\)$"):
        parse_yaml("#" * (MAX_CONFIG_BYTES + 1), "W")
    monkeypatch.setattr(yamlfile, "MAX_CONFIG_BYTES", 100)
    assert parse_yaml("# " + "x" * 98, "W") is None  # at the limit: read
    with pytest.raises(SentinetError, match=r"^W: 101 characters is no config \(the limit is 100\)$"):
        parse_yaml("# " + "x" * 99, "W")


def test_read_yaml_returns_the_top_level_mapping(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  epochs: 3\n", encoding="utf-8")
    assert read_yaml(path) == {"train": {"epochs": 3}}
    path.write_text("# only a comment\n", encoding="utf-8")
    assert read_yaml(path) == {}  # an empty config is no sections, not None


def test_read_yaml_refusals_name_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    with pytest.raises(SentinetError, match=rf"^{path}: config file not found$"):
        read_yaml(path)
    for text in ("- a\n- b\n", "just text\n", "3\n"):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(SentinetError, match=rf"^{path}: the top level must be a mapping of sections$"):
            read_yaml(path)
    path.write_text("a: 1\na: 2\n", encoding="utf-8")
    with pytest.raises(SentinetError, match=rf"^{path}: key 'a' is given twice"):
        read_yaml(path)
    path.write_bytes(b"a: \xff\n")
    with pytest.raises(SentinetError, match=rf"^{path}: not valid UTF-8 \(byte 3\)$"):
        read_yaml(path)


def test_read_yaml_refuses_a_fifo_without_blocking_on_it(tmp_path):
    fifo = tmp_path / "c.yaml"
    os.mkfifo(fifo)  # nobody writes: opening it to read would wait forever
    with pytest.raises(SentinetError, match=rf"^{fifo}: is a FIFO, not a file sentinet reads$"):
        read_yaml(fifo)
