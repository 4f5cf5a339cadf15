"""Hostile and broken input through the CLI, the way a user (or an attacker) meets it.

Every case runs ``sentinet`` in a subprocess and checks the same contract: exit code 2, one
``error:`` line on stderr, no traceback, nothing planted ever runs, and nothing is written
outside the chosen directory. Add a case to a table below to extend the battery. Where a table
is what one function answers (the config loader's range checks, ``sentinet.load`` on a damaged
run), every case calls that function in process and a few also run the CLI, which turns its
SentinetError into the one ``error:`` line.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from sentinet.api import load
from sentinet.config.schema import load_config
from sentinet.errors import SentinetError

from ..helpers import assert_one_line_error, run_cli, snapshot


class Planted:
    """A pickle payload: unpickling it runs a shell command that creates ``marker``."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def workspace(quick_run) -> dict[str, Path]:
    """The session's quick run (trained once for the whole suite): keys run, config, train,
    vectors, lines, dir. Tests that change a run use run_copy."""
    return quick_run


# --------------------------------------------------------------------------------------
# Nothing planted in a run directory or a vectors file ever runs


def test_run_pointing_at_a_planted_kv_runs_nothing(workspace, run_copy, tmp_path):
    marker = tmp_path / "pwned"
    planted = tmp_path / "vectors.kv"
    planted.write_bytes(pickle.dumps(Planted(marker)))
    vocab = json.loads((run_copy / "vocab.json").read_text(encoding="utf-8"))
    vocab["vectors"] = {"path": str(planted), "format": "auto", "concat": []}
    (run_copy / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")

    for command in (["predict", str(run_copy), str(workspace["lines"])],
                    ["eval", str(run_copy), str(workspace["train"])]):
        result = run_cli(*command)
        assert_one_line_error(result, "vocab.json", "vectors.kv", "pickle")
        assert not marker.exists(), "the planted pickle ran"


def test_vocab_naming_kv_format_explicitly_runs_nothing(workspace, run_copy, tmp_path):
    marker = tmp_path / "pwned"
    planted = tmp_path / "innocent.bin"  # the extension says nothing; the format key does
    planted.write_bytes(pickle.dumps(Planted(marker)))
    vocab = json.loads((run_copy / "vocab.json").read_text(encoding="utf-8"))
    vocab["vectors"] = {"path": str(planted), "format": "kv", "concat": []}
    (run_copy / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    result = run_cli("predict", str(run_copy), str(workspace["lines"]))
    assert_one_line_error(result, "pickle")
    assert not marker.exists()


@pytest.mark.parametrize("how", ["torch.save", "raw pickle"])
def test_planted_model_pt_runs_nothing(workspace, run_copy, tmp_path, how):
    marker = tmp_path / "pwned"
    weights = run_copy / "model.pt"
    if how == "torch.save":
        state = torch.load(weights, weights_only=True)
        state["payload"] = Planted(marker)
        torch.save(state, weights)
    else:
        weights.write_bytes(pickle.dumps({"x": Planted(marker)}))
    result = run_cli("predict", str(run_copy), str(workspace["lines"]))
    assert_one_line_error(result, "model.pt", "not a sentinet weights file")
    assert not marker.exists(), "the planted pickle ran"


def test_training_on_kv_vectors_is_refused(workspace, tmp_path):
    marker = tmp_path / "pwned"
    planted = tmp_path / "vectors.kv"
    planted.write_bytes(pickle.dumps(Planted(marker)))
    out = tmp_path / "runs"
    result = run_cli("train", "--config", str(workspace["config"]), "--output-dir", str(out),
                     "--set", f"vectors.path={planted}")
    assert_one_line_error(result, "vectors.kv", "never loads them", "save_word2vec_format")
    assert not marker.exists()
    assert not out.exists() or not any(out.iterdir()), "a refused run left a directory"


# --------------------------------------------------------------------------------------
# Nothing is written outside the chosen output directory


@pytest.mark.parametrize("name", ["../escaped", "../../escaped", "a/../../escaped", "/tmp/escaped-abs",
                                  "..", ".", "sub/dir", "back\\slash"])
def test_run_name_cannot_leave_the_output_dir(workspace, tmp_path, name):
    out = tmp_path / "deep" / "runs"
    out.mkdir(parents=True)
    before = snapshot(tmp_path)
    result = run_cli("train", "--config", str(workspace["config"]), "--output-dir", str(out),
                     "--set", f"run.name={name}")
    assert_one_line_error(result, "run.name", "plain name")
    assert snapshot(tmp_path) == before
    assert not list(Path("/tmp").glob("escaped-abs*"))


def test_run_name_in_yaml_is_checked_too(workspace, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(workspace["config"].read_text(encoding="utf-8") + "  name: ../../x\n",
                      encoding="utf-8")  # appended under the run: section
    result = run_cli("train", "--config", str(config), "--output-dir", str(tmp_path / "runs"))
    assert_one_line_error(result, "run.name", "'../../x'")
    assert not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------------------
# No output lands on an input, whatever its spelling; a failed write leaves nothing behind


@pytest.fixture
def files(workspace, run_copy, tmp_path) -> dict[str, Path]:
    """Inputs a careless output could destroy, with other names for the same files."""
    d = {"dir": tmp_path, "run": run_copy, "in": tmp_path / "in.txt", "gold": tmp_path / "gold.xml",
         "corpus": tmp_path / "c.txt", "config": tmp_path / "c.yaml", "sub": tmp_path / "sub"}
    d["in"].write_text("сбербанк спасибо\nвтб ужасно\n", encoding="utf-8")
    shutil.copy(workspace["train"], d["gold"])
    d["corpus"].write_text("сбербанк спасибо\nвтб ужасно\n" * 5, encoding="utf-8")
    d["config"].write_text("vectors: {word2vec: {min_count: 1, epochs: 1}}\n", encoding="utf-8")
    d["sub"].mkdir()
    (tmp_path / "link.txt").symlink_to("in.txt")
    os.link(d["in"], tmp_path / "hard.txt")
    os.link(d["gold"], tmp_path / "gold-hard.xml")
    os.link(d["corpus"], tmp_path / "c-hard.txt")
    return d


# (arguments, a fragment of the error); {dir} is the folder of `files`, {run} a copy of a run
OUTPUT_IS_INPUT = {
    "predict -o input": (["predict", "{run}", "{dir}/in.txt", "-o", "{dir}/in.txt"], "would overwrite the input"),
    "predict -o ./input": (["predict", "{run}", "{dir}/in.txt", "-o", "{dir}/./in.txt"], "would overwrite the input"),
    "predict -o sub/../input": (["predict", "{run}", "{dir}/in.txt", "-o", "{dir}/sub/../in.txt"], "in.txt (the same file)"),
    "predict -o new/../input": (["predict", "{run}", "{dir}/in.txt", "-o", "{dir}/new/../in.txt"], "in.txt (the same file)"),
    "predict -o symlink": (["predict", "{run}", "{dir}/in.txt", "-o", "{dir}/link.txt"], "in.txt (the same file)"),
    "predict symlink -o target": (["predict", "{run}", "{dir}/link.txt", "-o", "{dir}/in.txt"], "link.txt (the same file)"),
    "predict -o hard link": (["predict", "{run}", "{dir}/in.txt", "-o", "{dir}/hard.txt"], "in.txt (the same file)"),
    "predict xml -o gold": (["predict", "{run}", "{dir}/gold.xml", "--format", "sentirueval", "-o", "{dir}/gold.xml"], "would overwrite the input"),
    "predict xml -o gold hard link": (["predict", "{run}", "{dir}/gold.xml", "--format", "sentirueval", "-o", "{dir}/gold-hard.xml"], "gold.xml (the same file)"),
    "predict -o run weights": (["predict", "{run}", "{dir}/in.txt", "-o", "{run}/model.pt"], "would overwrite the input"),
    "predict model.pt -o run config": (["predict", "{run}/model.pt", "{dir}/in.txt", "-o", "{run}/config.yaml"], "config.yaml"),
    "predict -o folder": (["predict", "{run}", "{dir}/in.txt", "-o", "{dir}/sub"], "is a directory"),
    "embeddings -o corpus": (["embeddings", "train", "{dir}/c.txt", "-o", "{dir}/c.txt"], "would overwrite the input"),
    "embeddings -o corpus hard link": (["embeddings", "train", "{dir}/in.txt", "{dir}/c.txt", "-o", "{dir}/c-hard.txt"], "c.txt (the same file)"),
    "embeddings -o its config": (["embeddings", "train", "{dir}/c.txt", "--config", "{dir}/c.yaml", "-o", "{dir}/c.yaml"], "would overwrite the input"),
    "embeddings -o folder": (["embeddings", "train", "{dir}/c.txt", "-o", "{dir}/sub"], "is a directory"),
    "export into a run file": (["export", "{run}", "{run}/metrics.json"], "would overwrite the input"),
    "export -o folder": (["export", "{run}", "{dir}/sub"], "is a directory"),
}


@pytest.mark.parametrize("case", list(OUTPUT_IS_INPUT))
def test_an_output_that_is_an_input_is_refused(files, case):
    args, fragment = OUTPUT_IS_INPUT[case]
    before = snapshot(files["dir"])
    result = run_cli(*(a.format(dir=files["dir"], run=files["run"]) for a in args))
    assert_one_line_error(result, fragment)
    assert snapshot(files["dir"]) == before


@pytest.mark.parametrize("stream", ["stdin", "stdout"])
def test_a_redirected_stream_that_is_the_input_or_output_is_refused(files, stream):
    """``predict RUN - -o in.txt < in.txt`` and ``predict RUN in.txt >> in.txt``."""
    before = snapshot(files["dir"])
    args = ["predict", str(files["run"]), "-", "-o", str(files["in"])] if stream == "stdin" else \
        ["predict", str(files["run"]), str(files["in"])]
    mode = "r" if stream == "stdin" else "a"
    with open(files["in"], mode, encoding="utf-8") as f, open(files["dir"] / "err", "w+") as err:
        code = subprocess.run([sys.executable, "-m", "sentinet", *args], timeout=300, stderr=err,
                              **{stream: f}).returncode
        err.seek(0)
        result = subprocess.CompletedProcess(args, code, "", err.read())
    (files["dir"] / "err").unlink()
    assert_one_line_error(result, "standard input" if stream == "stdin" else "standard output is the input")
    assert snapshot(files["dir"]) == before


# A failure after the output was opened (a bad row deep in a streamed TSV) keeps the old file,
# removes the temp file and removes any folder made for the output.
BAD_TSV = "id\ttext\n" + "".join(f"{i}\tсбербанк спасибо\n" for i in range(20)) + "x\ttoo\tmany\n"


@pytest.mark.parametrize("output", ["existing.csv", "new/deeper/out.csv"])
def test_a_failed_predict_leaves_the_output_as_it_was(files, output):
    (files["dir"] / "bad.tsv").write_text(BAD_TSV, encoding="utf-8")
    (files["dir"] / "existing.csv").write_text("earlier predictions\n", encoding="utf-8")
    before = snapshot(files["dir"])
    result = run_cli("predict", str(files["run"]), str(files["dir"] / "bad.tsv"), "--chunk-size", "2",
                     "-o", str(files["dir"] / output))
    assert_one_line_error(result, "bad.tsv: line 22: 3 fields, but the header has 2")
    assert snapshot(files["dir"]) == before


# Quoting and the token cap: bad values are one line, before anything is read or written
QUOTING_AND_CAP = {
    "quoted TSV with a stray quote": (["predict", "{run}", "{dir}/raw.tsv", "--quoting", "quoted", "-o", "{dir}/o.csv"],
                                      "raw.tsv: line 2: malformed TSV"),
    "--quoting unknown": (["predict", "{run}", "{dir}/raw.tsv", "--quoting", "csv"], "--quoting 'csv'"),
    "data.quoting unknown": (["train", "--config", "{config}", "--set", "data.quoting=csv", "--output-dir", "{dir}/runs"],
                             "data.quoting: 'csv' is not one of auto, none, quoted"),
    "tokenizer.max_tokens 0": (["train", "--config", "{config}", "--set", "tokenizer.max_tokens=0", "--output-dir", "{dir}/runs"],
                               "tokenizer.max_tokens: 0 must be ≥ 1"),
}


@pytest.mark.parametrize("case", list(QUOTING_AND_CAP))
def test_bad_quoting_and_token_cap(workspace, files, case):
    args, fragment = QUOTING_AND_CAP[case]
    (files["dir"] / "raw.tsv").write_text('id\ttext\n1\t"Сбер" завис\n', encoding="utf-8")
    before = snapshot(files["dir"])
    result = run_cli(*(a.format(dir=files["dir"], run=files["run"], config=workspace["config"]) for a in args))
    assert_one_line_error(result, fragment)
    assert snapshot(files["dir"]) == before


# --------------------------------------------------------------------------------------
# sentinet export: a bad destination is refused before anything is written


def _fake_ensemble(tmp: Path) -> Path:
    folder = tmp / "ensemble"
    folder.mkdir()
    (folder / "ensemble.json").write_text('{"members": ["a", "b"]}', encoding="utf-8")
    return folder


def _directory(path: Path) -> Path:
    path.mkdir()
    return path


EXPORT_CASES = {  # id: (arguments after `export`, built from the run and a scratch folder; error fragments)
    "nothing to write": (lambda run, tmp: [run], ["nothing to write"]),
    "onnx without .onnx": (lambda run, tmp: [run, "--onnx", tmp / "model.bin"], ["model.bin", "must end in .onnx"]),
    "onnx is a directory": (lambda run, tmp: [run, "--onnx", _directory(tmp / "m.onnx")], ["m.onnx", "is a directory"]),
    "onnx folder missing": (lambda run, tmp: [run, "--onnx", tmp / "nowhere" / "m.onnx"], ["nowhere", "does not exist"]),
    "onnx of an ensemble": (lambda run, tmp: [_fake_ensemble(tmp), tmp / "e.tar.gz", "--onnx", tmp / "e.onnx"],
                            ["an ensemble", "exports one run"]),
}


@pytest.mark.parametrize("case", EXPORT_CASES)
def test_bad_export_destination_is_refused(workspace, tmp_path, case):
    arguments, fragments = EXPORT_CASES[case]
    args = [str(a) for a in arguments(workspace["run"], tmp_path)]
    before, run_before = snapshot(tmp_path), snapshot(workspace["run"])
    assert_one_line_error(run_cli("export", *args), *fragments)
    assert snapshot(tmp_path) == before and snapshot(workspace["run"]) == run_before


# --------------------------------------------------------------------------------------
# Numbers out of range: refused where the config is built, before any data is read


# Every number field's range is checked in-process for each field in tests/config/test_schema.py;
# this table is the cases and a few of each kind, each given to the config loader train
# calls first (in process), and the CLI run for NUMBERS_THROUGH_THE_CLI.
BAD_NUMBERS = [  # --set KEY=VALUE → the one-line error
    ("train.clip_grad_norm=-1", "train.clip_grad_norm: -1.0 must be ≥ 0 or null"),  # flipped gradients
    ("train.patience=0", "train.patience: 0 must be ≥ 1"),  # stopped after epoch 1
    ("train.batch_size=0", "train.batch_size: 0 must be ≥ 1"),
    ("train.batch_size=-5", "train.batch_size: -5 must be ≥ 1"),
    ("train.epochs=0", "train.epochs: 0 must be ≥ 1"),
    ("train.epochs=-1", "train.epochs: -1 must be ≥ 1"),
    ("train.optimizer.lr=-1", "train.optimizer.lr: -1.0 must be > 0"),
    ("train.optimizer.lr=0", "train.optimizer.lr: 0.0 must be > 0"),
    ("train.optimizer.lr=.nan", "train.optimizer.lr: nan is not a finite number"),
    ("train.num_threads=-1", "train.num_threads: -1 must be ≥ 1 and ≤ 4096 or null"),
    ("train.label_smoothing=1", "train.label_smoothing: 1.0 must be ≥ 0 and < 1"),
    ("train.ema_decay=1", "train.ema_decay: 1.0 must be > 0 and < 1"),
    ("train.swa_start=0", "train.swa_start: 0 must be ≥ 1"),
    ("train.class_weights=[1,0,1]", "train.class_weights[1]: 0.0 must be > 0"),
    ("model.encoder.hidden_size=0", "model.encoder.hidden_size: 0 must be ≥ 1"),
    ("model.encoder={name: cnn, widths: []}", "model.encoder.widths: [] must hold at least one"),
    ("model.head_dropout=1.5", "model.head_dropout: 1.5 must be ≥ 0 and < 1"),
    ("model.embedding_dropout=-0.1", "model.embedding_dropout: -0.1 must be ≥ 0 and < 1"),
    ("vectors.oov_min_count=-3", "vectors.oov_min_count: -3 must be ≥ 1"),
    ("vectors.word2vec.dim=0", "vectors.word2vec.dim: 0 must be ≥ 1"),
    ("vectors.word2vec.dim=-5", "vectors.word2vec.dim: -5 must be ≥ 1"),
    ("vectors.word2vec.window=0", "vectors.word2vec.window: 0 must be ≥ 1"),
    ("vectors.word2vec.epochs=-1", "vectors.word2vec.epochs: -1 must be ≥ 1"),
    ("data.val_fraction=1", "data.val_fraction: 1.0 must be > 0 and < 1"),
]


NUMBERS_THROUGH_THE_CLI = ["train.clip_grad_norm=-1", "train.patience=0", "model.encoder={name: cnn, widths: []}"]


@pytest.mark.parametrize("override, message", BAD_NUMBERS, ids=[o for o, _ in BAD_NUMBERS])
def test_the_config_loader_refuses_numbers_out_of_range(workspace, override, message):
    with pytest.raises(SentinetError) as refused:
        load_config(workspace["config"], [override])
    assert message in str(refused.value)


@pytest.mark.parametrize("override, message", [(o, m) for o, m in BAD_NUMBERS if o in NUMBERS_THROUGH_THE_CLI],
                         ids=NUMBERS_THROUGH_THE_CLI)
def test_numbers_out_of_range_are_refused_before_anything_runs(workspace, tmp_path, override, message):
    out = tmp_path / "runs"
    before = snapshot(workspace["dir"])
    result = run_cli("train", "--config", str(workspace["config"]), "--output-dir", str(out),
                     "--set", override)
    assert_one_line_error(result, message)
    assert "data:" not in result.stderr, "the data was read before the config was checked"
    assert not out.exists()
    assert snapshot(workspace["dir"]) == before


BAD_WORD2VEC = ["window=0", "dim=0", "dim=-5", "epochs=-1", "min_count=0"]


@pytest.mark.parametrize("override", BAD_WORD2VEC)
def test_embeddings_train_refuses_bad_word2vec_numbers(workspace, tmp_path, override):
    """window=0 used to hang for ever (a gensim worker died, the main process waited)."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("сбербанк спасибо\nвтб ужасно плохо\n" * 20, encoding="utf-8")
    out = tmp_path / "out" / "vectors.bin"
    result = run_cli("embeddings", "train", str(corpus), "-o", str(out),
                     "--set", f"vectors.word2vec.{override}")
    key, _, value = override.partition("=")
    assert_one_line_error(result, f"vectors.word2vec.{key}: {value} must be ≥ 1")
    assert not out.parent.exists()


# --------------------------------------------------------------------------------------
# Damaged run directories: one line naming the file, whatever is in it


def _edit_vocab(change):
    def tamper(run: Path) -> None:
        path = run / "vocab.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        data = change(data) or data
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return tamper


def _weights(make):
    def tamper(run: Path) -> None:
        make(run / "model.pt")
    return tamper


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


DAMAGED_RUNS = {  # id → (tamper with the run directory, fragments of the error line)
    "model.pt random bytes": (_weights(lambda p: p.write_bytes(os.urandom(5000))),
                              ["model.pt", "not a torch file"]),
    "model.pt holding object()": (_weights(lambda p: torch.save({"x": object()}, p)),
                                  ["model.pt", "objects other than tensors"]),
    "model.pt empty": (_weights(lambda p: p.write_bytes(b"")), ["model.pt", "not a torch file"]),
    "model.pt cut in half": (_weights(_truncate), ["model.pt", "not a sentinet weights file"]),
    "model.pt a list of tensors": (_weights(lambda p: torch.save([torch.zeros(2)], p)),
                                   ["model.pt", "expected a state_dict"]),
    "vocab n_learned a string": (_edit_vocab(lambda d: d.update(n_learned="2")),
                                 ["vocab.json", "'n_learned' must be a whole number", "'2'"]),
    "vocab words not a list": (_edit_vocab(lambda d: d.update(words="<pad> <unk>")),
                               ["vocab.json", "'words' must be a list of strings"]),
    "vocab without <pad> <unk>": (_edit_vocab(lambda d: d.update(words=d["words"][2:])),
                                  ["vocab.json", "must start with '<pad>', '<unk>'"]),
    "vocab word twice": (_edit_vocab(lambda d: d["words"].__setitem__(3, d["words"][4])),
                         ["vocab.json", "lists a word twice"]),
    "vocab vectors a list": (_edit_vocab(lambda d: d.update(vectors=[1])),
                             ["vocab.json", "'vectors' must be an object"]),
    "vocab vectors.dim a string": (_edit_vocab(lambda d: d["vectors"].update(dim="8")),
                                   ["vocab.json", "'vectors.dim' has the wrong type"]),
    "vocab a JSON list": (_edit_vocab(lambda d: [d]), ["vocab.json", "expected a JSON object"]),
    "vocab cut (fewer words than rows)": (_edit_vocab(lambda d: d.update(words=d["words"][:-3])),
                                          ["vocab.json", "do not fit model.pt"]),
    "vocab padded (more words than rows)": (_edit_vocab(lambda d: d["words"].extend(["лишнее", "слово"])),
                                            ["vocab.json", "do not fit model.pt"]),
    "vocab with an extra trainable row": (_edit_vocab(lambda d: d.update(n_learned=d["n_learned"] + 1)),
                                          ["vocab.json", "do not fit model.pt"]),
}


# every case in process; these also through predict and eval (the two "cut" ones)
DAMAGED_THROUGH_THE_CLI = ["model.pt random bytes", "model.pt cut in half", "vocab cut (fewer words than rows)"]


@pytest.mark.parametrize("case", list(DAMAGED_RUNS))
def test_damaged_run_directories_are_refused_by_the_loader(run_copy, case):
    """What eval and predict load a run with (sentinet.load), in process: one SentinetError."""
    tamper, fragments = DAMAGED_RUNS[case]
    tamper(run_copy)
    before = snapshot(run_copy.parent)
    with pytest.raises(SentinetError) as refused:
        load(run_copy)
    for fragment in fragments:
        assert fragment in str(refused.value)
    assert snapshot(run_copy.parent) == before


@pytest.mark.parametrize("case", DAMAGED_THROUGH_THE_CLI)
def test_damaged_run_directories_fail_in_one_line(workspace, run_copy, case):
    tamper, fragments = DAMAGED_RUNS[case]
    tamper(run_copy)
    before = snapshot(run_copy.parent)
    command = ["eval", str(run_copy), str(workspace["train"])] if "cut" in case else \
              ["predict", str(run_copy), str(workspace["lines"])]
    result = run_cli(*command)
    assert_one_line_error(result, *fragments)
    assert result.stdout == ""
    assert snapshot(run_copy.parent) == before


# --------------------------------------------------------------------------------------
# A full disk during a save: one line naming the file, no temp file, nothing replaced


def _file_size_limit(limit: int):
    """In the child: writes past ``limit`` bytes fail with EFBIG (Python ignores SIGXFSZ),
    which, like a full disk, fails a write midway through the file without root."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def _temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob(".*.tmp")]


@pytest.mark.parametrize("limit, target", [(8_000, "model.pt"), (30_000, "last.pt")])
def test_a_failed_checkpoint_write_names_the_file(workspace, tmp_path, limit, target):
    """The tiny run's model.pt is ~16 kB and last.pt ~55 kB: each limit fails one of them."""
    out = tmp_path / "runs"
    result = run_cli("train", "--config", str(workspace["config"]), "--output-dir", str(out),
                     preexec_fn=_file_size_limit(limit))
    assert_one_line_error(result, target, "cannot write (File too large)")
    assert not _temp_files(out)


def test_a_failed_prediction_write_keeps_the_old_output(workspace, run_copy, tmp_path):
    output = tmp_path / "predictions.csv"
    output.write_text("kept\n", encoding="utf-8")
    result = run_cli("predict", str(run_copy), str(workspace["lines"]), "-o", str(output),
                     preexec_fn=_file_size_limit(16))
    assert_one_line_error(result, "predictions.csv", "cannot write")
    assert output.read_text(encoding="utf-8") == "kept\n"
    assert not _temp_files(tmp_path)


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 64 kB tmpfs (a real ENOSPC) where this process may mount one (root); skipped elsewhere."""
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_disk_full_during_training_names_the_file(workspace, small_tmpfs):
    result = run_cli("train", "--config", str(workspace["config"]), "--output-dir", str(small_tmpfs))
    assert_one_line_error(result, str(small_tmpfs), "cannot write (No space left on device)")
    assert "RuntimeError" not in result.stderr and "unexpected pos" not in result.stderr
    assert not _temp_files(small_tmpfs)


# --------------------------------------------------------------------------------------
# Incomplete runs, resume of what is not a run, run files that do not fit, full disks


def killed_in_epoch_1(run: Path) -> Path:
    """What a kill -9 (or a power cut) during epoch 1 leaves: config, vocabulary, log, note."""
    for name in ("model.pt", "last.pt", "metrics.json", "metrics.csv", "dev_predictions.json",
                 "curves.png", "confusion.png"):
        (run / name).unlink(missing_ok=True)
    (run / "INCOMPLETE").write_text("training has not finished: it is running, or was killed\n",
                                    encoding="utf-8")
    return run


def killed_later(run: Path) -> Path:
    (run / "INCOMPLETE").write_text("training has not finished: it is running, or was killed\n",
                                    encoding="utf-8")
    return run


@pytest.mark.parametrize("damage, command, fragments", [
    (killed_in_epoch_1, ["eval", "{run}", "{train}"], ["incomplete run", "no model.pt yet", "--resume {run}"]),
    (killed_in_epoch_1, ["predict", "{run}", "{lines}"], ["incomplete run", "--resume {run}"]),
    (killed_in_epoch_1, ["report", "{run}"], ["incomplete run", "no epoch saved yet", "--resume {run}"]),
    (killed_later, ["export", "{run}", "{tmp}/model.tar.gz"], ["incomplete run", "--resume {run}"]),
], ids=["eval", "predict", "report", "export"])
def test_incomplete_run_says_so_and_how_to_resume(workspace, run_copy, tmp_path, damage, command, fragments):
    damage(run_copy)
    fill = {"run": run_copy, "train": workspace["train"], "lines": workspace["lines"], "tmp": tmp_path}
    before = snapshot(tmp_path)
    result = run_cli(*(arg.format(**fill) for arg in command))
    assert_one_line_error(result, *(f.format(**fill) for f in fragments))
    assert snapshot(tmp_path) == before


def not_a_run(tmp_path: Path, run: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


def finished_without_last(tmp_path: Path, run: Path) -> Path:
    (run / "last.pt").unlink()
    return run


def broken_group_plan(tmp_path: Path, run: Path) -> Path:
    (tmp_path / "group").mkdir()
    (tmp_path / "group" / "group.json").write_text('{"kind": "seeds"', encoding="utf-8")
    return tmp_path / "group"


def incomplete_with_broken_config(tmp_path: Path, run: Path) -> Path:
    (killed_later(run) / "config.yaml").write_text("train:\n  epochs: [\n", encoding="utf-8")
    return run


@pytest.mark.parametrize("make, fragments", [
    (not_a_run, ["empty: not a sentinet run directory (no config.yaml)"]),
    (lambda tmp, run: tmp / "nowhere", ["--resume", "nowhere: no such run directory"]),
    (lambda tmp, run: run / "model.pt", ["model.pt: not a sentinet run directory"]),
    (finished_without_last, ["no last.pt to resume from"]),
    (broken_group_plan, ["group.json: unreadable group plan"]),
    (incomplete_with_broken_config, ["config.yaml: expected the node content", "line 3"]),
], ids=["empty folder", "missing path", "model file", "finished run without last.pt",
        "group with a broken plan", "incomplete run with a broken config.yaml"])
def test_resume_of_what_cannot_be_resumed(run_copy, tmp_path, make, fragments):
    target = make(tmp_path, run_copy)
    before = snapshot(tmp_path)
    assert_one_line_error(run_cli("train", "--resume", str(target)), *fragments)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("config_yaml, fragments", [
    ("{original}bogus: {{x: 1}}\n", ["config.yaml: unknown config key 'bogus'"]),
    ("{original}train: {{epochs: 2}}\n", ["config.yaml: key 'train' is given twice"]),
    ("train:\n  epochs: [\n", ["config.yaml: expected the node content", "line 3"]),
    ("{hidden_32}", ["model.pt: weights do not fit the run's config.yaml and vocab.json",
                     "encoder.rnn.weight_hh_l0 expected (96, 32), found (48, 16)",
                     "head.1.weight expected (3, 64), found (3, 32))"]),  # the last one: nothing cut off
], ids=["unknown key", "duplicate key", "broken yaml", "weights of another shape"])
def test_run_config_problems_are_one_line_naming_the_file(workspace, run_copy, config_yaml, fragments):
    original = (run_copy / "config.yaml").read_text(encoding="utf-8")
    hidden_32 = original.replace("hidden_size: 16", "hidden_size: 32")
    assert hidden_32 != original
    (run_copy / "config.yaml").write_text(config_yaml.format(original=original, hidden_32=hidden_32),
                                          encoding="utf-8")
    before = snapshot(run_copy)
    result = run_cli("eval", str(run_copy), str(workspace["train"]))
    assert_one_line_error(result, *fragments)
    assert snapshot(run_copy) == before


@pytest.mark.parametrize("command", [
    ["predict", "{run}", "{lines}", "-o", "{out}"],
    ["embeddings", "train", "{lines}", "-o", "{out}", "--set", "vectors.word2vec.min_count=1"],
], ids=["predict", "embeddings train"])
def test_output_that_is_a_directory_is_named_not_a_temp_file(workspace, tmp_path, command):
    (tmp_path / "out").mkdir()
    before = snapshot(tmp_path)
    fill = {"run": workspace["run"], "lines": workspace["lines"], "out": tmp_path / "out"}
    result = run_cli(*(arg.format(**fill) for arg in command))
    assert_one_line_error(result, f"{tmp_path / 'out'}: is a directory")
    assert ".tmp" not in result.stderr
    assert snapshot(tmp_path) == before


def run_with_file_size_limit(limit: int, *args: str) -> subprocess.CompletedProcess:
    """The CLI as on a full disk: no file it writes may grow past ``limit`` bytes (the kernel
    answers EFBIG as it would ENOSPC: the same failed write)."""
    import resource
    import signal

    def limited() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "sentinet", *args], capture_output=True, text=True,
                          timeout=300, preexec_fn=limited)


def test_full_disk_during_training_names_the_file_and_leaves_no_run(workspace, tmp_path):
    weights = (workspace["run"] / "model.pt").stat().st_size
    assert 2 * weights < (workspace["run"] / "last.pt").stat().st_size  # model.pt fits, last.pt not
    out = tmp_path / "runs"
    result = run_with_file_size_limit(2 * weights, "train", "--config", str(workspace["config"]),
                                      "--output-dir", str(out))
    assert_one_line_error(result, "last.pt: cannot write (File too large)")
    assert ".tmp" not in result.stderr
    assert not out.exists() or not any(out.iterdir()), "a run that never saved a checkpoint was left"


def test_full_disk_during_predict_names_the_output_and_leaves_nothing(workspace, tmp_path):
    lines = tmp_path / "many.txt"
    lines.write_text("сбербанк спасибо отлично\n" * 200, encoding="utf-8")
    before = snapshot(tmp_path)
    result = run_with_file_size_limit(2000, "predict", str(workspace["run"]), str(lines),
                                      "-o", str(tmp_path / "labels.csv"))
    assert_one_line_error(result, "labels.csv: cannot write (File too large)")
    assert snapshot(tmp_path) == before
