"""Where a config's relative data and vector paths are looked for, and making them absolute
so that a run's saved config.yaml works from anywhere."""

from __future__ import annotations

import os
from pathlib import Path

from sentinet.config.schema import Config, train_files
from sentinet.errors import SentinetError


# Where relative data and vector paths are looked for when $SENTINET_DATA / $SENTINET_VECTORS
# are unset: data/ in the working directory (see data/README.md), then data/ in the sentinet
# checkout and ../shared beside it (the project's own machines keep the files there), so a
# config works from any working directory.
SEARCH_ROOTS = {
    "SENTINET_DATA": ("data", "../shared/data"),
    "SENTINET_VECTORS": ("data", "../shared/embeddings"),
}


def checkout() -> Path | None:
    """The sentinet checkout this code runs from (an editable install), or None for a wheel."""
    root = Path(__file__).resolve().parents[2]  # sentinet/config/paths.py → the checkout
    return root if (root / "pyproject.toml").is_file() and (root / "sentinet").is_dir() else None


def search_roots(env_var: str) -> tuple[str, ...]:
    """$env_var alone when it is set; else data/ here, then data/ and ../shared/… of the checkout."""
    value = os.environ.get(env_var)
    if value:
        return (value,)
    here, beside = SEARCH_ROOTS[env_var]
    root = checkout()
    roots = [here] if root is None else [here, str(root / here), os.path.normpath(root / beside)]
    cwd = Path.cwd().resolve()
    return tuple(dict.fromkeys(_shown(r, cwd) for r in roots))  # one entry per folder


def _shown(root: str, cwd: Path) -> str:
    """A root as the error message names it: relative to the working directory when inside it."""
    path = Path(root)
    if not path.is_absolute():
        return root
    try:
        return str(path.relative_to(cwd)) or "."
    except ValueError:
        return str(path)


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
    folders = [f"{r}/" for r in roots]
    where = (f"${env_var}={roots[0]}" if os.environ.get(env_var)
             else (", ".join(folders[:-1]) + " or " if len(folders) > 1 else "") + folders[-1]
             + f" ({env_var} is not set)")
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
