"""What the light engine reads: ``lite.json`` (what the network is) and ``lite.npz`` (its arrays,
float32, under the state-dict names of model.pt, plus ``embedding``: every vocabulary id's
vector as the model sees it — learned rows, then pretrained ones; a multichannel model's two
tables side by side, as its Embedder concatenates them).

A model the engine cannot express (a hierarchical head, ``train.hybrid: wide``, a parameter
it does not know) gets no light files: ``to_lite`` says why, and the archive predicts through
torch. Reading checks every array's name and shape against the run's config first, so a
damaged or foreign file is one line naming it, never a numpy traceback.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sentinet.config.encoders import CNNOptions, RecurrentOptions, SRUOptions
from sentinet.config.schema import Config
from sentinet.data.npz import check_npz
from sentinet.errors import SentinetError
from sentinet.lite.cnn import CNNLite, cnn_shapes
from sentinet.lite.recurrent import GATES, RecurrentLite, recurrent_shapes
from sentinet.lite.sru import SRULite, sru_shapes

FORMAT = 1  # lite.json's "format": a reader that knows another leaves the archive to torch
HEADS = ("linear", "multilabel")
EMBEDDING = "embedding"
EMBEDDER = ("embedder.learned.weight", "embedder.pretrained.weight", "embedder.dynamic.weight")
Encoder = RecurrentLite | CNNLite | SRULite


def spec_of(config: Config, rows: int, dim: int) -> dict[str, Any]:
    """lite.json: the network in words (encoder options, head, sizes), checked on reading
    against the run's config.yaml, which stays the one source of truth."""
    model = config.model
    return {"format": FORMAT, "encoder": dataclasses.asdict(model.encoder), "head": model.head,
            "multichannel": model.multichannel, "classes": len(config.label_set()), "rows": rows, "dim": dim}


def expected_shapes(config: Config, rows: int, dim: int) -> dict[str, tuple[int, ...]]:
    """Every array lite.npz holds for this config, by name."""
    model, width = config.model, dim * (2 if config.model.multichannel else 1)
    options, name = model.encoder, model.encoder.name
    if name in GATES:
        shapes = recurrent_shapes(name, options, width)
        out = options.hidden_size * (2 if options.bidirectional else 1)
    elif name == "cnn":
        shapes, out = cnn_shapes(options, width), options.filters * len(options.widths)
    else:
        shapes = sru_shapes(options, width)
        out = options.hidden_size * (2 if options.bidirectional else 1)
    classes = len(config.label_set())
    return {EMBEDDING: (rows, width), **shapes, "head.1.weight": (classes, out), "head.1.bias": (classes,)}


def unsupported(config: Config, state_keys: list[str]) -> str | None:
    """Why the light engine cannot run this model, or None when it can."""
    model = config.model
    if model.head not in HEADS:
        return f"model.head: {model.head}"
    if config.train.hybrid == "wide":
        return "train.hybrid: wide"
    name = model.encoder.name
    if not (name in GATES and isinstance(model.encoder, RecurrentOptions)
            or name == "cnn" and isinstance(model.encoder, CNNOptions)
            or name == "sru" and isinstance(model.encoder, SRUOptions)):
        return f"model.encoder: {name}"
    known = set(EMBEDDER) | {"head.1.weight", "head.1.bias"}
    stray = [k for k in state_keys if k not in known and not k.startswith("encoder.")]
    return f"parameters {', '.join(stray[:3])}" if stray else None


def to_lite(config: Config, n_learned: int, rows: int,
            state: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]] | str:
    """lite.json's spec and lite.npz's arrays from a model.pt state dict (tensors, which only
    need ``.numpy()``: no torch import here), or why the model cannot be expressed."""
    why = unsupported(config, list(state))
    if why is not None:
        return why
    arrays = {k: np.asarray(v.detach().cpu().float().numpy(), dtype=np.float32) for k, v in state.items()}
    learned, pretrained = arrays.pop(EMBEDDER[0]), arrays.pop(EMBEDDER[1])
    static = np.concatenate([learned, pretrained[: rows - n_learned]])  # an empty table keeps one row
    dynamic = arrays.pop(EMBEDDER[2], None)
    if config.model.multichannel != (dynamic is not None):
        return "model.multichannel does not match the weights"
    arrays[EMBEDDING] = static if dynamic is None else np.concatenate([static, dynamic[:rows]], 1)
    expected = expected_shapes(config, rows, learned.shape[1])
    if {k: a.shape for k, a in arrays.items()} != expected:
        return "weights of another shape than the config describes"
    return spec_of(config, rows, learned.shape[1]), arrays


def write(spec: dict[str, Any], arrays: dict[str, np.ndarray], npz: Path, spec_path: Path) -> None:
    """lite.npz (stored: the archive compresses it), then lite.json, which makes it count."""
    with open(npz, "wb") as f:
        np.savez(f, **arrays)
    spec_path.write_text(json.dumps(spec), encoding="utf-8")


def readable(spec_path: Path) -> bool:
    """Whether ``spec_path`` is a light spec of the format this engine reads (an archive from a
    later sentinet may hold another: it predicts through torch)."""
    try:
        return json.loads(spec_path.read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError, RecursionError):
        return False


def read(config: Config, rows: int, spec_path: Path, npz: Path) -> dict[str, np.ndarray]:
    """lite.npz's arrays, once lite.json and every array's name, shape and type were found to
    be the ones ``config`` and a vocabulary of ``rows`` words describe."""
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise SentinetError(f"{spec_path}: unreadable light spec ({exc})") from None
    dim = spec.get("dim") if isinstance(spec, dict) else None
    if isinstance(dim, bool) or not isinstance(dim, int) or spec != spec_of(config, rows, dim):
        raise SentinetError(f"{spec_path}: the light spec does not describe the run's config.yaml and vocab.json")
    check_npz(npz, "unreadable light weights")  # numpy inflates each member whole: bound it first
    try:
        with np.load(npz, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise SentinetError(f"{npz}: unreadable light weights ({' '.join(str(exc).split())[:160]})") from None
    expected = expected_shapes(config, rows, dim)
    found = {k: a.shape for k, a in arrays.items()}
    if found != expected or any(a.dtype != np.float32 for a in arrays.values()):
        wrong = sorted(set(found) ^ set(expected)) or [k for k in expected if found[k] != expected[k]] \
            or [k for k, a in arrays.items() if a.dtype != np.float32]
        raise SentinetError(f"{npz}: light weights do not fit the run's config ({', '.join(wrong[:3])})")
    return arrays


def build_encoder(config: Config, arrays: dict[str, np.ndarray]) -> Encoder:
    """The numpy encoder ``config.model.encoder`` names, over ``arrays``."""
    options = config.model.encoder
    if options.name in GATES:
        return RecurrentLite(options.name, options, arrays)
    if options.name == "cnn":
        return CNNLite(options, arrays)
    return SRULite(options, arrays, arrays[EMBEDDING].shape[1])
