"""Opening whatever model is at a path: the one place that decides what kind it is.

A ``sentinet baseline`` run (``baseline.json``: no torch needed, none imported), an export
archive (``.tar.gz``: unpacked into a private folder that lives as long as the predictor), an
ensemble directory (``ensemble.json``: a ``--seeds``/``--folds`` group or a ``sentinet
ensemble``, whose members may be runs or baseline runs, weighted by its ``weights``), or a run
directory or its ``model.pt``. Each opens to a
``sentinet.inference.protocol.Predictor``, so nothing after this asks the kind again.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sentinet.config.fields import whole_number
from sentinet.errors import SentinetError
from sentinet.inference.protocol import GradientInput, Predictor
from sentinet.labels import Label
from sentinet.runs import rundir

if TYPE_CHECKING:
    import torch

    from sentinet.baseline import BaselinePredictor
    from sentinet.config.schema import Config
    from sentinet.inference.predictor import RunPredictor
    from sentinet.inference.averaging import EnsemblePredictor
    from sentinet.labels import LabelSet
    from sentinet.runtime.threads import ThreadGovernor


ENGINES = ("auto", "torch", "lite")
ENGINE_VARIABLE = "SENTINET_ENGINE"  # the engine when none is given (benchmarks set torch)


def open_predictor(path: str | Path, device: str = "auto", int8: bool = False,
                   threads: int | None = None, engine: str | None = None) -> Predictor:
    """The model at ``path`` ready to label text on ``device`` (auto: CUDA when present).
    ``int8``: dynamic int8 layers (sentinet/models/quantize.py), an opt-in for speed.
    ``threads``: torch CPU threads, fixed (default: the cores other processes leave free,
    re-read as it runs). ``engine`` (default $SENTINET_ENGINE, else auto): ``auto`` opens an
    export archive whose runs all have light files with numpy alone (sentinet.lite, no torch
    import) on the CPU unless --int8 asks for torch layers; ``torch`` always uses torch;
    ``lite`` insists on numpy. Bad arguments and missing paths are refused before torch loads."""
    if threads is not None:
        whole_number(threads, "threads")
    engine = _engine(engine)
    from sentinet.baseline import BaselinePredictor, is_baseline

    path = Path(path)
    if not path.exists():  # said before torch is imported
        raise SentinetError(f"{path}: no such run directory, model file or export archive")
    if is_baseline(path):
        if int8:
            raise SentinetError(f"--int8: {path} is a linear baseline; it has no neural layers to quantise")
        return BaselinePredictor.load(path)
    from sentinet.runs.archive import is_archive

    if is_archive(path):
        return _open_archive(path, device, int8, threads, engine)
    if engine == "lite":
        raise SentinetError(f"--engine lite: {path} is not an export archive; the light engine reads the "
                            "numpy files `sentinet export` writes")
    from sentinet.runtime.device import resolve_device

    return _open_neural(path, resolve_device(device), int8, threads)


def _engine(engine: str | None) -> str:
    """``engine``, else $SENTINET_ENGINE, else auto; anything else refused in one line."""
    chosen = engine if engine is not None else os.environ.get(ENGINE_VARIABLE, "").strip() or "auto"
    if chosen not in ENGINES:
        where = "--engine" if engine is not None else f"${ENGINE_VARIABLE}"
        raise SentinetError(f"{where} {str(chosen)[:40]!r}: choose one of {', '.join(ENGINES)}")
    return chosen


def _light(root: Path, device: str, int8: bool, engine: str) -> bool:
    """Whether the unpacked export at ``root`` opens with the light engine: asked for or left to
    auto, on the CPU (auto: no GPU visible), no --int8, and light files for every run."""
    if engine == "torch" or (engine == "auto" and device == "auto" and _gpu_visible()):
        return False
    from sentinet.inference.lite import has_lite

    why = ("--int8 quantises torch layers" if int8
           else f"it runs on the CPU, not {device}" if device not in ("auto", "cpu")
           else None if has_lite(root)
           else "the archive has no light files (exported by an earlier sentinet, or a model it cannot "
                "express: a hierarchical head, train.hybrid: wide)")
    if why is not None and engine == "lite":
        raise SentinetError(f"--engine lite: {why}; use --engine torch")
    return why is None


def _gpu_visible() -> bool:
    """A CUDA GPU that ``auto`` may pick, seen without importing torch: the NVIDIA driver lists
    one (or its first device node is there) and CUDA_VISIBLE_DEVICES does not hide them all.
    A false alarm only costs torch's start: torch then picks the CPU itself."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    try:
        return (gpus.is_dir() and any(gpus.iterdir())) or Path("/dev/nvidia0").exists()
    except OSError:
        return False


