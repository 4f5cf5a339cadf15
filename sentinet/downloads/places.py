"""Where sentinet keeps what it downloads: ``data/`` of the checkout it runs from, else the
user's data folder (``$SENTINET_DATA`` / ``$SENTINET_VECTORS`` when set, else the platform's data
folder). Relative config paths are looked for there too, so a downloaded file is found."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def checkout() -> Path | None:
    """The sentinet checkout this code runs from (an editable install), or None for a wheel."""
    root = Path(__file__).resolve().parents[2]  # sentinet/downloads/places.py → the checkout
    return root if (root / "pyproject.toml").is_file() and (root / "sentinet").is_dir() else None


def user_data_dir() -> Path:
    """The platform's per-user data folder for sentinet, as pip, spaCy and NLTK users expect:
    ``$XDG_DATA_HOME/sentinet`` (``~/.local/share/sentinet``) on Linux,
    ``~/Library/Application Support/sentinet`` on macOS, ``%LOCALAPPDATA%\\sentinet`` on Windows."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "sentinet"


def user_cache_dir() -> Path:
    """``$SENTINET_CACHE``, else ``$XDG_CACHE_HOME/sentinet``, else ``~/.cache/sentinet``."""
    if os.environ.get("SENTINET_CACHE"):
        return Path(os.environ["SENTINET_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sentinet"


def destination(env_var: str) -> Path:
    """Where a download goes when ``--dir`` is not given: ``$env_var`` when set, else ``data/``
    of the checkout, else the user data folder."""
    if os.environ.get(env_var):
        return Path(os.environ[env_var]).expanduser()
    root = checkout()
    return root / "data" if root is not None else user_data_dir()
