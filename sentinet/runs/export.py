"""``sentinet export RUN out.tar.gz``: one self-contained archive that ``eval`` and ``predict``
take on another machine, without the original vectors file.

The archive holds the run (or every member of an ensemble) with its weights, vocabulary,
decision rule, a hybrid's linear part (arrays and vocabularies as data, like the run's own
files) and config (data paths reduced to file names), plus ``vectors.npz``: the
pretrained vectors of the first ``vocab_size`` words of the run's vectors file, so words the
training data never showed still get their vector at predict time. An ensemble's
``sentinet baseline`` member travels as its own files (baseline.json, baseline.npz,
metrics.json, config), and ensemble.json keeps its weights. Beside each run's model.pt,
``lite.npz`` and ``lite.json`` hold the network as numpy arrays (sentinet.lite), so predict
can answer without importing torch; a model the light engine cannot express gets none and is
read through torch. Reading an archive back (which may come from anyone) is
sentinet.runs.archive's job.
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import numpy as np
import yaml

from sentinet.runs import weights
from sentinet.runs import rundir
from sentinet.runs.archive import ROOT, SUFFIXES
from sentinet.errors import SentinetError
from sentinet.fileio import atomic_path, check_own_tree, private_dir
from sentinet.runs.rundir import BUNDLE
from sentinet.config.yamlfile import read_yaml

def export(source: Path, target: Path, vocab_size: int) -> tuple[int, list[str]]:
    """Write ``target`` (atomically); returns how many run directories it holds and notes on
    what it leaves out (the vectors of words beyond ``vocab_size``)."""
    source = Path(source)
    if not target.name.endswith(SUFFIXES):
        raise SentinetError(f"{target}: an export is a .tar.gz archive")
    with private_dir("export") as tmp:
        root = Path(tmp) / ROOT
        root.mkdir()
        if (source / rundir.ENSEMBLE).is_file():
            rundir.require_done(source)
            members = rundir.members(source)
            notes = [note for i, member in enumerate(members)
                     for note in _export_member(member, root / f"member{i}", vocab_size)]
            rundir.write_members(root, [f"member{i}" for i in range(len(members))], rundir.member_weights(source))
            _copy_if_present(source / rundir.DECISION, root)
            count = len(members)
        else:
            notes = _export_run(weights.find_run_dir(source), root, vocab_size)
            count = 1
        with atomic_path(target, named=True) as partial, tarfile.open(partial, "w:gz") as tar:
            tar.add(root, arcname=ROOT)
    return count, list(dict.fromkeys(n for n in notes if n))


def unseen_vectors(vocab, vocab_size: int) -> tuple[list[str], np.ndarray, str | None]:
    """The first ``vocab_size`` words of the run's vectors file that its vocabulary lacks, with
    their vectors: what an export carries so words unseen in training keep their vector. And
    a note when the file has more such words: the run looks them up, the archive cannot."""
    from sentinet.data.embeddings import first_words, open_sources

    dim = int(vocab.vectors.get("dim") or 0)
    none = np.zeros((0, dim), np.float32)
    if vocab_size <= 0:
        return [], none, ("--vocab-size 0: the archive carries no vectors beyond the run's vocabulary, so "
                          "every word the training data did not have reads as <unk>")
    try:
        store = open_sources(vocab.vectors)
    except SentinetError as exc:
        raise SentinetError(f"cannot bundle vectors for unseen words ({exc}); "
                            "use --vocab-size 0 to export without them") from None
    words = [w for w in first_words(store, vocab_size + len(vocab)) if w not in vocab][:vocab_size]
    known = sum(1 for w in vocab.words if w in store)
    left = max(len(store) - known - len(words), 0)
    note = None
    if left or getattr(store, "format", "") == "fasttext":
        name = Path(store.path).name
        note = (f"the archive carries vectors for {len(words):,} word{'s' * (len(words) != 1)} beyond the "
                "run's vocabulary; "
                f"{left:,} more words of {name} (and, for fastText, every subword vector) are left out, "
                "so a text with one of them reads it as <unk> where the run itself would look it up, "
                f"and its probabilities can differ; --vocab-size {len(words) + left} carries them all "
                f"(about {(len(words) + left) * dim * 4 / 1e6:.0f} MB before compression)")
    return words, np.asarray(store.lookup(words), dtype=np.float32) if words else none, note


def _export_member(member: Path, out: Path, vocab_size: int) -> list[str | None]:
    """An ensemble's member: a run, or a ``sentinet baseline`` run (its model is data already)."""
    if (member / rundir.BASELINE_JSON).is_file():
        _export_baseline(member, out)
        return []
    return _export_run(weights.find_run_dir(member), out, vocab_size)


