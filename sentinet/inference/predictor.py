"""Labelling text with a trained run: batching, unseen words, probabilities, and the decision
rule saved with the model. It satisfies ``sentinet.inference.protocol.Predictor``;
``sentinet.inference.opener`` makes it (and, for an ensemble of runs, the
``sentinet.inference.averaging.EnsemblePredictor`` over them)."""

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
from sentinet.labels import Label, LabelSet
from sentinet.data.tokenize import Tokenizer
from sentinet.data.vocab import PAD_ID, UNK_ID
from sentinet.evaluation.decision import decide
from sentinet.data.embeddings import open_sources, refuse_unsafe_sources
from sentinet.errors import SentinetError, UnsafeFileError, printable
from sentinet.models.classifier import SentimentClassifier
from sentinet.models.tables import TabledClassifier, supports
from sentinet.config.schema import Config
from sentinet.inference.hybrid import load_blend
from sentinet.inference.protocol import GradientInput
from sentinet.runtime.threads import ThreadGovernor


def predict_ids(model: SentimentClassifier | TabledClassifier, ids: Sequence[list[int]], device: torch.device,
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
            parts.append(model.probabilities(logits).float().cpu())
            if between is not None:
                between()
    if not parts:
        return np.zeros((0, model.num_classes), dtype=np.float32)
    probs = np.empty((len(ids), parts[0].shape[1]), dtype=np.float32)
    probs[[i for b in batches for i in b]] = torch.cat(parts).numpy()
    return probs


def governor(device: torch.device, threads: int | None) -> ThreadGovernor | None:
    """``threads`` given: torch gets that many and keeps them. Otherwise, on the CPU, a governor
    gives it the cores other processes leave free, re-read between batches
    (sentinet/runtime/threads.py); a GPU needs none."""
    if threads is not None:
        torch.set_num_threads(threads)
        return None
    if device.type != "cpu":
        return None
    return ThreadGovernor(torch.set_num_threads, most=torch.get_num_threads())


class RunPredictor:
    """One run loaded for inference. Words the training data never showed still get their
    pretrained vector: they are looked up in the run's vectors file and appended as frozen
    rows, so the model's view of every known word is unchanged. A hybrid run (hybrid.json)
    averages the network's probabilities with its linear part's. A run opened as one of an
    ensemble's (``in_ensemble``) leaves its own decision.json unread and keeps no thread
    governor: the ensemble's rule and governor are the ones that hold."""

    def __init__(self, run: weights.LoadedRun, device: torch.device, stores: dict | None = None, *,
                 in_ensemble: bool = False, threads: int | None = None):
        self.run = run
        try:  # before anything is opened: a run directory may come from anywhere
            refuse_unsafe_sources(self._sources())
        except (UnsafeFileError, AttributeError, TypeError) as exc:
            raise SentinetError(f"{run.run_dir / rundir.VOCAB}: {exc}") from None
        self.device = device
        self.tokenizer = Tokenizer(run.config.tokenizer)
        self._stores = {} if stores is None else stores  # shared by an ensemble's members
        self.path: Path = run.run_dir
        self.classes: LabelSet = run.labels
        self.config: Config = run.config
        self.members: list[RunPredictor] = []  # a single model
        self.run_dirs: list[Path] = [run.run_dir]
        self.bias = None if in_ensemble else rundir.load_decision(run.run_dir, len(self.classes))
        self.threads = None if in_ensemble else governor(device, threads)
        self.blend = load_blend(run.run_dir, len(self.classes))  # None: the network alone
        self._network: SentimentClassifier | TabledClassifier | None = None  # made on first use

    def network(self) -> SentimentClassifier | TabledClassifier:
        """The model as predict runs it: from frozen-input tables (sentinet.models.tables)
        where they apply — the same probabilities within ~1e-6, several times fewer products —
        else the model itself. Decided on first use, after any --int8 swap."""
        if self._network is None:
            model = self.run.model
            self._network = TabledClassifier(model) if supports(model, self.device) else model
        return self._network

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256, progress: bool = True,
                      between: Callable[[], None] | None = None) -> np.ndarray:
        """``between``: what runs after every batch (an ensemble's governor), else this run's own."""
        return self.predict_tokens([self.tokenizer(t) for t in texts], batch_size, progress, between)

    def predict_tokens(self, tokens: list[list[str]], batch_size: int = 256, progress: bool = True,
                       between: Callable[[], None] | None = None) -> np.ndarray:
        """predict_proba of texts already tokenised with this run's tokenizer: an ensemble
        whose members tokenise alike does it once for all of them."""
        if between is None and self.threads is not None:
            between = self.threads.tick
        self.add_unseen_words(tokens)
        encode = self.run.vocab.encode
        probs = predict_ids(self.network(), [encode(t) for t in tokens], self.device, batch_size, progress,
                            between)
        return probs if self.blend is None else self.blend.mix(probs, tokens)

    def labels(self, probs: np.ndarray) -> list[Label]:
        return decide(probs, self.classes, self.bias)

    def tokenize(self, text: str) -> list[str]:
        return self.tokenizer(text)

    def add_unseen_words(self, tokens: list[list[str]]) -> None:
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

    def occlusion_probabilities(self, tokens: list[str]) -> np.ndarray:
        """The text alone, as predict runs it (a batch of one: the same numbers to the bit; a
        bigger batch may round differently), then the variants with a token as <unk> in one
        batch of equal lengths. A token the model already reads as <unk> has nothing to
        occlude: its row is row 0."""
        self.add_unseen_words([tokens])  # unseen words get their vectors, as in predict
        ids = self.run.vocab.encode(tokens)
        model, device = self.network(), self.device
        rows = np.repeat(predict_ids(model, [ids], device), len(tokens) + 1, axis=0)
        known = [i for i in range(len(tokens)) if ids[i] != UNK_ID]
        if known:
            variants = [ids[:i] + [UNK_ID] + ids[i + 1:] for i in known]
            rows[[i + 1 for i in known]] = predict_ids(model, variants, device, batch_size=len(variants))
        return rows if self.blend is None else self.blend.mix_occlusion(rows, tokens)

    def gradient_inputs(self, tokens: list[str]) -> list[GradientInput]:
        """The network with the vectors predict would use; no tokens, nothing to check or fetch."""
        if self.blend is not None or self.run.model.wide is not None:
            part = "averages it with" if self.blend is not None else "adds to it"
            raise SentinetError(f"{self.run.run_dir}: integrated gradients follow the network's word vectors "
                                f"alone, and this hybrid run {part} a linear part over n-grams: use --method "
                                "occlusion")
        if tokens:
            self._check_differentiable()
            self.add_unseen_words([tokens])
        return [(self.run.model, self.run.vocab.encode(tokens), self.device)]

    def close(self) -> None:
        """Nothing to release: the run directory stays the user's."""

    def _check_differentiable(self) -> None:
        """Dynamic int8 layers (--int8) have no backward pass."""
        for module in self.run.model.modules():
            if type(module).__module__.startswith("torch.ao.nn.quantized"):
                raise SentinetError(f"{self.run.run_dir}: integrated gradients need float layers; load the "
                                    "run without --int8, or use --method occlusion")

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
