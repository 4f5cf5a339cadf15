"""An export archive's runs labelling text through the light engine (sentinet.lite): numpy
only, so ``sentinet predict ARCHIVE`` never imports torch. The same steps as
sentinet.inference.predictor's RunPredictor and EnsemblePredictor — tokenise, give unseen words
their vectors from the archive's vectors.npz, encode, length-sorted batches, probabilities, a
hybrid's blend, the decision rule — with the same numbers within float rounding.

Both satisfy sentinet.inference.protocol.Predictor; sentinet.inference.opener makes them when
every run of an archive has light files and nothing asks for torch. What needs torch
(integrated gradients) is refused in one line; an ArchivePredictor answers it from model.pt.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from sentinet.baseline import BaselinePredictor, is_baseline
from sentinet.config.schema import Config
from sentinet.data.embeddings import open_sources, refuse_unsafe_sources
from sentinet.data.tokenize import Tokenizer
from sentinet.data.vocab import UNK_ID, Vocab
from sentinet.errors import SentinetError, UnsafeFileError, printable
from sentinet.evaluation.decision import decide
from sentinet.inference.averaging import EnsemblePredictor
from sentinet.inference.hybrid import load_blend
from sentinet.inference.protocol import GradientInput
from sentinet.labels import Label, LabelSet
from sentinet.lite.files import readable
from sentinet.lite.network import LiteNetwork
from sentinet.runs import rundir


def has_lite(path: Path) -> bool:
    """Whether every run of the unpacked export at ``path`` (a run, or an ensemble whose members
    are runs and baselines) has light files this engine reads."""
    if (path / rundir.ENSEMBLE).is_file():
        runs = [m for m in rundir.members(path) if not is_baseline(m)]
        return bool(runs) and all(readable(m / rundir.LITE_JSON) for m in runs)
    return readable(path / rundir.LITE_JSON)


def open_lite(path: Path, threads: int | None = None) -> LitePredictor | EnsemblePredictor:
    """The unpacked export at ``path`` through the light engine (has_lite said it can);
    ``threads``: numpy's BLAS threads while predicting (default 1: the fastest for its small
    per-step products)."""
    if not (path / rundir.ENSEMBLE).is_file():
        return LitePredictor(path, threads=threads)
    stores: dict = {}  # the members' vectors, each opened once
    members = [BaselinePredictor.load(m) if is_baseline(m) else
               LitePredictor(m, stores, in_ensemble=True, threads=threads) for m in rundir.members(path)]
    return EnsemblePredictor(path, members, None, rundir.member_weights(path))


class LitePredictor:
    """One exported run, its network in numpy. Words the training data never showed get their
    vector from the archive's vectors.npz, appended as new rows, as RunPredictor does; a run
    opened as an ensemble's member leaves its own decision.json unread."""

    def __init__(self, run_dir: Path, stores: dict | None = None, *, in_ensemble: bool = False,
                 threads: int | None = None):
        self.path: Path = run_dir
        self.config: Config = rundir.read_config(run_dir / rundir.CONFIG)
        self.vocab = Vocab.load(run_dir / rundir.VOCAB)
        try:  # before anything is opened: an archive may come from anyone
            refuse_unsafe_sources(self._sources())
        except (UnsafeFileError, AttributeError, TypeError) as exc:
            raise SentinetError(f"{run_dir / rundir.VOCAB}: {exc}") from None
        self.classes: LabelSet = self.config.label_set()
        self.network = LiteNetwork.load(self.config, len(self.vocab), run_dir / rundir.LITE_JSON,
                                        run_dir / rundir.LITE_NPZ, threads or 1)
        self.tokenizer = Tokenizer(self.config.tokenizer)
        self.members: list[LitePredictor] = []  # a single model
        self.run_dirs: list[Path] = [run_dir]
        self.threads = None  # no torch threads to govern (numpy's BLAS: ``threads``, fixed)
        self.bias = None if in_ensemble else rundir.load_decision(run_dir, len(self.classes))
        self.blend = load_blend(run_dir, len(self.classes))  # None: the network alone
        self._stores = {} if stores is None else stores

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256, progress: bool = True,
                      between: Callable[[], None] | None = None) -> np.ndarray:
        return self.predict_tokens([self.tokenizer(t) for t in texts], batch_size, progress, between)

    def predict_tokens(self, tokens: list[list[str]], batch_size: int = 256, progress: bool = True,
                       between: Callable[[], None] | None = None) -> np.ndarray:
        """predict_proba of texts already tokenised with this run's tokenizer (an ensemble whose
        members tokenise alike does it once for all of them)."""
        self.add_unseen_words(tokens)
        encode = self.vocab.encode
        probs = self.network.predict_ids([encode(t) for t in tokens], batch_size, progress, between)
        return probs if self.blend is None else self.blend.mix(probs, tokens)

    def labels(self, probs: np.ndarray) -> list[Label]:
        return decide(probs, self.classes, self.bias)

    def tokenize(self, text: str) -> list[str]:
        return self.tokenizer(text)

    def add_unseen_words(self, tokens: list[list[str]]) -> None:
        unseen = sorted({t for ts in tokens for t in ts}.difference(self.vocab.index))
        store = self._vectors() if unseen else None
        if store is None:
            return
        found = [w for w in unseen if w in store]
        if found:
            self.vocab.extend(found)
            self.network.append_pretrained(np.asarray(store.lookup(found), dtype=np.float32))

    def occlusion_probabilities(self, tokens: list[str]) -> np.ndarray:
        """The text alone (a batch of one, as predict runs it), then the variants with a known
        token as <unk> in one batch; a token already read as <unk> keeps row 0."""
        self.add_unseen_words([tokens])
        ids = self.vocab.encode(tokens)
        rows = np.repeat(self.network.predict_ids([ids]), len(tokens) + 1, axis=0)
        known = [i for i in range(len(tokens)) if ids[i] != UNK_ID]
        if known:
            variants = [ids[:i] + [UNK_ID] + ids[i + 1:] for i in known]
            rows[[i + 1 for i in known]] = self.network.predict_ids(variants, batch_size=len(variants))
        return rows if self.blend is None else self.blend.mix_occlusion(rows, tokens)

    def gradient_inputs(self, tokens: list[str]) -> list[GradientInput]:
        raise SentinetError(f"{self.path}: integrated gradients need torch, and this archive was opened with "
                            "the light engine: open it with --engine torch (engine='torch')")

    def close(self) -> None:
        """Nothing to release: the archive's folder is its ArchivePredictor's."""

    def _sources(self) -> dict:
        """The run's recorded vectors: an export's own vectors.npz, made the run directory's."""
        sources = dict(self.vocab.vectors)
        if sources.get("path") and not Path(sources["path"]).is_absolute():
            sources["path"] = str(self.path / sources["path"])
        return sources

    def _vectors(self):
        """The archive's vectors, opened once (per ensemble); if they are unusable, warn once
        and map unseen words to <unk>, as RunPredictor does."""
        sources = self._sources()
        key = json.dumps(sources, sort_keys=True)
        if key not in self._stores:
            try:
                self._stores[key] = open_sources(sources, expected_dim=self.network.dim)
            except UnsafeFileError as exc:
                raise SentinetError(f"{self.path / rundir.VOCAB}: {exc}") from None
            except (SentinetError, KeyError, TypeError) as exc:
                self._stores[key] = None
                print(f"warning: unseen words map to <unk>: vectors unavailable ({printable(str(exc))})",
                      file=sys.stderr)
        return self._stores[key]
