"""Every kind of predictor is a sentinet.inference.protocol.Predictor, with every attribute
and method present, so no caller ever probes which kind it holds."""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import numpy as np
import pytest

from sentinet.baseline import BaselinePredictor
from sentinet.errors import SentinetError
from sentinet.inference.opener import ArchivePredictor, open_predictor
from sentinet.inference.averaging import EnsemblePredictor
from sentinet.inference.predictor import RunPredictor
from sentinet.inference.protocol import Predictor
from sentinet.labels import LabelSet

KINDS = {"run": RunPredictor, "ensemble": EnsemblePredictor, "archive": ArchivePredictor,
         "baseline": BaselinePredictor}
MEMBERS = [name for name, value in vars(Predictor).items()
           if not name.startswith("_") and (callable(value) or isinstance(value, property))]


def test_the_protocol_names_what_callers_use():
    assert set(MEMBERS) == {"path", "classes", "config", "members", "run_dirs", "threads", "predict_proba",
                            "labels", "tokenize", "add_unseen_words", "occlusion_probabilities",
                            "gradient_inputs", "close"}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_satisfies_the_protocol(models, kind):
    predictor = open_predictor(models[kind], "cpu")
    try:
        assert type(predictor) is KINDS[kind]
        assert isinstance(predictor, Predictor)
        for name in MEMBERS:
            assert hasattr(predictor, name), name
        assert isinstance(predictor.classes, LabelSet) and isinstance(predictor.members, Sequence)
        assert len(predictor.members) == (2 if kind == "ensemble" else 0)
        assert all(isinstance(m, Predictor) for m in predictor.members)
        assert all(d.is_dir() for d in predictor.run_dirs)
        assert predictor.threads is None or hasattr(predictor.threads, "tick")
        _answers(predictor)
    finally:
        predictor.close()


def _answers(predictor: Predictor) -> None:
    """The calls eval, predict, explain and serve make, each answering in its shape."""
    texts = ["сбербанк спасибо", "кошмар великолепно офис"]
    probs = predictor.predict_proba(texts, 2, progress=False)
    assert probs.shape == (2, len(predictor.classes))
    assert set(predictor.labels(probs)) <= set(predictor.classes.values)
    tokens = predictor.tokenize(texts[1])
    assert tokens
    predictor.add_unseen_words([tokens])
    rows = predictor.occlusion_probabilities(tokens)
    assert rows.shape == (len(tokens) + 1, len(predictor.classes))
    np.testing.assert_allclose(rows[0], predictor.predict_proba(texts[1:], progress=False)[0], atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_gradient_inputs_come_from_networks_and_a_baseline_refuses(models, kind):
    predictor = open_predictor(models[kind], "cpu")
    tokens = predictor.tokenize("сбербанк спасибо")
    if kind == "baseline":
        with pytest.raises(SentinetError, match="linear baseline run: use --method occlusion"):
            predictor.gradient_inputs(tokens)
        return
    inputs = predictor.gradient_inputs(tokens)
    assert len(inputs) == (2 if kind == "ensemble" else 1)
    assert all(len(ids) == len(tokens) for _, ids, _ in inputs)
    predictor.close()


@pytest.mark.parametrize("cls", KINDS.values())
def test_predict_proba_takes_the_same_arguments_everywhere(cls):
    parameters = list(inspect.signature(cls.predict_proba).parameters.values())[1:4]
    assert [(p.name, p.default) for p in parameters] == [("texts", inspect.Parameter.empty),
                                                          ("batch_size", 256), ("progress", True)]
