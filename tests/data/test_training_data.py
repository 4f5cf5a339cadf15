"""sentinet/data/training_data.py on the tiny corpus: the training tweets and dev (carved or a
dev file), several weighted train files, temporal splits leaving out the dev period, the label
set and its refusals, and what the run log says about the data."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentinet.config.schema import from_dict
from sentinet.data.readers import Record
from sentinet.data.training_data import (
    TrainingData, class_counts, load_training_data, log_data, read_unlabeled, resolve_labels, split_warning,
    unlabeled_texts, _listed,
)
from sentinet.errors import SentinetError
from sentinet.labels import LabelSet

from tests.helpers import make_corpus, sentirueval_xml, tiny_raw


def load(tiny_data, **sections) -> tuple[object, TrainingData]:
    config = from_dict(tiny_raw(tiny_data, **sections))
    return config, load_training_data(config)


def test_a_random_split_carves_dev_from_the_train_file(tiny_data) -> None:
    _, data = load(tiny_data)
    assert (len(data.train), len(data.dev)) == (120, 30)  # 150 tweets, val_fraction 0.2
    assert {r.id for r, _ in data.train}.isdisjoint({r.id for r in data.dev})
    assert len({r.id for r, _ in data.train} | {r.id for r in data.dev}) == 150
    assert data.labels == LabelSet.of([-1, 0, 1]) and data.weights == [1.0] * 120
    assert data.description == "random split, 20% dev" and data.dev_window is None
    assert data.sources == [{"path": str(tiny_data["train"]), "tweets": 120, "weight": 1.0,
                             "dropped_in_dev_period": 0}]
    assert all(data.labels.values[c] == next(iter(r.labels.values())) for r, c in data.train)  # class ids
    assert class_counts(data) == [40, 40, 40]


def test_the_split_is_the_same_every_time(tiny_data) -> None:
    _, first = load(tiny_data)
    _, again = load(tiny_data)
    assert [r.id for r in first.dev] == [r.id for r in again.dev]
    _, other = load(tiny_data, data__split_seed=99)
    assert {r.id for r in other.dev} != {r.id for r in first.dev}


def test_a_dev_file_leaves_every_training_tweet_to_training(tiny_data) -> None:
    _, data = load(tiny_data, data__dev=str(tiny_data["test"]))
    assert (len(data.train), len(data.dev)) == (150, 31)
    assert data.description == f"dev file {tiny_data['test']}"
    lines: list[str] = []
    log_data(data, lines.append)
    assert lines == [f"data: 150 training tweets, 31 dev tweets (32 scored dev (tweet, company) pairs); "
                     f"dev file {tiny_data['test']}",
                     "labels: -1 (50), 0 (50), 1 (50) training tweets; model selection by the official "
                     "SentiRuEval F-macro (train.metric)"]


def test_further_train_files_add_weighted_training_tweets_only(tiny_data) -> None:
    _, data = load(tiny_data, data__train=[str(tiny_data["train"]), str(tiny_data["test"])],
                   data__train_weights=[1.0, 0.5])
    assert len(data.dev) == 30  # carved from the first file only
    assert data.weights == [1.0] * 120 + [0.5] * 31
    assert [s["tweets"] for s in data.sources] == [120, 31] and [s["weight"] for s in data.sources] == [1.0, 0.5]
    lines: list[str] = []
    log_data(data, lines.append)
    assert lines[1:3] == [f"data: 120 training tweets from {tiny_data['train']} (weight 1)",
                          f"data: 31 training tweets from {tiny_data['test']} (weight 0.5)"]


def test_a_temporal_split_leaves_the_dev_period_out_of_further_train_files(tiny_data) -> None:
    n = 150
    (tiny_data["dir"] / "dated.xml").write_text(
        sentirueval_xml(make_corpus(n, seed=1), dates=[1_400_000_000 + 1000 * i for i in range(n)]), encoding="utf-8")
    extra = tiny_data["dir"] / "extra.xml"  # 30 tweets: 15 before the dev period, 15 in it
    extra.write_text(sentirueval_xml(make_corpus(30, seed=5), dates=[1_400_000_000 + 10_000 * i for i in range(30)]),
                     encoding="utf-8")
    config, data = load(tiny_data, data__train=[str(tiny_data["dir"] / "dated.xml"), str(extra)],
                        data__split="temporal")
    dev_start = min(int(r.date) for r in data.dev)
    assert len(data.dev) == 30 and max(int(r.date) for r, _ in data.train[:120]) < dev_start
    assert data.dev_window == (dev_start, float("inf"))
    kept = [r for r, _ in data.train[120:]]
    assert all(int(r.date) < dev_start for r in kept)
    dropped = sum(1_400_000_000 + 10_000 * i >= dev_start for i in range(30))
    assert 0 < dropped < 30 and data.sources[1]["dropped_in_dev_period"] == dropped
    assert len(kept) == 30 - dropped
    lines: list[str] = []
    log_data(data, lines.append)
    assert lines[2] == f"data: {30 - dropped} training tweets from {extra} (weight 1); {dropped} from the dev period left out"
    assert split_warning(config, data) is None  # temporal: the dev number predicts the next period


def test_a_random_split_of_dated_tweets_warns(tiny_data) -> None:
    config, data = load(tiny_data)
    assert split_warning(config, data).startswith("data: the training tweets carry dates but data.split is "
                                                  "random: a random dev split overstates")
    config, data = load(tiny_data, data__dev=str(tiny_data["test"]))
    assert split_warning(config, data) is None


# --------------------------------------------------------------------------------------
# Labels


def test_data_labels_name_the_classes_in_their_order(tiny_data) -> None:
    _, data = load(tiny_data, data__labels=[1, 0, -1])
    assert data.labels.values == (1, 0, -1)
    assert all(data.labels.values[c] == next(iter(r.labels.values())) for r, c in data.train)


def test_a_label_only_in_data_labels_is_refused(tiny_data) -> None:
    with pytest.raises(SentinetError) as exc:
        load(tiny_data, data__labels=[-1, 0, 1, 2])
    assert str(exc.value) == (f"{tiny_data['train']}: no training tweets for label(s) '2' (only in the dev split "
                              "(data.split), or only in data.labels): add training examples of them, or remove them")


def test_a_label_only_in_the_dev_file_is_refused(tiny_data) -> None:
    dev = tiny_data["dir"] / "dev.tsv"
    dev.write_text("id\ttext\tlabel\n1\tспасибо\t1\n2\tужасно\t-1\n3\tновый\t5\n", encoding="utf-8")
    train = tiny_data["dir"] / "train.tsv"
    train.write_text("id\ttext\tlabel\n1\tспасибо\t1\n2\tужасно\t-1\n", encoding="utf-8")
    with pytest.raises(SentinetError) as exc:
        load(tiny_data, data__train=str(train), data__dev=str(dev))
    assert str(exc.value) == (f"{train}: no training tweets for label(s) '5' (only in {dev}): add training "
                              "examples of them, or remove them")


def test_a_label_outside_data_labels_is_refused(tiny_data) -> None:
    with pytest.raises(SentinetError, match=r"id '1' has label -1, which is not in the run's labels \[0, 1\]"):
        load(tiny_data, data__labels=[0, 1])


def test_one_class_is_no_classifier(tiny_data) -> None:
    train = tiny_data["dir"] / "one.tsv"
    train.write_text("id\ttext\tlabel\n1\tспасибо\tyes\n2\tотлично\tyes\n3\tкруто\tyes\n", encoding="utf-8")
    with pytest.raises(SentinetError) as exc:  # one label in all the data
        load(tiny_data, data__train=str(train), data__dev=str(train))
    assert str(exc.value) == (f"{train}: the training data holds 1 distinct label(s) ('yes'); a classifier needs "
                              "at least two classes")
    dev = tiny_data["dir"] / "dev.tsv"
    dev.write_text("id\ttext\tlabel\n1\tспасибо\tyes\n2\tужасно\tno\n", encoding="utf-8")
    with pytest.raises(SentinetError) as exc:  # two in the data, one in training
        load(tiny_data, data__train=str(train), data__dev=str(dev))
    assert str(exc.value) == (f"{train}: the training split holds one class ('yes'); a classifier needs at "
                              "least two classes")


def test_a_row_without_a_label_is_a_hole_not_skipped(tiny_data) -> None:
    train = tiny_data["dir"] / "holes.tsv"
    train.write_text("id\ttext\tlabel\n1\tспасибо\t1\nx7\tужасно\t\n3\tплохо\t-1\n", encoding="utf-8")
    with pytest.raises(SentinetError) as exc:
        load(tiny_data, data__train=str(train))
    assert str(exc.value) == (f"{train}: 1 row(s) with an empty label in column 'label' (the first: id 'x7'); "
                              "label them or remove them")


def test_labels_with_control_characters_are_refused(tiny_data) -> None:
    with pytest.raises(SentinetError) as exc:
        load(tiny_data, data__labels=["a\tb", "c"])
    assert str(exc.value) == ("data.labels: label 'a\\tb' holds a tab, line break or other control character: "
                              "rename it")
    records = [Record("r1", "x", {"label": "ok"}), Record("r2", "y", {"label": "bad\nlabel"})]
    with pytest.raises(SentinetError) as exc:
        resolve_labels(from_dict({}).data, [("f.jsonl", records)])
    assert str(exc.value) == ("f.jsonl: id 'r2' has label 'bad\\nlabel', which holds a tab, line break or other "
                              "control character: rename it")


def test_labels_found_in_the_data_are_ordered() -> None:
    records = [Record("1", "x", {"label": "pos"}), Record("2", "y", {"label": "neg"}), Record("3", "z", {"label": "pos"})]
    assert resolve_labels(from_dict({}).data, [("a.tsv", records[:1]), ("b.tsv", records[1:])]).values == ("neg", "pos")


def test_a_long_class_list_is_cut_in_the_log() -> None:
    from collections import Counter

    values = [f"c{i:02d}" for i in range(25)]
    counts = Counter({v: i + 1 for i, v in enumerate(values)})  # c24 the largest
    listed = _listed(values, counts)
    assert listed[:3] == [("c24", 25), ("c23", 24), ("c22", 23)] and len(listed) == 11
    assert listed[-1] == ("... 15 more classes", sum(range(1, 16)))
    assert _listed(values[:20], counts) == [(v, counts[v]) for v in values[:20]]


def test_texts_not_tweets_for_labels_other_than_sentiment(tiny_data) -> None:
    train = tiny_data["dir"] / "topics.tsv"
    rows = [f"{i}\t{'спасибо' if i % 2 else 'ужасно'} {i}\t{'good' if i % 2 else 'bad'}" for i in range(20)]
    train.write_text("id\ttext\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    _, data = load(tiny_data, data__train=str(train))
    lines: list[str] = []
    log_data(data, lines.append, metric="accuracy")
    assert lines[0] == "data: 16 training texts, 4 dev texts; random split, 20% dev"
    assert lines[1].startswith("labels: bad (") and lines[1].endswith(" training texts; model selection by accuracy "
                                                                     "(train.metric)")


# --------------------------------------------------------------------------------------
# Unlabelled texts


def test_unlabelled_texts_are_read_only_for_the_aux_lm(tiny_data) -> None:
    config, data = load(tiny_data, data__unlabeled=[str(tiny_data["lines"])])
    said: list[str] = []
    assert unlabeled_texts(config, data, str.split, said.append) == []
    assert said == ["data: data.unlabeled is read only by train.aux_lm, whose weight is 0: not used"]
    config.train.aux_lm.weight = 0.5
    said.clear()
    assert unlabeled_texts(config, data, str.split, said.append) == [["сбербанк", "спасибо", "отлично"],
                                                                     ["втб", "ужасно", "плохо"], ["кошмар"]]
    assert said == ["data: 3 unlabelled texts for the auxiliary language model"]
    config, data = load(tiny_data)
    assert unlabeled_texts(config, data, str.split, said.append) == []


def test_unlabelled_texts_from_the_dev_period_are_left_out(tiny_data) -> None:
    path = tiny_data["dir"] / "unlabeled.xml"
    path.write_text(sentirueval_xml(make_corpus(4, seed=3), dates=[100, 200, 300, 400]), encoding="utf-8")
    config = from_dict(tiny_raw(tiny_data, data__unlabeled=[str(path), str(tiny_data["lines"])]))
    records, dropped = read_unlabeled(config.data, (200.0, 300.0))
    assert dropped == 2 and [r.date for r in records[:2]] == ["100", "400"]
    assert len(records) == 2 + 3  # undated lines are never in a period
    records, dropped = read_unlabeled(config.data, None)
    assert (len(records), dropped) == (7, 0)


def test_training_pairs_are_records_with_class_ids(tiny_data) -> None:
    _, data = load(tiny_data)
    assert all(isinstance(r, Record) and r.labels for r in data.dev)
    assert all(isinstance(r, Record) and isinstance(c, int) for r, c in data.train)
    assert Path(data.sources[0]["path"]) == tiny_data["train"]
