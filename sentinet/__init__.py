"""sentinet: short-text sentiment classification over frozen word vectors.

``sentinet.load(path)``, ``sentinet.train(config)`` and ``sentinet.distill(ensemble, out)`` are the
Python API (sentinet/api.py); importing sentinet itself stays light: torch loads with the first model.
"""

from __future__ import annotations

__all__ = ["load", "train", "distill", "fetch", "SentinetError"]

from sentinet.errors import SentinetError
from sentinet.runs.provenance import __version__  # noqa: F401


def load(path, device: str = "auto", int8: bool = False, threads: int | None = None, engine: str | None = None):
    """A run, ensemble, baseline run or export archive as a ``sentinet.api.Model`` (``engine``:
    auto, torch or lite, for an export archive; see sentinet.api.load)."""
    from sentinet.api import load as _load

    return _load(path, device, int8, threads, engine)


def train(config=None, overrides=(), output_dir=None, device=None, **options):
    """Train from a YAML path, Config or dict as ``sentinet train`` does (``seeds=``, ``folds=``,
    ``resume=``, ``dry_run=``, ``threads=``): a run's directory, or a group's result."""
    from sentinet.api import train as _train

    return _train(config, overrides, output_dir, device, **options)


def distill(ensemble, output, config=None, overrides=(), **options):
    """One run trained on an ensemble's probabilities, as ``sentinet distill`` does
    (``unlabeled=``, ``temperature=``, ``device=``, ``threads=``): a ``Distilled``."""
    from sentinet.api import distill as _distill

    return _distill(ensemble, output, config, overrides, **options)


def fetch(config, overrides=(), mirror=None):
    """Find or download every data and vector file a config names (``sentinet fetch``)."""
    from sentinet.api import fetch as _fetch

    return _fetch(config, overrides, mirror)
