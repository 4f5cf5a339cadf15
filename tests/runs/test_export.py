"""`sentinet export`: an archive that predicts like the run on a machine without its vectors
(hostile archives are refused: tests/test_archive.py)."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from tests.helpers import run_cli
from tests.helpers import FILLER, NAMES, NEGATIVE, NEUTRAL, POSITIVE, UNSEEN
from tests.helpers import make_corpus, sentirueval_xml, tiny_config_yaml, write_word2vec_text
from tests.helpers import assert_one_line_error
from tests.models.test_encoders import VARIANTS, make_model


def rows(output: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(output)))


def test_export_predicts_like_the_run_without_the_vectors_file(tmp_path):
    data = {"dir": tmp_path, "train": tmp_path / "train.xml", "vectors": tmp_path / "vectors.txt"}
    data["train"].write_text(sentirueval_xml(make_corpus(150, seed=1)), encoding="utf-8")
    write_word2vec_text(data["vectors"], sorted({*POSITIVE, *NEGATIVE, *NEUTRAL, *FILLER,
                                                 *NAMES.values(), *UNSEEN}), dim=16)
    config = tmp_path / "tiny.yaml"
    config.write_text(tiny_config_yaml(data, epochs=6), encoding="utf-8")
    assert run_cli("train", "--config", str(config), "--set", "train.patience=6").returncode == 0
    (run,) = (tmp_path / "runs").iterdir()
    lines = tmp_path / "lines.txt"
    lines.write_text("сбербанк спасибо\nкошмар\nвеликолепно\n", encoding="utf-8")  # two unseen words
    before = run_cli("predict", str(run), str(lines))
    assert before.returncode == 0, before.stderr

    archive = tmp_path / "model.tar.gz"
    result = run_cli("export", str(run), str(archive))
    assert result.returncode == 0, result.stderr
    assert "note:" not in result.stderr  # 50,000 rows hold every word of this vectors file
    vocab = json.loads((run / "vocab.json").read_text(encoding="utf-8"))["words"]
    file_words = [line.split()[0] for line in data["vectors"].read_text(encoding="utf-8").splitlines()[1:]]
    beyond = [w for w in file_words if w not in vocab]
    small = run_cli("export", str(run), str(tmp_path / "small.tar.gz"), "--vocab-size", "1")
    assert small.returncode == 0, small.stderr
    assert (f"note: the archive carries vectors for 1 word beyond the run's vocabulary; {len(beyond) - 1} more "
            f"words of vectors.txt") in small.stderr and f"--vocab-size {len(beyond)} carries them all" in small.stderr
    data["vectors"].unlink()  # another machine: the vectors file is not there
    moved = tmp_path / "elsewhere.tar.gz"
    shutil.move(archive, moved)
    after = run_cli("predict", str(moved), str(lines))
    assert after.returncode == 0, after.stderr
    assert "warning" not in after.stderr  # unseen words found their vectors in the archive
    assert [r["label"] for r in rows(after.stdout)] == [r["label"] for r in rows(before.stdout)] == ["1", "-1", "1"]
    for a, b in zip(rows(after.stdout), rows(before.stdout)):
        assert float(a["p_positive"]) == pytest.approx(float(b["p_positive"]), abs=1e-5)
    ev = run_cli("eval", str(moved), str(data["train"]), "--json")
    assert ev.returncode == 0, ev.stderr

    with tarfile.open(moved) as tar:
        names = tar.getnames()
        config_text = tar.extractfile("sentinet-export/config.yaml").read().decode()
    assert "sentinet-export/vectors.npz" in names and "sentinet-export/model.pt" in names
    assert str(tmp_path) not in config_text  # no absolute paths from the training machine


# --------------------------------------------------------------------------------------
# --onnx: the same probabilities from onnxruntime, fed from the metadata alone

ENCODERS = ["cnn", "rnn", "lstm", "gru", "sru"]
TEXTS = ["кошмар",  # one token, unseen in training: its row comes from the exported vocabulary
         "сбербанк спасибо отлично",
         "втб ужасно плохо zzzz",  # zzzz is in no vocabulary: <unk>
         " ".join(["опять", "сбербанк", "люблю", "быстро", "в", "офис", "курс"] * 4),  # the longest
         "втб"]


def tiny_run(tmp_path: Path, encoder: str, bias: list[float] | None = None) -> Path:
    """A tiny run trained through the CLI (in-process: the same code, without a second start-up)."""
    import yaml
    from typer.testing import CliRunner

    from sentinet.cli.main import app

    data = {"dir": tmp_path, "train": tmp_path / "train.xml", "vectors": tmp_path / "vectors.txt"}
    data["train"].write_text(sentirueval_xml(make_corpus(90, seed=1)), encoding="utf-8")
    write_word2vec_text(data["vectors"], sorted({*POSITIVE, *NEGATIVE, *NEUTRAL, *FILLER,
                                                 *NAMES.values(), *UNSEEN}), dim=8)
    raw = yaml.safe_load(tiny_config_yaml(data, encoder=encoder, epochs=1))
    if encoder == "cnn":
        raw["model"]["encoder"] = {"name": "cnn", "filters": 6}
        raw["model"]["multichannel"] = True
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    if bias:  # a tuned decision rule, which the metadata must carry
        (run / "decision.json").write_text(json.dumps({"bias": bias}), encoding="utf-8")
    return run


@pytest.mark.parametrize("name, options", VARIANTS, ids=str)
def test_every_encoder_variant_exports_one_graph_for_every_shape(name, options):
    """Traced once on a 2×3 batch, the graph must serve any batch size and length: packed
    sequences (RNN/LSTM/GRU), SRU's time loop, CNN filters wider than the tweet."""
    ort = pytest.importorskip("onnxruntime")
    import numpy as np
    import torch

    from sentinet.runs.onnx import Probabilities, probe_batch, to_onnx

    model = Probabilities(make_model(name, **options)).eval()
    session = ort.InferenceSession(to_onnx(model), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    batches = [probe_batch(16), (np.array([[7]]), np.array([1])),
               (np.stack([rng.integers(1, 16, 40), np.r_[5, np.zeros(39, int)]]), np.array([40, 1]))]
    for ids, lengths in batches:
        (got,) = session.run(None, {"ids": ids.astype(np.int64), "lengths": lengths.astype(np.int64)})
        with torch.no_grad():
            expected = model(torch.from_numpy(ids).long(), torch.from_numpy(lengths).long()).numpy()
        np.testing.assert_allclose(got, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_onnx_export_gives_predicts_probabilities(tmp_path, encoder):
    ort = pytest.importorskip("onnxruntime")
    import numpy as np

    from sentinet.inference.opener import open_predictor
    from sentinet.runs.onnx import feed

    run = tiny_run(tmp_path, encoder, bias=[0.4, 0.0, -0.3])
    graph = tmp_path / "served" / "model.onnx"
    graph.parent.mkdir()
    args = ["export", str(run), "--onnx", str(graph)]
    if encoder == "gru":  # the archive and the graph in one call
        args[2:2] = [str(tmp_path / "model.tar.gz")]
    result = run_cli(*args)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("\n") == (2 if encoder == "gru" else 1), result.stderr  # no exporter noise
    meta = json.loads((tmp_path / "served" / "model.onnx.json").read_text(encoding="utf-8"))
    assert meta["classes"] == ["negative", "neutral", "positive"] and meta["labels"] == [-1, 0, 1]
    assert meta["bias"] == [0.4, 0.0, -0.3]
    assert "кошмар" in meta["vocab"] and "zzzz" not in meta["vocab"]

    inputs = feed(meta, TEXTS)
    assert inputs["lengths"].tolist()[0] == 1 and inputs["ids"].shape == (5, 28)
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    (probs,) = session.run(["probs"], inputs)
    predictor = open_predictor(run, "cpu")
    expected = predictor.predict_proba(TEXTS, progress=False)  # what `predict` prints as p_ columns
    np.testing.assert_allclose(probs, expected, atol=1e-5, rtol=0)
    for i, text in enumerate(TEXTS):  # each text alone: batch 1, its own length
        (alone,) = session.run(["probs"], feed(meta, [text]))
        np.testing.assert_allclose(alone[0], expected[i], atol=1e-5, rtol=0)
    decided = np.asarray(meta["labels"])[(np.log(probs) + meta["bias"]).argmax(1)]
    assert decided.tolist() == predictor.labels(expected)


def test_onnx_vocab_size_limits_the_rows_for_unseen_words(tmp_path):
    pytest.importorskip("onnxruntime")
    from sentinet.runs.onnx import export_onnx

    run = tiny_run(tmp_path, "gru")
    without = export_onnx(run, tmp_path / "none.onnx", vocab_size=0)
    with_unseen = export_onnx(run, tmp_path / "some.onnx", vocab_size=50)
    assert "кошмар" not in without["vocab"] and "кошмар" in with_unseen["vocab"]
    assert list(with_unseen["vocab"])[: len(without["vocab"])] == list(without["vocab"])  # ids kept


def test_onnx_without_the_extra_is_one_line_and_the_rest_still_works(tmp_path):
    """`import onnx` fails (a module on PYTHONPATH that raises ImportError, as a missing
    package does): --onnx names the extra to install, writes nothing; the archive still works."""
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    for name in ("onnx", "onnxruntime"):
        (blocked / f"{name}.py").write_text(f"raise ImportError('no {name}', name='{name}')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocked), os.environ.get("PYTHONPATH", "")])}
    run = tiny_run(tmp_path, "gru")
    archive, graph = tmp_path / "model.tar.gz", tmp_path / "model.onnx"

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "sentinet", *args], capture_output=True, text=True,
                              env=env, timeout=300)

    assert_one_line_error(cli("export", str(run), str(archive), "--onnx", str(graph)),
                          "--onnx needs onnx and onnxruntime", "pip install -e '.[onnx]' in the sentinet checkout; make install has it")
    assert not archive.exists() and not graph.exists()
    result = cli("export", str(run), str(archive))
    assert result.returncode == 0, result.stderr
    assert archive.is_file()


@pytest.mark.parametrize("vocab_size", ["0", "50000"])
def test_an_export_with_no_unseen_word_to_bundle_predicts(quick_run, tmp_path, vocab_size):
    """--vocab-size 0 (what export's own message recommends) bundles no rows for unseen words,
    as does a vectors file the run's vocabulary already holds whole: both once died with a
    ValueError reshaping the empty matrix. 50000: rows bundled, as before."""
    from tests.helpers import run_cli

    archive = tmp_path / "run.tar.gz"
    exported = run_cli("export", str(quick_run["run"]), str(archive), "--vocab-size", vocab_size)
    assert exported.returncode == 0, exported.stderr
    predicted = run_cli("predict", str(archive), str(quick_run["lines"]))
    assert predicted.returncode == 0, predicted.stderr
    assert len(predicted.stdout.splitlines()) == 3  # header + 2 lines
