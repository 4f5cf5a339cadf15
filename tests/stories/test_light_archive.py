"""Predicting from an export archive without torch (sentinet.lite): ``sentinet export`` writes
each run's network as numpy arrays beside model.pt, and ``predict ARCHIVE`` reads them without
ever importing torch, with torch's probabilities within 1e-5 — for a GRU, an LSTM, a tanh RNN,
a multichannel CNN with a linear part (train.hybrid: blend), a weighted ensemble, words unseen
in training (their vectors come from the archive's vectors.npz). A model the light engine
cannot express (a hierarchical head) gets no light files and predicts through torch as ever.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from sentinet.errors import SentinetError
from sentinet.inference.lite import LitePredictor
from sentinet.inference.opener import ArchivePredictor, open_predictor
from sentinet.inference.averaging import EnsemblePredictor
from sentinet.inference.predictor import RunPredictor

from ..helpers import (
    FILLER, NAMES, NEGATIVE, NEUTRAL, POSITIVE, UNSEEN, assert_one_line_error, make_corpus, run_cli, sentirueval_xml,
    tiny_config_yaml, write_word2vec_text,
)

ATOL = 1e-5
TEXTS = ["сбербанк спасибо отлично", "втб ужасно плохо zzzz",
         "кошмар великолепно",  # in the vectors, never in training: from the archive's vectors.npz
         "", "мой офис сегодня " * 12, "втб"]
RUNS = {  # model and train settings of each tiny run
    "gru": {"encoder": {"name": "gru", "hidden_size": 8, "num_layers": 2, "pooling": "max"}},
    "lstm": {"encoder": {"name": "lstm", "hidden_size": 8, "pooling": "mean"}},
    "rnn": {"encoder": {"name": "rnn", "hidden_size": 8, "bidirectional": False, "pooling": "last"}},
    "cnn": {"encoder": {"name": "cnn", "filters": 6}, "multichannel": True, "hybrid": "blend"},
    "hierarchical": {"encoder": {"name": "gru", "hidden_size": 8}, "head": "hierarchical"},
}
LIGHT = ["gru", "lstm", "rnn", "cnn", "ensemble"]


@pytest.fixture(scope="module")
def archives(tmp_path_factory) -> dict[str, Path]:
    """Each of RUNS trained for one epoch and exported, and an ensemble of the LSTM and the RNN
    (weights 2:1); keys: RUNS' names, ensemble, lines (TEXTS, one a line)."""
    import sentinet
    from sentinet.ensemble import combine_runs
    from sentinet.runs.export import export

    root = tmp_path_factory.mktemp("light")
    data = {"dir": root, "train": root / "train.xml", "vectors": root / "vectors.txt"}
    data["train"].write_text(sentirueval_xml(make_corpus(90, seed=1)), encoding="utf-8")
    write_word2vec_text(data["vectors"], sorted({*POSITIVE, *NEGATIVE, *NEUTRAL, *FILLER, *NAMES.values(), *UNSEEN}),
                        dim=8)
    runs, out = {}, {}
    for name, settings in RUNS.items():
        raw = yaml.safe_load(tiny_config_yaml(data, epochs=1))
        raw["model"] = {k: v for k, v in settings.items() if k != "hybrid"}
        raw["train"]["hybrid"] = settings.get("hybrid", "none")
        runs[name] = sentinet.train(raw, run_dir=root / "runs" / name)
    ensemble = combine_runs([runs["lstm"], runs["rnn"]], root / "ensemble", [2, 1]).path
    for name, run in [*runs.items(), ("ensemble", ensemble)]:
        export(run, root / f"{name}.tar.gz", 50_000)
        out[name] = root / f"{name}.tar.gz"
    out["lines"] = root / "lines.txt"
    out["lines"].write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return out


def rows(stdout: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(stdout)))


