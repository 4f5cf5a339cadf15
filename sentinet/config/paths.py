"""Where a config's relative data and vector paths are looked for, and making them absolute
so that a run's saved config.yaml works from anywhere."""

from __future__ import annotations

import os
from pathlib import Path

from sentinet.config.schema import Config, train_files
from sentinet.downloads.catalog import dataset_of, vectors_of
from sentinet.downloads.fetch import packaged_vectors
from sentinet.downloads.places import checkout, user_data_dir
from sentinet.errors import SentinetError, install_hint

__all__ = ["checkout", "config_files", "resolve_existing", "resolve_path", "resolve_paths", "search_roots"]


# Where relative data and vector paths are looked for when $SENTINET_DATA / $SENTINET_VECTORS
# are unset: data/ in the working directory (see data/README.md), then data/ in the sentinet
# checkout and ../shared beside it (the project's own machines keep the files there), then the
# user data folder a wheel install downloads into, so a config works from any working directory.
SEARCH_ROOTS = {
    "SENTINET_DATA": ("data", "../shared/data"),
    "SENTINET_VECTORS": ("data", "../shared/embeddings"),
}


def search_roots(env_var: str) -> tuple[str, ...]:
    """$env_var alone when it is set; else data/ here, data/ and ../shared/… of the checkout,
    and the user data folder."""
    value = os.environ.get(env_var)
    if value:
        return (value,)
    here, beside = SEARCH_ROOTS[env_var]
    root = checkout()
    roots = [here] if root is None else [here, str(root / here), os.path.normpath(root / beside)]
    roots.append(str(user_data_dir()))
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


def resolve_path(path: str, env_var: str, beside: Path | None = None) -> Path:
    """Absolute path for a config path: relative ones live under ``$env_var`` (or the first of
    data/, ../shared/..., the user data folder that holds them), else beside the config file
    (``beside``: its folder), else, for named vectors, inside an installed package; those written
    ``./x`` or ``../x`` are relative to the working directory."""
    p = Path(os.path.expandvars(os.path.expanduser(path)))
    if p.is_absolute() or path.startswith(("./", "../")):
        return p.resolve()
    candidates = [Path(root) / p for root in search_roots(env_var)] + ([beside / p] if beside else [])
    found = next((c for c in candidates if c.exists()), None)
    if found is None and env_var == "SENTINET_VECTORS":
        found = packaged_vectors(path)
    return (found or candidates[0]).resolve()


def resolve_existing(path: str, env_var: str, key: str, beside: Path | None = None) -> str:
    """resolve_path, or a one-line error saying where it looked and what to set."""
    resolved = resolve_path(path, env_var, beside)
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
    config = f", nor beside the config in {_shown(str(beside), Path.cwd().resolve())}/" if beside else ""
    raise SentinetError(f"{key}: {path} not found in {where}{config}; {_how_to_get(path, env_var)}")


def _how_to_get(path: str, env_var: str) -> str:
    """The command that fetches a known file, else where to put it."""
    if (known := dataset_of(path)) is not None:
        test = " --test" if known[1] in known[0].test_files else ""
        return f"`sentinet data download {known[0].name}{test}` fetches it, or put it there by hand"
    if (named := vectors_of(path)) is not None:
        return (f"`sentinet embeddings download {named[0]}` fetches it (or the {named[1].extra} extra: "
                f"{install_hint(named[1].extra)}), or put it there by hand")
    return f"put it there or set {env_var} to the folder that holds it (see data/README.md)"


def resolve_paths(config: Config) -> Config:
    """Make data and vector paths absolute so a run's saved config works from anywhere."""
    files = train_files(config.data)
    if not files or not all(files):
        raise SentinetError("data.train: no training file given")
    beside = config.folder

    def found(path: str, env_var: str, key: str) -> str:
        return resolve_existing(path, env_var, key, beside)

    resolved = [found(f, "SENTINET_DATA", "data.train") for f in files]
    config.data.train = resolved if isinstance(config.data.train, list) else resolved[0]
    if config.data.dev:
        config.data.dev = found(config.data.dev, "SENTINET_DATA", "data.dev")
    config.data.unlabeled = [found(f, "SENTINET_DATA", "data.unlabeled") for f in config.data.unlabeled]
    if config.model.init_from:  # a run directory, relative to the working directory
        config.model.init_from = _directory(config.model.init_from, "model.init_from", "run")
    distill = config.train.distill
    if distill.teacher:  # the same
        distill.teacher = _directory(distill.teacher, "train.distill.teacher", "ensemble")
    distill.unlabeled = [found(f, "SENTINET_DATA", "train.distill.unlabeled") for f in distill.unlabeled]
    if config.vectors.path:
        config.vectors.path = found(config.vectors.path, "SENTINET_VECTORS", "vectors.path")
    config.vectors.concat = [found(p, "SENTINET_VECTORS", "vectors.concat") for p in config.vectors.concat]
    return config


def _directory(path: str, key: str, what: str) -> str:
    """A run or ensemble directory a config names, relative to the working directory, made absolute."""
    source = Path(os.path.expanduser(path))
    if not source.is_dir():
        raise SentinetError(f"{key}: {path}: no such {what} directory")
    return str(source.resolve())


def config_files(config: Config) -> list[tuple[str, str, str]]:
    """Every data and vector file a config names: (key, path as written, where it is looked for)."""
    data, vectors = config.data, config.vectors
    return ([("data.train", f, "SENTINET_DATA") for f in train_files(data) if f]
            + ([("data.dev", data.dev, "SENTINET_DATA")] if data.dev else [])
            + [("data.unlabeled", f, "SENTINET_DATA") for f in data.unlabeled]
            + [("train.distill.unlabeled", f, "SENTINET_DATA") for f in config.train.distill.unlabeled]
            + ([("vectors.path", vectors.path, "SENTINET_VECTORS")] if vectors.path else [])
            + [("vectors.concat", f, "SENTINET_VECTORS") for f in vectors.concat])
