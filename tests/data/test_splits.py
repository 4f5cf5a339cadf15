"""sentinet/data/splits.py: near-duplicate keys, grouped, temporal and k-fold dev splits."""

from __future__ import annotations

import pytest

from sentinet.config.schema import parse_date
from sentinet.data.readers import Record
from sentinet.data.splits import duplicate_key, fold_indices, split_dev, temporal_split
from sentinet.errors import SentinetError

DAY = 86400
JAN, JUL = int(parse_date("2014-01-10", "")), int(parse_date("2014-07-10", ""))


def dated(n: int, start: int = JAN, step: int = DAY) -> list[Record]:
    return [Record(str(i), f"t{i}", {"label": (-1, 0, 1)[i % 3]}, date=str(start + i * step),
                   source="f.tsv") for i in range(n)]


def test_temporal_split_takes_the_latest_share_or_everything_from_a_date():
    records = dated(20)[::-1]  # file order must not matter
    split = temporal_split(records, 0.25)
    assert sorted(int(r.id) for r in split.dev) == list(range(15, 20))
    assert sorted(int(r.id) for r in split.train) == list(range(15))
    split = temporal_split(records, 0.1, dev_from=str(JAN + 12 * DAY))
    assert sorted(int(r.id) for r in split.dev) == list(range(12, 20))
    with pytest.raises(SentinetError, match="no tweet falls in the dev period"):
        temporal_split(records, 0.1, dev_from="2020-01-01")
    with pytest.raises(SentinetError, match="every tweet falls in the dev period"):
        temporal_split(records, 0.1, dev_from="2000-01-01")


def test_temporal_folds_are_consecutive_periods_that_partition_the_data():
    records = dated(10)[::-1]
    folds = fold_indices(records, 3, "temporal", seed=0)
    devs = [sorted(int(records[i].id) for i in dev) for _, dev in folds]
    assert devs == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    for train, dev in folds:
        assert sorted(train + dev) == list(range(10)) and not set(train) & set(dev)


@pytest.mark.parametrize("split", ["random", "grouped"])
def test_stratified_folds_partition_and_grouped_keeps_duplicates_together(split):
    records = [Record(str(i), f"твит {'а' * (i % 15 + 1)} http://t.co/{i}", {"label": (-1, 0, 1)[i % 3]})
               for i in range(45)]  # 15 groups of 3 near-duplicates (only the link differs)
    folds = fold_indices(records, 3, split, seed=1)
    assert sorted(i for _, dev in folds for i in dev) == list(range(45))
    if split == "grouped":
        for train, dev in folds:
            keys = {duplicate_key(records[i].text) for i in dev}
            assert keys.isdisjoint(duplicate_key(records[i].text) for i in train)


def test_duplicate_key_ignores_links_mentions_numbers():
    a = duplicate_key("RT @bank: Сбербанк ОПЯТЬ завис!!! http://t.co/abc 123")
    assert a == duplicate_key("сбербанк опять завис http://t.co/xyz") == "сбербанк опять завис"


def test_grouped_split_keeps_duplicates_together():
    records = [Record(str(i), f"текст номер {'абвгдежзик'[i % 10] * (i % 37 + 1)} http://t.co/{i}",
                      {"a": (-1, 0, 1)[i % 3]}) for i in range(600)]
    train_part, dev = split_dev(records, 0.1, seed=0, grouped=True)
    keys = {duplicate_key(r.text) for r in dev}
    assert keys.isdisjoint(duplicate_key(r.text) for r in train_part)
    assert 0.05 < len(dev) / len(records) < 0.15
