"""``sentinet export RUN --onnx model.onnx``: the model as an ONNX graph for serving stacks.

The graph maps token ids ``[batch, time]`` (int64, padded with the pad id) and lengths
``[batch]`` (int64, ≥ 1) to class probabilities ``[batch, classes]`` (float32, softmax
included; a multi-label run's one sigmoid per class), both axes dynamic: the numbers are
``sentinet predict``'s ``p_`` columns.
``model.onnx.json`` beside it holds what a server needs to make the ids and read the output:
the vocabulary (word → id, with the run's training words plus pretrained rows for the vectors
file's first ``--vocab-size`` unseen words, as ``export`` bundles them), the tokenizer
settings, the class names and labels in output order, and the decision bias (a multi-label
run: ``multilabel``, and per-class ``thresholds`` in place of the bias).

Exporter: torch's TorchScript-based one (``dynamo=False``). It needs no onnxscript, maps
``pack_padded_sequence`` onto the ``sequence_lens`` input of ONNX's RNN/LSTM/GRU ops, and
turns SRU's scripted time loop into an ONNX ``Loop``, so one graph serves every length;
torch.export would have to trace the data-dependent packing instead. Before anything is
written, onnxruntime runs the graph on a probe batch and it must agree with PyTorch.

A hybrid run (``train.hybrid: blend``) exports its network only: the metadata's
``not_in_graph`` and a note say so. A wide & deep run (``train.hybrid: wide``) is one model,
and all of it is in the graph: its wide part folded (``WideNgrams.folded``: one row of n-gram
weights per word, bigrams hashed in the graph), checked by the probe against the model as
trained, ids beyond the run's vocabulary read as <unk> as predict reads them.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from sentinet.runs import weights
from sentinet.runs import rundir
from sentinet.runs.provenance import __version__
from sentinet.errors import SentinetError, install_hint

FORMAT = "sentinet-onnx/1"
OPSET = 17
TOLERANCE = 1e-5  # largest |Δp| allowed between onnxruntime and PyTorch on the probe batch
EXTRA = install_hint("onnx")
NOT_IN_GRAPH = ("the graph is the network alone: this hybrid run's linear part (TF-IDF n-grams, linear.json "
                "and linear.npz) is not in it, so its probabilities are the network's, not the run's "
                "(sentinet predict and export archives blend both)")


def require_extra() -> None:
    """The export writes with onnx and checks with onnxruntime (both in the ``onnx`` extra)."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise SentinetError(f"--onnx needs onnx and onnxruntime ({exc.name} is not installed): {EXTRA}") from None


def metadata_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def check_target(source: Path, path: Path) -> None:
    """Refuse a bad --onnx before anything is written (the archive included)."""
    if path.suffix != ".onnx":
        raise SentinetError(f"--onnx {path}: the file name must end in .onnx")
    if path.is_dir() or metadata_path(path).is_dir():
        raise SentinetError(f"--onnx {path}: is a directory; give the .onnx file's name")
    if not path.parent.is_dir():
        raise SentinetError(f"--onnx {path}: folder {path.parent} does not exist")
    if (Path(source) / rundir.ENSEMBLE).is_file():
        raise SentinetError(f"{source}: an ensemble; --onnx exports one run (export each member "
                            f"listed in {rundir.ENSEMBLE})")
    require_extra()


class Probabilities(nn.Module):
    """What serving stacks call: ids + lengths → probabilities (softmax, or a multi-label
    head's sigmoids), exactly as ``predict_proba`` does."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        return self.model.probabilities(self.model(ids, lengths))


def export_onnx(source: Path, path: Path, vocab_size: int) -> dict:
    """Write ``path`` and ``path.json`` (each atomically); returns the metadata written."""
    from sentinet.runs.export import unseen_vectors

    check_target(source, path)
    run = weights.load_run(source, torch.device("cpu"))
    words, matrix, _ = unseen_vectors(run.vocab, vocab_size)  # the note is export's to print
    if words:  # the same rows predict would append for these words
        run.vocab.extend(words)
        run.model.embedder.append_pretrained(torch.from_numpy(matrix))
    metadata = _metadata(run)
    if (run.run_dir / rundir.HYBRID).is_file():
        metadata["not_in_graph"] = NOT_IN_GRAPH
    model = Probabilities(run.model).eval()
    graph = to_onnx(graph_ready(model))
    _verify(model, graph, len(run.vocab))  # against the model as trained, not its folded copy
    _write_atomically(path, graph)
    _write_atomically(metadata_path(path), json.dumps(metadata, ensure_ascii=False).encode("utf-8"))
    return metadata


def graph_ready(model: Probabilities) -> Probabilities:
    """The model with its wide part (if any) folded: the exporter cannot express the trained
    form's repeat_interleave over data-dependent counts. A copy: verify needs the original."""
    wide = getattr(model.model, "wide", None)
    if wide is None:
        return model
    ready = copy.deepcopy(model)
    ready.model.wide = wide.folded()
    return ready.eval()


