"""The one Markdown table renderer (``report --md``, ``tune``'s trials.md), and the one
mean ± std summary of a group's member scores."""

from __future__ import annotations

import statistics
from collections.abc import Sequence


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-style table; a ``|`` inside a cell is escaped so it cannot split the cell."""
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "---|" * len(header), *(line(r) for r in rows)])


def mean_std(values: Sequence[float]) -> dict:
    """{"mean", "std"} of members' scores (std 0 for a single one), as metrics.json keeps them."""
    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
