"""What produced a run: package versions and the git commit, recorded beside its scores."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

__version__ = "0.1.0"  # sentinet.__version__; pyproject.toml says the same


def git_commit() -> str | None:
    """The commit of the sentinet checkout (with "+dirty" for uncommitted changes), or None
    when sentinet was installed from a wheel or git is missing."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=here, capture_output=True,
                                text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if dirty else commit


def versions() -> dict[str, str | None]:
    return {"sentinet": __version__, "torch": torch_version(),
            "python": platform.python_version(), "git": git_commit()}


def torch_version() -> str | None:
    """torch's version without importing it (``--version`` should not take a torch start):
    the loaded module's when there is one, else the installed distribution's."""
    import sys
    from importlib import metadata

    loaded = getattr(sys.modules.get("torch"), "__version__", None)
    if loaded:
        return loaded
    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None