@pytest.mark.parametrize("name", LIGHT)
def test_an_archive_predicts_with_numpy_as_torch_does(archives, name):
    light, heavy = open_predictor(archives[name], "cpu"), open_predictor(archives[name], "cpu", engine="torch")
    assert type(light) is ArchivePredictor
    assert type(light.unpacked) is (EnsemblePredictor if name == "ensemble" else LitePredictor)
    assert all(type(m) is LitePredictor for m in light.members)
    assert type(heavy.unpacked) is (EnsemblePredictor if name == "ensemble" else RunPredictor)
    assert light.threads is None and light.classes == heavy.classes
    got, expected = light.predict_proba(TEXTS, progress=False), heavy.predict_proba(TEXTS, progress=False)
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)
    assert light.labels(got) == heavy.labels(expected)
    tokens = light.tokenize(TEXTS[2]) + light.tokenize(TEXTS[1])
    np.testing.assert_allclose(light.occlusion_probabilities(tokens), heavy.occlusion_probabilities(tokens),
                               rtol=0, atol=ATOL)
    runs = light.unpacked.members if name == "ensemble" else [light.unpacked]
    assert all("кошмар" in run.vocab for run in runs)  # the unseen word got its archived vector
    light.close(), heavy.close()


def test_the_hybrid_blend_and_the_ensemble_weights_are_the_archives(archives):
    cnn = open_predictor(archives["cnn"], "cpu")
    assert cnn.unpacked.blend is not None and cnn.unpacked.network.multichannel
    ensemble = open_predictor(archives["ensemble"], "cpu").unpacked
    np.testing.assert_allclose(ensemble.weights, [2 / 3, 1 / 3])
    members = [m.predict_proba(TEXTS, progress=False) for m in ensemble.members]
    np.testing.assert_allclose(ensemble.predict_proba(TEXTS), (2 * members[0] + members[1]) / 3, atol=1e-7)


def test_predict_from_an_archive_never_imports_torch(archives):
    light = subprocess.run([sys.executable, "-X", "importtime", "-m", "sentinet", "predict", str(archives["gru"]),
                            str(archives["lines"])], capture_output=True, text=True, timeout=300)
    assert light.returncode == 0, light.stderr
    imported = [line.rsplit("|", 1)[-1].strip() for line in light.stderr.splitlines()
                if line.startswith("import time:")]
    assert "numpy" in imported and not [m for m in imported if m.split(".")[0] == "torch"]
    heavy = run_cli("predict", str(archives["gru"]), str(archives["lines"]), env={"SENTINET_ENGINE": "torch"})
    assert heavy.returncode == 0, heavy.stderr
    got, expected = rows(light.stdout), rows(heavy.stdout)
    assert [r["id"] for r in got] == [r["id"] for r in expected] and len(got) == len(TEXTS) - 1  # no blank line
    for a, b in zip(got, expected):
        assert a["label"] == b["label"]
        for column in ("p_negative", "p_neutral", "p_positive"):
            assert float(a[column]) == pytest.approx(float(b[column]), abs=ATOL)


def test_a_model_the_engine_cannot_express_predicts_through_torch(archives):
    import tarfile

    with tarfile.open(archives["hierarchical"]) as tar:
        assert not [n for n in tar.getnames() if "lite" in n]
    predictor = open_predictor(archives["hierarchical"], "cpu")
    assert type(predictor.unpacked) is RunPredictor
    assert predictor.predict_proba(TEXTS, progress=False).shape == (len(TEXTS), 3)
    result = run_cli("predict", str(archives["hierarchical"]), str(archives["lines"]))
    assert result.returncode == 0 and len(rows(result.stdout)) == len(TEXTS) - 1, result.stderr
    with pytest.raises(SentinetError, match="--engine lite: the archive has no light files"):
        open_predictor(archives["hierarchical"], "cpu", engine="lite")


