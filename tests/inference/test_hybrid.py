"""sentinet.inference.hybrid: the blend's arithmetic, the dev choice of the network's share,
and reading a hybrid run's files (a run without them is the network alone)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sentinet.errors import SentinetError
from sentinet.inference.hybrid import GRID, blend, choose_weight, load_blend
from sentinet.labels import LabelSet

CLASSES = LabelSet.of([-1, 0, 1])


def gold_of(labels: list[int]) -> list[dict]:
    return [{"bank": label} for label in labels]


def test_blend_is_the_weighted_average_and_rows_still_sum_to_one():
    rng = np.random.default_rng(0)
    neural, linear = rng.dirichlet(np.ones(3), 20), rng.dirichlet(np.ones(3), 20)
    for weight in (0.0, 0.3, 0.5, 1.0):
        mixed = blend(neural.astype(np.float32), linear, weight)
        np.testing.assert_allclose(mixed, weight * neural + (1 - weight) * linear, atol=1e-6)
        np.testing.assert_allclose(mixed.sum(axis=1), 1.0, atol=1e-6)


def one_hot(labels: list[int], sharp: float) -> np.ndarray:
    rows = np.full((len(labels), 3), (1 - sharp) / 2)
    rows[np.arange(len(labels)), [CLASSES.values.index(label) for label in labels]] = sharp
    return rows


def test_the_chosen_share_is_the_grid_best():
    """The network is sure and wrong on the first 2 records and the linear part fairly sure and
    right; elsewhere the network is right and the linear part unsure and wrong: only the
    smallest network share gets every record right."""
    gold = [-1, 1, 0, 0, 1, -1]
    wrong = [1, -1]
    neural = np.vstack([one_hot(wrong, 0.9), one_hot(gold[2:], 0.9)])
    linear = np.vstack([one_hot(gold[:2], 0.7), one_hot([1, 0, -1, 0], 0.4)])
    weight, grid = choose_weight(neural, linear, gold_of(gold), CLASSES, "macro_f1")
    assert [row["neural_weight"] for row in grid] == list(GRID)
    best = max(row["score"] for row in grid)
    by_share = {row["neural_weight"]: row["score"] for row in grid}
    assert weight == 0.3 and by_share[0.3] == best == pytest.approx(1.0)
    assert all(score < best for share, score in by_share.items() if share > 0.3)


def test_a_part_alone_wins_where_blending_does_not_pay():
    """The linear part is sure and wrong wherever the network is right: any share of it costs."""
    gold = [-1, 0, 1, 1]
    neural = one_hot(gold, 0.5)
    linear = one_hot([1, 1, -1, 0], 0.95)
    weight, grid = choose_weight(neural, linear, gold_of(gold), CLASSES, "macro_f1")
    assert weight == 1.0 and {row["neural_weight"] for row in grid} == set(GRID)
    weight, _ = choose_weight(linear, neural, gold_of(gold), CLASSES, "macro_f1")
    assert weight == 0.0


def test_a_tie_goes_to_half_and_half():
    gold = [-1, 0, 1]
    probs = one_hot(gold, 0.8)
    weight, grid = choose_weight(probs, probs, gold_of(gold), CLASSES, "macro_f1")
    assert weight == 0.5 and len({row["score"] for row in grid}) == 1


def test_a_run_without_hybrid_json_is_the_network_alone(tmp_path: Path):
    assert load_blend(tmp_path, 3) is None


@pytest.mark.parametrize("spec", [{"kind": "blend", "neural_weight": 1.5}, {"kind": "wide", "neural_weight": 0.5},
                                  {"kind": "blend", "neural_weight": True}, {"kind": "blend"}, [0.5]])
def test_a_damaged_hybrid_json_is_one_line_naming_it(tmp_path: Path, spec):
    (tmp_path / "hybrid.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(SentinetError, match=r"hybrid\.json: unreadable hybrid settings"):
        load_blend(tmp_path, 3)


def test_a_hybrid_json_without_its_linear_part_is_one_line(tmp_path: Path):
    (tmp_path / "hybrid.json").write_text('{"kind": "blend", "neural_weight": 0.5}', encoding="utf-8")
    with pytest.raises(SentinetError, match=r"linear\.json"):
        load_blend(tmp_path, 3)


def test_one_share_given_is_the_share_kept():
    gold = [-1, 0, 1]
    neural, linear = one_hot(gold, 0.9), one_hot([1, 1, -1], 0.9)
    weight, grid = choose_weight(neural, linear, gold_of(gold), CLASSES, "macro_f1", shares=[0.3])
    assert weight == 0.3 and [row["neural_weight"] for row in grid] == [0.3]


@pytest.mark.parametrize(("shares", "fragment"), [("[]", "names no share"), ("[0.5, 1.5]", "≤ 1"),
                                                  ("[-0.1]", "≥ 0")])
def test_bad_hybrid_shares_are_one_line(shares, fragment):
    from sentinet.config.schema import from_dict
    import yaml

    with pytest.raises(SentinetError, match="train.hybrid_shares") as refused:
        from_dict({"train": {"hybrid_shares": yaml.safe_load(shares)}})
    assert fragment in str(refused.value)
