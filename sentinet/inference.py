"""Labelling text with a trained model: batching, unseen words, probabilities."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import torch
from tqdm import tqdm

from sentinet.artifacts import LoadedRun, load_run
from sentinet.data.batching import EncodedDataset, make_loader
from sentinet.data.labels import LABELS
from sentinet.data.readers import Record
from sentinet.data.tokenize import Tokenizer
from sentinet.embeddings import open_vectors
from sentinet.errors import SentinetError
from sentinet.metrics import full_report
from sentinet.models.classifier import SentimentClassifier


@torch.no_grad()
def predict_proba(model: SentimentClassifier, dataset: EncodedDataset, device: torch.device,
                  batch_size: int = 256, progress: bool = False) -> np.ndarray:
    """Class probabilities [N, 3] in dataset order (batches are length-sorted for speed)."""
    model.eval()
    probs = np.zeros((len(dataset), len(LABELS)), dtype=np.float32)
    loader = make_loader(dataset, batch_size, shuffle=False)
    for batch in tqdm(loader, desc="predict", disable=not progress, leave=False):
        batch = batch.to(device)
        logits = model(batch.ids, batch.lengths)
        probs[batch.index.numpy()] = torch.softmax(logits, dim=-1).float().cpu().numpy()
    return probs


def predict_labels(probs: np.ndarray) -> list[int]:
    """Most probable label (-1/0/1) per row."""
    return [LABELS[i] for i in probs.argmax(axis=1)]


class Predictor:
    """A run loaded for inference. Words the training data never showed still get their
    pretrained vector: they are looked up in the run's vectors file and appended as frozen
    rows, so the model's view of every known word is unchanged."""

    def __init__(self, run: LoadedRun, device: torch.device):
        self.run = run
        self.device = device
        self.tokenizer = Tokenizer(run.config.tokenizer)
        self._store = None
        self._warned = False

    @classmethod
    def load(cls, path: str, device: torch.device) -> Predictor:
        return cls(load_run(path, device), device)

    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        tokens = [self.tokenizer(t) for t in texts]
        self._add_unseen_words(tokens)
        return [self.run.vocab.encode(t) for t in tokens]

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256,
                      progress: bool = True) -> np.ndarray:
        dataset = EncodedDataset(self.encode(texts))
        return predict_proba(self.run.model, dataset, self.device, batch_size, progress)

    def _add_unseen_words(self, tokens: list[list[str]]) -> None:
        vocab = self.run.vocab
        unseen = sorted({t for ts in tokens for t in ts if t not in vocab})
        store = self._vectors() if unseen else None
        if store is None:
            return
        found = [w for w in unseen if w in store]
        if found:
            vectors = torch.from_numpy(np.asarray(store.lookup(found), dtype=np.float32))
            vocab.extend(found)
            self.run.model.embedder.append_pretrained(vectors)

    def _vectors(self):
        """The run's vectors file, opened once; missing → warn and treat words as <unk>."""
        if self._store is None and not self._warned:
            source = self.run.vocab.vectors
            try:
                self._store = open_vectors(source["path"], source.get("format", "auto"),
                                           expected_dim=self.run.model.embedder.dim)
            except (SentinetError, KeyError, TypeError) as exc:
                self._warned = True
                print(f"warning: unseen words map to <unk>: vectors unavailable ({exc})",
                      file=sys.stderr)
        return self._store


def evaluate(predictor: Predictor, records: Sequence[Record], batch_size: int = 256) -> dict:
    """Official scores and the 3-class report of a loaded run on labelled records."""
    probs = predictor.predict_proba([r.text for r in records], batch_size)
    return full_report([r.labels for r in records], predict_labels(probs))