def test_what_needs_torch_gets_torch(archives, monkeypatch):
    assert type(open_predictor(archives["gru"], "cpu", int8=True).unpacked) is RunPredictor
    with pytest.raises(SentinetError, match="--engine lite: --int8 quantises torch layers; use --engine torch"):
        open_predictor(archives["gru"], "cpu", int8=True, engine="lite")
    with pytest.raises(SentinetError, match="--engine lite: .* is not an export archive"):
        open_predictor(archives["gru"].parent / "runs" / "gru", "cpu", engine="lite")
    monkeypatch.setenv("SENTINET_ENGINE", "torch")
    assert type(open_predictor(archives["gru"], "cpu").unpacked) is RunPredictor
    assert type(open_predictor(archives["gru"], "cpu", engine="auto").unpacked) is LitePredictor  # the argument wins
    monkeypatch.setenv("SENTINET_ENGINE", "numpy")
    with pytest.raises(SentinetError, match=r"\$SENTINET_ENGINE 'numpy': choose one of auto, torch, lite"):
        open_predictor(archives["gru"], "cpu")


def test_light_files_that_do_not_fit_are_one_line_naming_them(archives, tmp_path):
    import tarfile

    bad = tmp_path / "bad.tar.gz"
    with tarfile.open(archives["gru"]) as source, tarfile.open(bad, "w:gz") as target:
        for member in source.getmembers():
            data = source.extractfile(member).read() if member.isfile() else None
            if member.name.endswith("lite.npz"):
                buffer = io.BytesIO()
                np.savez(buffer, embedding=np.zeros((2, 2), np.float32))
                data = buffer.getvalue()
                member.size = len(data)
            target.addfile(member, io.BytesIO(data) if data is not None else None)
    result = run_cli("predict", str(bad), str(archives["lines"]))
    assert_one_line_error(result, f"{bad}: sentinet-export/lite.npz: light weights do not fit the run's config")


def test_auto_leaves_a_machine_with_a_gpu_to_torch(archives, monkeypatch):
    from sentinet.inference import opener

    monkeypatch.setattr(opener, "_gpu_visible", lambda: True)
    assert type(open_predictor(archives["gru"]).unpacked) is RunPredictor  # device auto: torch picks
    assert type(open_predictor(archives["gru"], "cpu").unpacked) is LitePredictor
    assert type(open_predictor(archives["gru"], engine="lite").unpacked) is LitePredictor
    monkeypatch.undo()
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert not opener._gpu_visible()


def test_integrated_gradients_read_the_archives_model_through_torch(archives):
    import sentinet

    model = sentinet.load(archives["gru"], device="cpu")
    assert type(model.predictor.unpacked) is LitePredictor
    with pytest.raises(SentinetError, match="integrated gradients need torch.*--engine torch"):
        model.predictor.unpacked.gradient_inputs([])
    explained = model.explain(TEXTS[0], "ig")
    expected = sentinet.load(archives["gru"], device="cpu", engine="torch").explain(TEXTS[0], "ig")
    np.testing.assert_allclose(explained.scores, expected.scores, atol=1e-5)
    occlusion = model.explain(TEXTS[0])
    assert occlusion.label == expected.label


def test_the_engine_is_a_predict_and_eval_option(archives):
    result = run_cli("predict", str(archives["hierarchical"]), str(archives["lines"]), "--engine", "lite")
    assert result.returncode == 2 and "error: --engine lite: the archive has no light files" in result.stderr
    both = [run_cli("predict", str(archives["cnn"]), str(archives["lines"]), "--engine", e) for e in ("lite", "torch")]
    assert all(r.returncode == 0 for r in both), [r.stderr for r in both]
    assert [r["label"] for r in rows(both[0].stdout)] == [r["label"] for r in rows(both[1].stdout)]
    env = {**os.environ, "SENTINET_ENGINE": "lite"}
    ev = subprocess.run([sys.executable, "-m", "sentinet", "eval", str(archives["gru"]),
                         str(archives["gru"].parent / "train.xml"), "--json"], capture_output=True, text=True,
                        env=env, timeout=300)
    assert ev.returncode == 0, ev.stderr
