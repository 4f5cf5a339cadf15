"""``sentinet export RUN out.tar.gz``: one self-contained archive that ``eval`` and ``predict``
take on another machine, without the original vectors file.

The archive holds the run (or every member of an ensemble) with its weights, vocabulary,
decision rule and config (data paths reduced to file names), plus ``vectors.npz``: the
pretrained vectors of the first ``vocab_size`` words of the run's vectors file, so words the
training data never showed still get their vector at predict time. Reading an archive back
(which may come from anyone) is sentinet.runs.archive's job.
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
            notes = [_export_run(weights.find_run_dir(member), root / f"member{i}", vocab_size)
                     for i, member in enumerate(members)]
            rundir.write_members(root, [f"member{i}" for i in range(len(members))])
            _copy_if_present(source / rundir.DECISION, root)
            count = len(members)
        else:
            notes = [_export_run(weights.find_run_dir(source), root, vocab_size)]
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


def _export_run(run_dir: Path, out: Path, vocab_size: int) -> str | None:
    from sentinet.data.vocab import Vocab
    from sentinet.data.embeddings import write_bundle

    rundir.require_done(run_dir)  # an archive travels without the INCOMPLETE note
    check_own_tree(run_dir)  # a metrics.json linked to ~/.ssh/id_rsa would travel in the archive
    out.mkdir(parents=True, exist_ok=True)
    for name in (rundir.WEIGHTS, rundir.METRICS):
        shutil.copy2(run_dir / name, out / name)
    _copy_if_present(run_dir / rundir.DECISION, out)
    vocab = Vocab.load(run_dir / rundir.VOCAB)
    words, matrix, note = unseen_vectors(vocab, vocab_size)
    write_bundle(out / BUNDLE, words, matrix)
    vocab.vectors = {"path": BUNDLE, "format": "bundle", "concat": [], "dim": vocab.vectors.get("dim")}
    vocab.save(out / rundir.VOCAB)

    config = read_yaml(run_dir / rundir.CONFIG)
    data = config.get("data", {})
    train = data.get("train")
    data["train"] = [Path(t).name for t in train] if isinstance(train, list) else Path(train or "").name
    data["dev"] = Path(data["dev"]).name if data.get("dev") else None
    config["vectors"].update({"path": BUNDLE, "format": "bundle", "concat": [], "cache_dir": None})
    config.setdefault("run", {})["output_dir"] = "runs"
    (out / rundir.CONFIG).write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                                        encoding="utf-8")
    return note


def _copy_if_present(path: Path, folder: Path) -> None:
    if path.is_file():
        shutil.copy2(path, folder / path.name)
