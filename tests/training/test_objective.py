"""sentinet/training/objective.py: the plain objective is the classifier's loss; with
train.aux_lm it adds the weighted language-model loss of per-token states; the LM vocabulary
and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from sentinet.config.schema import AuxLMConfig, from_dict
from sentinet.data.batching import EncodedDataset, collate
from sentinet.data.vocab import PAD_ID, UNK_ID
from sentinet.errors import SentinetError
from sentinet.runs.log import RunLog
from sentinet.training.objective import (
    OTHER, ClassificationObjective, MultitaskObjective, build_objective, lm_vocabulary,
)
from sentinet.training.optim import WeightedLoss
from sentinet.training.setup import new_model

from tests.helpers import NEGATIVE, NEUTRAL, POSITIVE, write_word2vec_text

TRAIN = [["спасибо", "отлично", "сбер"], ["ужасно", "плохо", "втб"], ["офис", "карта"],
         ["новое", "слово", "спасибо"], ["ужасно"]]
LABELS = [2, 0, 1, 2, 0]


def tiny_model(tmp_path: Path, encoder: dict):
    vectors = tmp_path / "vectors.txt"
    write_word2vec_text(vectors, sorted({*POSITIVE, *NEGATIVE, *NEUTRAL}), dim=6)
    config = from_dict({"data": {"labels": [-1, 0, 1]}, "model": {"encoder": encoder},
                        "vectors": {"path": str(vectors), "oov": "learn", "oov_min_count": 1}})
    torch.manual_seed(0)
    vocab, model = new_model(config, TRAIN, [], RunLog(), [2, 1, 2])
    ids = [vocab.encode(t) for t in TRAIN]
    return vocab, model.eval(), ids  # eval: no dropout, the same output twice


@pytest.fixture
def gru(tmp_path: Path):
    return tiny_model(tmp_path, {"name": "gru", "hidden_size": 4, "bidirectional": True})


def batch_of(ids, weights=None):
    return collate(list(EncodedDataset(ids, LABELS[: len(ids)], weights)))


@pytest.mark.parametrize("weights", [None, [1.0, 2.0, 0.5, 1.0, 3.0]])
def test_the_classification_objective_is_the_loss_functions_loss(gru, weights) -> None:
    _, model, ids = gru
    loss_fn = WeightedLoss(torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1)
    batch = batch_of(ids, weights)
    loss = ClassificationObjective(loss_fn)(model, batch)
    expected = loss_fn(model(batch.ids, batch.lengths), batch.labels, batch.weights)
    assert loss.shape == () and torch.equal(loss, expected)
    plain = torch.nn.functional.cross_entropy(model(batch.ids, batch.lengths), batch.labels,
                                              weight=torch.tensor([1.0, 2.0, 0.5]), label_smoothing=0.1)
    if weights is None:  # every tweet weight 1: torch's own weighted mean
        assert torch.allclose(loss, plain)
    else:
        assert not torch.allclose(loss, plain)


def test_the_classification_objective_has_no_parameters_and_no_stats(gru) -> None:
    objective = ClassificationObjective(WeightedLoss(None, 0.0))
    assert list(objective.parameters()) == []
    objective.start_epoch()
    assert objective.epoch_stats() == {}


def test_build_objective_without_aux_lm_is_the_plain_objective(gru) -> None:
    vocab, model, ids = gru
    loss_fn = WeightedLoss(None, 0.0)
    objective = build_objective(loss_fn, AuxLMConfig(), model, len(vocab), ids, [], 4, 10, 3)
    assert type(objective) is ClassificationObjective and objective.loss_fn is loss_fn


def test_build_objective_with_aux_lm_adds_the_weighted_lm_loss(gru) -> None:
    vocab, model, ids = gru
    loss_fn = WeightedLoss(None, 0.0)
    cfg = AuxLMConfig(weight=0.5, softmax="full", min_count=1)
    objective = build_objective(loss_fn, cfg, model, len(vocab), ids, [], 4, 10, 3)
    assert isinstance(objective, MultitaskObjective)
    assert objective.directions == 2 and objective.hidden == 4
    batch = batch_of(ids)
    loss = objective(model, batch)
    logits, states = model(batch.ids, batch.lengths, states=True)
    lm = objective.lm_loss(states, batch.ids, batch.lengths)
    assert lm.item() > 0
    assert torch.allclose(loss, loss_fn(logits, batch.labels, None) + 0.5 * lm)
    objective(model, batch)
    assert objective.epoch_stats() == {"lm_loss": pytest.approx(lm.item())}  # the mean of the two steps
    objective.start_epoch()
    assert objective.epoch_stats() == {"lm_loss": 0.0}
    loss.backward()  # the LM head learns with the model
    assert all(p.grad is not None for p in objective.lm.parameters())


@pytest.mark.parametrize("softmax", ["full", "hierarchical"])
def test_one_word_texts_have_no_lm_loss(gru, softmax) -> None:
    vocab, model, ids = gru
    objective = build_objective(WeightedLoss(None, 0.0), AuxLMConfig(weight=1.0, softmax=softmax, min_count=1),
                                model, len(vocab), ids, [], 4, 10, 3)
    batch = batch_of([ids[4]])  # "ужасно" alone
    _, states = model(batch.ids, batch.lengths, states=True)
    lm = objective.lm_loss(states, batch.ids, batch.lengths)
    assert lm.item() == 0.0 and lm.requires_grad


def test_an_encoder_without_token_states_is_refused(tmp_path: Path) -> None:
    vocab, model, ids = tiny_model(tmp_path, {"name": "cnn", "filters": 2, "widths": [2]})
    with pytest.raises(SentinetError) as exc:
        build_objective(WeightedLoss(None, 0.0), AuxLMConfig(weight=0.5), model, len(vocab), ids, [], 4, 10, 3)
    assert str(exc.value) == ("train.aux_lm: the CNNEncoder has no per-token states to predict words from; "
                              "use a recurrent encoder (rnn, lstm, gru, sru)")


def test_no_word_frequent_enough_is_refused(gru) -> None:
    vocab, model, ids = gru
    with pytest.raises(SentinetError) as exc:
        build_objective(WeightedLoss(None, 0.0), AuxLMConfig(weight=0.5, min_count=100), model, len(vocab),
                        ids, [], 4, 10, 3)
    assert str(exc.value) == "train.aux_lm: no word occurs train.aux_lm.min_count times; nothing to predict"


def test_lm_vocabulary_keeps_the_most_frequent_words_and_the_rest_is_other() -> None:
    ids = [[5, 6, 6, 7, UNK_ID], [6, 5, 8, PAD_ID], [9]]
    table, counts = lm_vocabulary(ids, vocab_size=3, min_count=1, n_words=10)
    assert table.tolist() == [OTHER, OTHER, OTHER, OTHER, OTHER, 2, 1, OTHER, OTHER, OTHER]  # 6 (×3), 5 (×2)
    assert counts == [10 - 5, 3, 2]  # <other>: every other token, <pad> and <unk> too


def test_lm_vocabulary_min_count_and_an_empty_other() -> None:
    table, counts = lm_vocabulary([[4, 4, 5]], vocab_size=10, min_count=2, n_words=6)
    assert table.tolist() == [0, 0, 0, 0, 1, 0] and counts == [1, 2]
    table, counts = lm_vocabulary([[4, 4]], vocab_size=10, min_count=1, n_words=6)
    assert counts == [1, 2]  # <other> never seen: one count, so the tree still has it
