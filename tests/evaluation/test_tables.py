"""sentinet.evaluation.tables: the one Markdown table renderer and the mean ± std summary."""

from __future__ import annotations

import pytest

from sentinet.evaluation.tables import markdown_table, mean_std


def test_a_table_has_a_header_a_rule_and_a_line_per_row():
    assert markdown_table(["run", "F"], [["gru", "0.51"], ["cnn", "0.48"]]) == (
        "| run | F |\n|---|---|\n| gru | 0.51 |\n| cnn | 0.48 |")
    assert markdown_table(["a"], []) == "| a |\n|---|"


def test_cells_are_made_text_and_a_pipe_cannot_split_one():
    table = markdown_table(["name", "n"], [["a|b", 3], [None, 0.5]])
    assert table.splitlines()[2:] == ["| a\\|b | 3 |", "| None | 0.5 |"]
    assert markdown_table(["x|y"], []).startswith("| x\\|y |")


def test_mean_std_of_members():
    summary = mean_std([0.5, 0.7])
    assert summary["mean"] == pytest.approx(0.6)
    assert summary["std"] == pytest.approx(0.1414213562)  # the sample std (n - 1), as statistics.stdev
    assert mean_std([0.42]) == {"mean": 0.42, "std": 0.0}  # a single member has no spread
    assert mean_std([1, 1, 1]) == {"mean": 1, "std": 0.0}
    with pytest.raises(Exception):
        mean_std([])