def _export_baseline(run_dir: Path, out: Path) -> None:
    """A baseline member's config (data paths reduced to file names, no vectors: it reads
    none), baseline.json, baseline.npz and metrics.json."""
    rundir.require_done(run_dir)
    check_own_tree(run_dir)  # as for a run: nothing linked from elsewhere travels
    out.mkdir(parents=True, exist_ok=True)
    for name in (rundir.BASELINE_NPZ, rundir.METRICS, rundir.BASELINE_JSON):
        shutil.copy2(run_dir / name, out / name)
    config = _portable_data(read_yaml(run_dir / rundir.CONFIG))
    vectors = config.get("vectors")
    if isinstance(vectors, dict):  # the vectors of the neural config it was fitted from: not this machine's
        vectors.update({"path": None, "concat": [], "cache_dir": None})
    _write_config(config, out)


def _portable_data(config: dict) -> dict:
    """``config`` with its data files reduced to their names and its output_dir relative: an
    archive names nothing of the machine it was made on."""
    data = config.get("data", {})
    train = data.get("train")
    data["train"] = [Path(t).name for t in train] if isinstance(train, list) else Path(train or "").name
    data["dev"] = Path(data["dev"]).name if data.get("dev") else None
    config.setdefault("run", {})["output_dir"] = "runs"
    return config


def _write_config(config: dict, out: Path) -> None:
    (out / rundir.CONFIG).write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _export_run(run_dir: Path, out: Path, vocab_size: int) -> list[str | None]:
    """A run's files, its vectors for unseen words and (where they apply) its light files; the
    notes on what the archive leaves out."""
    from sentinet.data.vocab import Vocab
    from sentinet.data.embeddings import write_bundle

    rundir.require_done(run_dir)  # an archive travels without the INCOMPLETE note
    check_own_tree(run_dir)  # a metrics.json linked to ~/.ssh/id_rsa would travel in the archive
    out.mkdir(parents=True, exist_ok=True)
    for name in (rundir.WEIGHTS, rundir.METRICS):
        shutil.copy2(run_dir / name, out / name)
    for name in (rundir.DECISION, rundir.LINEAR_JSON, rundir.LINEAR_NPZ, rundir.HYBRID):  # hybrid.json last
        _copy_if_present(run_dir / name, out)
    vocab = Vocab.load(run_dir / rundir.VOCAB)
    words, matrix, note = unseen_vectors(vocab, vocab_size)
    write_bundle(out / BUNDLE, words, matrix)
    vocab.vectors = {"path": BUNDLE, "format": "bundle", "concat": [], "dim": vocab.vectors.get("dim")}
    vocab.save(out / rundir.VOCAB)

    config = _portable_data(read_yaml(run_dir / rundir.CONFIG))
    config["vectors"].update({"path": BUNDLE, "format": "bundle", "concat": [], "cache_dir": None})
    _write_config(config, out)
    return [note, _write_lite(run_dir, out)]


# Texts of these lengths (random ids) check the light files against the model before they are
# written: shorter and longer than any CNN filter, one word to a long tweet.
PROBE_LENGTHS = (1, 2, 3, 4, 5, 7, 11, 30)
PROBE_TOLERANCE = 1e-4  # the two agree to ~1e-7; past this, something differs in kind


def _write_lite(run_dir: Path, out: Path) -> str | None:
    """lite.npz and lite.json beside the run's model.pt (sentinet.lite: predict without torch),
    when the light engine can express the model and gives its probabilities on probe texts.
    Otherwise nothing (the archive predicts through torch, as before), and a note only when the
    two disagreed: a model the engine should have expressed."""
    import torch

    from sentinet.data.vocab import Vocab
    from sentinet.lite import files
    from sentinet.lite.network import LiteNetwork

    config = rundir.read_config(run_dir / rundir.CONFIG)
    vocab = Vocab.load(run_dir / rundir.VOCAB)
    state = weights.load_weights(run_dir / rundir.WEIGHTS)
    made = files.to_lite(config, vocab.n_learned, len(vocab), state)
    if isinstance(made, str):
        return None
    spec, arrays = made
    model = weights.model_from_state(config, vocab, state, run_dir / rundir.WEIGHTS).eval()
    rng = np.random.default_rng(0)
    probes = [rng.integers(1, len(vocab), size=n).tolist() for n in PROBE_LENGTHS]
    width = max(PROBE_LENGTHS)
    with torch.inference_mode():
        ids = torch.tensor([p + [0] * (width - len(p)) for p in probes])
        expected = model.probabilities(model(ids, torch.tensor([len(p) for p in probes]))).float().numpy()
    got = LiteNetwork(config, arrays).predict_ids(probes, batch_size=len(probes))
    gap = float(np.abs(got - expected).max())
    if not gap <= PROBE_TOLERANCE:
        return (f"{run_dir.name}: the archive predicts through torch only: its numpy copy of the model "
                f"differs by {gap:.1e} on test texts")
    files.write(spec, arrays, out / rundir.LITE_NPZ, out / rundir.LITE_JSON)
    return None


def _copy_if_present(path: Path, folder: Path) -> None:
    if path.is_file():
        shutil.copy2(path, folder / path.name)
