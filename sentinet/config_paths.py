"""Where a config's relative data and vector paths are looked for, and making them absolute
so that a run's saved config.yaml works from anywhere."""

from __future__ import annotations

import os
from pathlib import Path

from sentinet.config import Config, train_files
from sentinet.errors import SentinetError



# Where relative data and vector paths are looked for when $SENTINET_DATA / $SENTINET_VECTORS
# are unset: data/ (see data/README.md), then ../shared beside the checkout (the project's
# own machines keep the files there).
SEARCH_ROOTS = {
    "SENTINET_DATA": ("data", "../shared/data"),
    "SENTINET_VECTORS": ("data", "../shared/embeddings"),
}


def search_roots(env_var: str) -> tuple[str, ...]:
    value = os.environ.get(env_var)
    return (value,) if value else SEARCH_ROOTS[env_var]


def resolve_path(path: str, env_var: str) -> Path:
    """Absolute path for a config path: relative ones live under ``$env_var`` (or the first of
    data/, ../shared/... that holds them), except those written ``./x`` or ``../x``, which
    are relative to the working directory."""
    p = Path(os.path.expandvars(os.path.expanduser(path)))
    if p.is_absolute() or path.startswith(("./", "../")):
        return p.resolve()
    candidates = [Path(root) / p for root in search_roots(env_var)]
    return next((c for c in candidates if c.exists()), candidates[0]).resolve()


def _resolve_existing(path: str, env_var: str, key: str) -> str:
    """resolve_path, or a one-line error saying where it looked and what to set."""
    resolved = resolve_path(path, env_var)
    if resolved.exists():
        return str(resolved)
    p = Path(os.path.expandvars(os.path.expanduser(path)))
    if p.is_absolute() or path.startswith(("./", "../")):
        raise SentinetError(f"{key}: {resolved}: file not found")
    roots = search_roots(env_var)
    where = (f"${env_var}={roots[0]}" if os.environ.get(env_var)
             else " and ".join(f"{r}/" for r in roots) + f" ({env_var} is not set)")
    raise SentinetError(f"{key}: {path} not found in {where}; put it there or set {env_var} "
                        "to the folder that holds it (see data/README.md)")


def resolve_paths(config: Config) -> Config:
    """Make data and vector paths absolute so a run's saved config works from anywhere."""
    files = train_files(config.data)
    if not files or not all(files):
        raise SentinetError("data.train: no training file given")
    resolved = [_resolve_existing(f, "SENTINET_DATA", "data.train") for f in files]
    config.data.train = resolved if isinstance(config.data.train, list) else resolved[0]
    if config.data.dev:
        config.data.dev = _resolve_existing(config.data.dev, "SENTINET_DATA", "data.dev")
    config.data.unlabeled = [_resolve_existing(f, "SENTINET_DATA", "data.unlabeled")
                             for f in config.data.unlabeled]
    if config.model.init_from:  # a run directory, relative to the working directory
        source = Path(os.path.expanduser(config.model.init_from))
        if not source.is_dir():
            raise SentinetError(f"model.init_from: {config.model.init_from}: no such run directory")
        config.model.init_from = str(source.resolve())
    if config.vectors.path:
        config.vectors.path = _resolve_existing(config.vectors.path, "SENTINET_VECTORS", "vectors.path")
    config.vectors.concat = [_resolve_existing(p, "SENTINET_VECTORS", "vectors.concat")
                             for p in config.vectors.concat]
    return config
