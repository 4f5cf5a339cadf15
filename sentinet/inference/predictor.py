"""Labelling text with a trained run or an ensemble of runs: batching, unseen words,
probabilities, and the decision rule saved with the model."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from sentinet.runs import weights
from sentinet.runs import rundir
from sentinet.data.batching import BucketBatchSampler
from sentinet.labels import LabelSet
from sentinet.data.tokenize import Tokenizer
from sentinet.data.vocab import PAD_ID
from sentinet.evaluation.decision import decide
from sentinet.data.embeddings import open_sources, refuse_unsafe_sources
from sentinet.errors import SentinetError, UnsafeFileError, printable
from sentinet.fileio import private_dir
from sentinet.models.classifier import SentimentClassifier
from sentinet.runtime.threads import ThreadGovernor


def predict_ids(model: SentimentClassifier, ids: Sequence[list[int]], device: torch.device,
                batch_size: int = 256, progress: bool = False,
                between: Callable[[], None] | None = None) -> np.ndarray:
    """Class probabilities [N, classes] of token-id lists, in input order.

    The batches are the length-sorted ones of a non-shuffling ``BucketBatchSampler`` (so the
    numbers a ``make_loader`` loop gives), padded in one ``torch.tensor`` call per batch: a
    plain loop, since a DataLoader's per-item tensors and collate cost more than the model on
    short tweets. ``between`` runs after every batch (the thread governor's tick)."""
    model.eval()
    batches = list(BucketBatchSampler([len(x) for x in ids], batch_size, shuffle=False))
    shown = batches
    if progress:
        from tqdm import tqdm  # only eval shows a bar

        shown = tqdm(batches, desc="predict", disable=None, leave=False)
    parts = []
    with torch.inference_mode():
        for batch_index in shown:
            rows = [ids[i] for i in batch_index]
            width = len(rows[-1])
            batch = torch.tensor([r + [PAD_ID] * (width - len(r)) for r in rows], dtype=torch.long)
            lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
            logits = model(batch.to(device), lengths)
            parts.append(torch.softmax(logits, dim=-1).float().cpu())
            if between is not None:
                between()
    if not parts:
        return np.zeros((0, model.head[-1].out_features), dtype=np.float32)
    probs = np.empty((len(ids), parts[0].shape[1]), dtype=np.float32)
    probs[[i for b in batches for i in b]] = torch.cat(parts).numpy()
    return probs


class RunPredictor:
    """One run loaded for inference. Words the training data never showed still get their
    pretrained vector: they are looked up in the run's vectors file and appended as frozen
    rows, so the model's view of every known word is unchanged."""

    def __init__(self, run: weights.LoadedRun, device: torch.device, stores: dict | None = None):
        self.run = run
        try:  # before anything is opened: a run directory may come from anywhere
            refuse_unsafe_sources(self._sources())
        except (UnsafeFileError, AttributeError, TypeError) as exc:
            raise SentinetError(f"{run.run_dir / rundir.VOCAB}: {exc}") from None
        self.device = device
        self.tokenizer = Tokenizer(run.config.tokenizer)
        self._stores = {} if stores is None else stores  # shared by an ensemble's members

    def predict_proba(self, texts: Sequence[str], batch_size: int, progress: bool,
                      between: Callable[[], None] | None = None) -> np.ndarray:
        tokens = [self.tokenizer(t) for t in texts]
        self._add_unseen_words(tokens)
        encode = self.run.vocab.encode
        return predict_ids(self.run.model, [encode(t) for t in tokens], self.device, batch_size, progress,
                           between)

    def _add_unseen_words(self, tokens: list[list[str]]) -> None:
        vocab = self.run.vocab
        unseen = sorted({t for ts in tokens for t in ts}.difference(vocab.index))
        store = self._vectors() if unseen else None
        if store is None:
            return
        found = [w for w in unseen if w in store]
        if found:
            vectors = torch.from_numpy(np.asarray(store.lookup(found), dtype=np.float32))
            vocab.extend(found)
            self.run.model.embedder.append_pretrained(vectors)

    def _sources(self) -> dict:
        """The run's recorded vectors, a relative path (an export's own vectors.npz) made the
        run directory's."""
        sources = dict(self.run.vocab.vectors)
        if sources.get("path") and not Path(sources["path"]).is_absolute():
            sources["path"] = str(self.run.run_dir / sources["path"])
        return sources

    def _vectors(self):
        """The run's vectors, opened once (per ensemble); if they are gone, warn once and map
        unseen words to <unk>. A run naming a pickle-format file, or something no file (/proc,
        a FIFO, a device), is refused outright: a run directory is data, and opening it must
        never run code or show what it should not."""
        sources = self._sources()
        key = json.dumps(sources, sort_keys=True)
        if key not in self._stores:
            try:
                self._stores[key] = open_sources(sources, expected_dim=self.run.model.embedder.dim)
            except UnsafeFileError as exc:
                raise SentinetError(f"{self.run.run_dir / rundir.VOCAB}: {exc}") from None
            except (SentinetError, KeyError, TypeError) as exc:
                self._stores[key] = None
                print(f"warning: unseen words map to <unk>: vectors unavailable ({printable(str(exc))})", file=sys.stderr)
        return self._stores[key]


class Predictor:
    """A run directory, or an ensemble directory whose members' probabilities are averaged;
    either way with the decision rule (per-class bias) saved beside it."""

    def __init__(self, path: Path, members: list[RunPredictor]):
        self.path = path
        self.members = members
        self.classes: LabelSet = members[0].run.labels
        for m in members[1:]:
            if m.run.labels != self.classes:
                raise SentinetError(f"{path}: member {m.run.run_dir} has labels {list(m.run.labels.values)}, "
                                    f"not {list(self.classes.values)}: members must share one label set")
        self.bias = rundir.load_decision(path, len(self.classes))
        # the cores other processes leave free, re-read between batches (sentinet/runtime/threads.py)
        on_cpu = members[0].device.type == "cpu"
        self.threads = ThreadGovernor(torch.set_num_threads, most=torch.get_num_threads()) if on_cpu else None

    @property
    def config(self):
        return self.members[0].run.config

    @classmethod
    def load(cls, path: str | Path, device: torch.device, int8: bool = False) -> Predictor:
        """A run directory, its model.pt, an ensemble directory, a ``sentinet baseline`` run
        (a BaselinePredictor, with the same interface), or a ``sentinet export`` archive
        (unpacked into a temporary folder that lives as long as the predictor). ``int8``:
        dynamic int8 layers (sentinet/models/quantize.py), an opt-in for speed."""
        predictor = cls._load(path, device)
        if int8:
            from sentinet.models.quantize import quantise_int8

            if not hasattr(predictor, "members"):
                raise SentinetError(f"--int8: {path} is a linear baseline; it has no neural layers to quantise")
            for member in predictor.members:
                quantise_int8(member.run.model.eval(), device)
        return predictor

    @classmethod
    def _load(cls, path: str | Path, device: torch.device) -> Predictor:
        from sentinet import baseline
        from sentinet.runs import archive

        path = Path(path)
        if baseline.is_baseline(path):
            return baseline.BaselinePredictor.load(path)
        if archive.is_archive(path):
            unpacked = private_dir("unpack")
            try:
                predictor = cls._load(archive.unpack(path, Path(unpacked.name)), device)
            except SentinetError as exc:  # named inside the archive, not by the temp folder
                unpacked.cleanup()
                raise type(exc)(str(exc).replace(f"{unpacked.name}/", f"{path}: ")) from None
            except BaseException:
                unpacked.cleanup()  # a refused archive leaves nothing behind
                raise
            predictor.path, predictor._unpacked = path, unpacked
            return predictor
        if (path / rundir.ENSEMBLE).is_file():
            stores: dict = {}
            members = [RunPredictor(weights.load_run(r, device), device, stores)
                       for r in rundir.members(path)]
            for run_dir in [path, *(m.run.run_dir for m in members)]:
                if rundir.warn(run_dir):
                    break  # one warning says it
            return cls(path, members)
        run = weights.load_run(path, device)
        rundir.warn(run.run_dir)
        return cls(run.run_dir, [RunPredictor(run, device)])

    def close(self) -> None:
        """Remove the folder an export archive was unpacked into, now rather than at interpreter
        exit: a server stopped by a signal may never reach the exit hooks (serve calls it)."""
        unpacked = getattr(self, "_unpacked", None)
        if unpacked is not None:
            unpacked.cleanup()

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256, progress: bool = True) -> np.ndarray:
        between = self.threads.tick if self.threads is not None else None
        return np.mean([m.predict_proba(texts, batch_size, progress, between) for m in self.members], axis=0)

    def labels(self, probs: np.ndarray) -> list[int | str]:
        return decide(probs, self.classes, self.bias)
