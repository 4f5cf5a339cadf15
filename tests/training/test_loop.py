"""sentinet/training/loop.py: what train() does with vectors, the loop's events, the resume state,
and that it leaves the config it was given alone."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import torch

from sentinet.runs.weights import load_weights
from sentinet.config.schema import from_dict
from sentinet.data.embeddings import open_vectors
from sentinet.training.events import Callback
from sentinet.inference.opener import open_predictor
from sentinet.training.loop import train

from tests.helpers import tiny_raw, write_word2vec_text


def test_frozen_vectors_stay_frozen_and_unfreezing_moves_them(tiny_data):
    frozen = train(from_dict(tiny_raw(tiny_data)))
    thawed = train(from_dict(tiny_raw(tiny_data, vectors__unfreeze_epoch=2, vectors__unfreeze_lr=0.05)))
    source = open_vectors(tiny_data["vectors"])
    for result, should_move in ((frozen, False), (thawed, True)):
        state = load_weights(result.run_dir / "model.pt")
        vocab = json.loads((result.run_dir / "vocab.json").read_text(encoding="utf-8"))
        words = vocab["words"][vocab["n_learned"]:]
        original = torch.from_numpy(source.lookup(words))
        moved = not torch.allclose(state["embedder.pretrained.weight"], original)
        assert moved == should_move


def test_concat_training_and_word_dropout(tiny_data):
    extra = tiny_data["dir"] / "extra.txt"
    write_word2vec_text(extra, ["сбербанк", "спасибо"], dim=4, seed=5)
    raw = tiny_raw(tiny_data, vectors__concat=[str(extra)], model__word_dropout=0.2)
    result = train(from_dict(raw))
    predictor = open_predictor(result.run_dir, "cpu")
    assert predictor.run.model.embedder.dim == 20
    assert predictor.predict_proba(["кошмар втб"], progress=False).shape == (1, 3)


class Recorder(Callback):
    """Writes down every event it is sent, and what the run directory held at the commit."""

    def __init__(self):
        self.seen: list[tuple] = []

    def after_batch(self) -> None:
        if not self.seen or self.seen[-1] != ("batch",):
            self.seen.append(("batch",))

    def after_train_epoch(self, epoch: int) -> None:
        self.seen.append(("trained", epoch))

    def after_scoring(self, epoch: int, scores: dict) -> None:
        self.seen.append(("scored", epoch, round(scores["f_macro"], 6)))

    def after_commit(self, epoch: int, row: dict, run_dir: Path) -> None:
        saved = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
        self.seen.append(("committed", epoch, len(saved["epochs"]), (run_dir / "last.pt").is_file()))

    def after_epoch(self, epoch: int, row: dict, run_dir: Path) -> None:
        self.seen.append(("epoch", epoch, round(row["f_macro"], 6)))

    def close(self) -> None:
        self.seen.append(("close",))


def test_a_subscriber_sees_every_event_in_order_and_the_epoch_saved_at_commit(tiny_data):
    recorder = Recorder()
    result = train(from_dict(tiny_raw(tiny_data)), callbacks=[recorder])
    expected = []
    for row in result.epochs:
        e, f = row["epoch"], round(row["f_macro"], 6)
        expected += [("batch",), ("trained", e), ("scored", e, f), ("committed", e, e, True), ("epoch", e, f)]
    assert recorder.seen == expected + [("close",)]
    assert len(result.epochs) == 3


def test_train_leaves_its_config_alone(tiny_data):
    config = from_dict(tiny_raw(tiny_data))
    before = copy.deepcopy(config)
    result = train(config)
    assert config == before  # paths not resolved in place, data.labels not filled in
    saved = (result.run_dir / "config.yaml").read_text(encoding="utf-8")
    assert "labels:\n  - -1\n  - 0\n  - 1" in saved  # the run's own copy holds them


def test_a_subscriber_that_raises_after_an_epoch_stops_training_with_the_epoch_kept(tiny_data):
    class StopAfterTwo(Callback):
        def after_epoch(self, epoch: int, row: dict, run_dir: Path) -> None:
            if epoch == 2:
                raise RuntimeError("pruned")

    raw = tiny_raw(tiny_data, train__epochs=4, train__patience=4)
    try:
        train(from_dict(raw), callbacks=[StopAfterTwo()])
    except RuntimeError as exc:
        assert str(exc) == "pruned"
    else:
        raise AssertionError("the subscriber's exception did not stop training")
    (run,) = (tiny_data["dir"] / "runs").iterdir()
    saved = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    assert [r["epoch"] for r in saved["epochs"]] == [1, 2] and (run / "INCOMPLETE").is_file()


def test_progress_lines_say_the_time_left_in_the_epoch_and_the_run():
    from sentinet.training.progress import ProgressLines

    now, lines = [0.0], []
    progress = ProgressLines(batches=281, epochs=15, first_epoch=3, every=64.99, write=lines.append,
                             clock=lambda: now[0])
    for _ in range(120):
        now[0] += 65 / 120  # 120 batches in 65 s
        progress.after_batch()
    assert lines == ["epoch 3/15: 120/281 batches (43%), 1m05s in, about 1m27s left in the epoch, "
                     "at most 31m54s in the run"]