def to_onnx(model: Probabilities) -> bytes:
    """Trace on a small uneven batch (which ids does not matter); the C++ exporter's
    shape-inference notes about packed sequences (harmless: the verify step checks the
    numbers) are kept off the terminal."""
    import io

    from sentinet.data.vocab import PAD_ID, UNK_ID

    ids, lengths = torch.tensor([[UNK_ID] * 3, [UNK_ID, PAD_ID, PAD_ID]]), torch.tensor([3, 1])
    buffer = io.BytesIO()
    with warnings.catch_warnings(), _silenced_stderr():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer notes
        try:
            torch.onnx.export(
                model, (ids, lengths), buffer, dynamo=False, opset_version=OPSET,
                input_names=["ids", "lengths"], output_names=["probs"],
                dynamic_axes={"ids": {0: "batch", 1: "time"}, "lengths": {0: "batch"}, "probs": {0: "batch"}},
            )
        except Exception as exc:  # the exporter's errors are long; say what failed, in one line
            raise SentinetError(f"ONNX export failed: {_first_line(exc)}") from None
    return buffer.getvalue()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextlib.contextmanager
def _silenced_stderr():
    """File descriptor 2 to /dev/null: the exporter's C++ warnings bypass Python's."""
    saved = os.dup(2)
    with open(os.devnull, "wb") as null:
        os.dup2(null.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def probe_batch(vocab_len: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Lengths 1 to 12 in a shuffled order, ids drawn from the whole vocabulary."""
    rng = np.random.default_rng(seed)
    lengths = rng.permutation(np.arange(1, 13))
    ids = np.zeros((len(lengths), lengths.max()), dtype=np.int64)
    for row, n in enumerate(lengths):
        ids[row, :n] = rng.integers(1, vocab_len, n)
    return ids, lengths.astype(np.int64)


def _verify(model: Probabilities, graph: bytes, vocab_len: int) -> None:
    """The ONNX checker, then onnxruntime against PyTorch on a probe batch."""
    import onnx
    import onnxruntime

    onnx.checker.check_model(onnx.load_from_string(graph))
    ids, lengths = probe_batch(vocab_len)
    try:
        session = onnxruntime.InferenceSession(graph, providers=["CPUExecutionProvider"])
        (got,) = session.run(None, {"ids": ids, "lengths": lengths})
    except Exception as exc:  # onnxruntime raises its own types; one line says what broke
        raise SentinetError(f"ONNX export: onnxruntime cannot run the graph ({_first_line(exc)}); "
                            "nothing written") from None
    with torch.no_grad():
        expected = model(torch.from_numpy(ids), torch.from_numpy(lengths)).numpy()
    gap = float(np.abs(got - expected).max())
    if not gap <= TOLERANCE:
        raise SentinetError(f"ONNX export: onnxruntime and PyTorch disagree (max |Δp| = {gap:.2g}); "
                            "nothing written")


def _metadata(run: weights.LoadedRun) -> dict:
    from dataclasses import asdict

    from sentinet.data.vocab import PAD_ID, UNK_ID

    return {
        "format": FORMAT,
        "producer": f"sentinet {__version__}",
        "run": run.run_dir.name,
        "inputs": {"ids": "int64 [batch, time]: token ids, padded with pad_id",
                   "lengths": "int64 [batch]: tokens per text, at least 1"},
        "output": "probs: float32 [batch, classes], softmax over classes",
        "classes": list(run.labels.names),  # the p_ columns of predict, in output order
        "labels": list(run.labels.values),  # its label column
        "decision": "label = labels[argmax(log(probs) + bias)]",
        "bias": list(rundir.load_decision(run.run_dir, len(run.labels)) or [0.0] * len(run.labels)),
        **(_multilabel_rule(run) if run.labels.multilabel else {}),
        "tokenizer": asdict(run.config.tokenizer),
        "pad_id": PAD_ID,
        "unk_id": UNK_ID,
        "empty_text": [UNK_ID],
        "vocab": {word: i for i, word in enumerate(run.vocab.words)},
    }


def _multilabel_rule(run: weights.LoadedRun) -> dict:
    """A multi-label run's output and rule, in place of the softmax and bias: one sigmoid per
    class, and every class whose probability reaches its threshold (0.5 without decision.json)."""
    from sentinet.evaluation.decision import DEFAULT_THRESHOLD

    thresholds = rundir.load_decision(run.run_dir, len(run.labels))
    return {"output": "probs: float32 [batch, classes], one sigmoid per class (multi-label: they need not "
                      "sum to 1)",
            "multilabel": True,
            "decision": "labels = [labels[j] for every class j with probs[j] >= thresholds[j]] (may be empty)",
            "bias": None,
            "thresholds": list(thresholds or [DEFAULT_THRESHOLD] * len(run.labels))}


def _write_atomically(path: Path, payload: bytes) -> None:
    from sentinet.fileio import atomic_open

    with atomic_open(path, "wb", named=True) as f:
        f.write(payload)


def feed(metadata: dict, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """The graph's inputs for ``texts``, made from the metadata alone: sentinet's tokenizer
    with the run's settings, unknown words → unk_id, an empty text → [unk_id]."""
    from sentinet.config.schema import TokenizerConfig
    from sentinet.data.tokenize import Tokenizer

    tokenizer = Tokenizer(TokenizerConfig(**metadata["tokenizer"]))
    vocab, unk = metadata["vocab"], metadata["unk_id"]
    rows = [[vocab.get(t, unk) for t in tokenizer(text)] or list(metadata["empty_text"]) for text in texts]
    ids = np.full((len(rows), max(map(len, rows), default=1)), metadata["pad_id"], dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    return {"ids": ids, "lengths": np.array([len(r) for r in rows], dtype=np.int64)}
