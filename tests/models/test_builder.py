"""sentinet/models/builder.py: the one config → model builder. A model built for training
(over the vectors' rows) and the one a saved run is loaded into (over a blank table its
weights fill) must be the same network: same state_dict keys and shapes, same outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sentinet.config.schema import Config, from_dict
from sentinet.data.batching import EncodedDataset, collate
from sentinet.models.builder import build_model
from sentinet.runs import rundir, weights
from sentinet.runs.log import RunLog
from sentinet.training.setup import new_model

from ..helpers import NEGATIVE, NEUTRAL, POSITIVE, write_word2vec_text

# "сбер", "втб", "новое" and "слово" are not in the vectors: they get trainable rows
TRAIN = [["спасибо", "отлично", "сбер"], ["ужасно", "плохо", "втб"], ["офис", "карта"],
         ["новое", "слово", "спасибо"], ["новое", "ужасно"]]
COUNTS = [9, 2, 5]  # a skewed tree for the hierarchical head

VARIANTS = {
    "gru": {},
    "hierarchical head": {"model": {"head": "hierarchical"}},
    "multichannel cnn, unfrozen": {"model": {"multichannel": True, "encoder": {"name": "cnn", "filters": 4}},
                                   "vectors": {"freeze": False}},
    "oov zero, lstm": {"model": {"encoder": {"name": "lstm", "hidden_size": 6, "bidirectional": True}},
                       "vectors": {"oov": "zero"}},
}


def make_config(vectors: Path, variant: dict) -> Config:
    model = {"encoder": {"name": "gru", "hidden_size": 8}, **variant.get("model", {})}
    return from_dict({"data": {"labels": [-1, 0, 1]}, "model": model,
                      "vectors": {"path": str(vectors), "oov": "learn", "oov_min_count": 1,
                                  **variant.get("vectors", {})}})


@pytest.fixture
def vectors(tmp_path: Path) -> Path:
    path = tmp_path / "vectors.txt"
    write_word2vec_text(path, sorted({*POSITIVE, *NEGATIVE, *NEUTRAL}), dim=6)
    return path


def outputs(model: torch.nn.Module, vocab) -> torch.Tensor:
    ids = [vocab.encode(tokens) for tokens in TRAIN]
    batch = collate(list(EncodedDataset(ids, [0] * len(ids))))
    with torch.no_grad():
        return model.eval()(batch.ids, batch.lengths)


@pytest.mark.parametrize("variant", VARIANTS.values(), ids=VARIANTS)
def test_a_model_built_for_training_and_one_loaded_from_its_run_are_the_same(tmp_path, vectors, variant):
    torch.manual_seed(0)
    config = make_config(vectors, variant)
    vocab, trained = new_model(config, TRAIN, [], RunLog(), COUNTS)
    run = tmp_path / "run"
    run.mkdir()
    rundir.write_config(config, run / rundir.CONFIG)
    vocab.save(run / rundir.VOCAB)
    weights.save_weights(trained.state_dict(), run / rundir.WEIGHTS, {"best_epoch": 1, "best": {}})

    loaded = weights.load_run(run, torch.device("cpu")).model
    ours, theirs = trained.state_dict(), loaded.state_dict()
    assert list(theirs) == list(ours)
    assert {k: v.shape for k, v in theirs.items()} == {k: v.shape for k, v in ours.items()}
    assert all(torch.equal(theirs[k], ours[k]) for k in ours)
    assert torch.equal(outputs(loaded, vocab), outputs(trained, vocab))


def test_resume_keeps_the_configs_freeze_and_predict_time_freezes(vectors):
    """The same builder; only who may train the pretrained table differs."""
    config = make_config(vectors, {"vectors": {"freeze": False}})
    vocab, trained = new_model(config, TRAIN, [], RunLog(), COUNTS)
    state, path = trained.state_dict(), Path("model.pt")
    for freeze in (False, True):
        model = weights.model_from_state(config, vocab, state, path, freeze=freeze)
        assert model.embedder.pretrained.weight.requires_grad is not freeze
    assert trained.embedder.pretrained.weight.requires_grad


def test_the_same_seed_builds_the_same_initial_weights(vectors):
    """Training with a seed repeats its run byte for byte: the builder draws nothing else."""
    config = make_config(vectors, VARIANTS["hierarchical head"])
    vocab, _ = new_model(config, TRAIN, [], RunLog(), COUNTS)
    table = torch.randn(len(vocab) - vocab.n_learned, 6)

    def built() -> dict:
        torch.manual_seed(5)
        return build_model(config, vocab, table, class_counts=COUNTS).state_dict()

    first, second = built(), built()
    assert list(first) == list(second) and all(torch.equal(first[k], second[k]) for k in first)