def _open_neural(path: Path, device: torch.device, int8: bool,
                 threads: int | None) -> RunPredictor | EnsemblePredictor:
    """An ensemble directory or a run (directory or model.pt), int8 layers swapped in if asked
    (an ensemble's baseline members have none: only its runs are quantised)."""
    from sentinet.inference.averaging import EnsemblePredictor
    from sentinet.inference.predictor import RunPredictor, governor
    from sentinet.runs import weights

    predictor: RunPredictor | EnsemblePredictor
    if (path / rundir.ENSEMBLE).is_file():
        stores: dict = {}  # the members' vectors files, each opened once
        members = [_open_member(r, device, stores) for r in rundir.members(path)]
        for run_dir in [path, *(m.path for m in members)]:
            if rundir.warn(run_dir):
                break  # one warning says it
        neural = [m for m in members if isinstance(m, RunPredictor)]  # the governor follows their device
        tick = governor(neural[0].device, threads) if neural else None
        predictor = EnsemblePredictor(path, members, tick, rundir.member_weights(path))
        runs = [m for m in members if isinstance(m, RunPredictor)]
    else:
        run = weights.load_run(path, device)
        rundir.warn(run.run_dir)
        predictor = RunPredictor(run, device, threads=threads)
        runs = [predictor]
    if int8:
        from sentinet.models.quantize import quantise_int8

        if not runs:
            raise SentinetError(f"--int8: {path} holds linear baselines only; it has no neural layers to quantise")
        for r in runs:
            quantise_int8(r.run.model.eval(), device)
    return predictor


def _open_member(path: Path, device: torch.device, stores: dict) -> RunPredictor | BaselinePredictor:
    """One member of an ensemble: a ``sentinet baseline`` run, or a run whose vectors files
    (``stores``) the members share."""
    from sentinet.baseline import BaselinePredictor, is_baseline
    from sentinet.inference.predictor import RunPredictor
    from sentinet.runs import weights

    if is_baseline(path):
        return BaselinePredictor.load(path)
    return RunPredictor(weights.load_run(path, device), device, stores, in_ensemble=True)


def _open_archive(path: Path, device: str, int8: bool, threads: int | None, engine: str) -> ArchivePredictor:
    """An export, unpacked into a private folder, opened with the light engine or torch; a
    refused archive leaves nothing behind, and a problem inside it is named by the archive,
    not by the temporary folder."""
    from sentinet.fileio import private_dir
    from sentinet.runs import archive

    folder = private_dir("unpack")
    try:
        root = archive.unpack(path, Path(folder.name))
        if _light(root, device, int8, engine):
            from sentinet.inference.lite import open_lite

            unpacked: Predictor = open_lite(root, threads)
        else:
            from sentinet.runtime.device import resolve_device

            unpacked = _open_neural(root, resolve_device(device), int8, threads)
    except SentinetError as exc:
        folder.cleanup()
        raise type(exc)(str(exc).replace(f"{folder.name}/", f"{path}: ")) from None
    except BaseException:
        folder.cleanup()
        raise
    return ArchivePredictor(path, unpacked, folder, root)


class ArchivePredictor:
    """A ``sentinet export`` archive's run or ensemble, answering to the archive's path, with
    the folder it was unpacked into removed by ``close`` (serve calls it: a server stopped by a
    signal may never reach the exit hooks) or at interpreter exit."""

    def __init__(self, path: Path, unpacked: Predictor, folder: tempfile.TemporaryDirectory,
                 root: Path | None = None):
        self.path = path
        self.unpacked = unpacked
        self._folder = folder
        self._root = root  # the unpacked run or ensemble: torch reads it for gradients
        self._torch: Predictor | None = None

    @property
    def classes(self) -> LabelSet:
        return self.unpacked.classes

    @property
    def config(self) -> Config:
        return self.unpacked.config

    @property
    def members(self) -> Sequence[Predictor]:
        return self.unpacked.members

    @property
    def run_dirs(self) -> list[Path]:
        return self.unpacked.run_dirs

    @property
    def threads(self) -> ThreadGovernor | None:
        return self.unpacked.threads

    def predict_proba(self, texts: Sequence[str], batch_size: int = 256, progress: bool = True) -> np.ndarray:
        return self.unpacked.predict_proba(texts, batch_size, progress)

    def labels(self, probs: np.ndarray) -> list[Label]:
        return self.unpacked.labels(probs)

    def tokenize(self, text: str) -> list[str]:
        return self.unpacked.tokenize(text)

    def add_unseen_words(self, tokens: list[list[str]]) -> None:
        self.unpacked.add_unseen_words(tokens)

    def occlusion_probabilities(self, tokens: list[str]) -> np.ndarray:
        return self.unpacked.occlusion_probabilities(tokens)

    def gradient_inputs(self, tokens: list[str]) -> list[GradientInput]:
        """Opened with the light engine, the archive's model.pt answers, through torch (loaded on
        the CPU the first time: explain imports torch anyway)."""
        from sentinet.inference.lite import LitePredictor

        light = isinstance(self.unpacked, LitePredictor) or any(isinstance(m, LitePredictor) for m in self.members)
        if not light or self._root is None:
            return self.unpacked.gradient_inputs(tokens)
        if self._torch is None:
            import torch

            self._torch = _open_neural(self._root, torch.device("cpu"), False, None)
        return self._torch.gradient_inputs(tokens)

    def close(self) -> None:
        """Remove the unpacked folder now (again: a no-op)."""
        self.unpacked.close()
        self._folder.cleanup()
