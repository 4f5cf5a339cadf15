"""A real package, not only a checkout: what someone who runs ``pip install sentinet-nlp`` gets.

Every other test runs sentinet from this checkout (an editable install, or PYTHONPATH). Those
runs cannot show that the wheel carries what the code needs (a subpackage that
[tool.setuptools.packages.find] misses, or a data file not in package-data, is silently left
out), that its metadata says what PyPI users read (Python version, license, dependencies,
extras), or that an install
with no checkout around it finds its data: there ``data/`` of the checkout and ``../shared``
beside it do not exist, and the user data folder ($XDG_DATA_HOME/sentinet) is where downloads
go and where relative config paths are looked for.

So here the wheel is built from a copy of the source (the build writes nothing into the
checkout, which parallel tests read), installed into a fresh venv outside the repository, and
its console script is run from a folder outside the repository with a private user data folder.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import threading
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..helpers import assert_one_line_error, tiny_config_yaml, write_tiny_data

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data" / "sentirueval2016"
TRAIN_FILES = ("bank_train_2016.xml", "tkk_train_2016.xml")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]
DIST_INFO = f"sentinet_nlp-{VERSION}.dist-info"
RUNTIME_DEPENDENCIES = {"torch", "gensim", "scikit-learn", "typer", "pyyaml", "tqdm", "optuna"}
# Variables that would let the installed sentinet see the checkout, a data folder of the
# machine's, or a proxy in front of the local mirror.
DROPPED = ("PYTHONPATH", "PYTHONHOME", "SENTINET_DATA", "SENTINET_VECTORS", "SENTINET_MIRROR",
           "http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@dataclass(frozen=True)
class Installed:
    """The built wheel, the source copy it was built from, and the venv it is installed in."""

    wheel: Path
    source: Path
    venv: Path

    @property
    def script(self) -> Path:
        return self.venv / "bin" / "sentinet"


def run(command: list[str | Path], timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(part) for part in command], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


def copy_source(destination: Path) -> Path:
    """The package and the files pyproject.toml names, as they are in the working tree (files
    others have not committed yet included, build leftovers and compiled kernels not)."""
    shutil.copytree(ROOT / "sentinet", destination / "sentinet",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, destination / name)
    return destination


def build_wheel(source: Path, dist: Path) -> Path:
    """``python -m build --wheel`` without isolation: setuptools and build come from the dev
    extra, so no network is needed."""
    result = run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", dist, source])
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    wheels = sorted(dist.glob("sentinet_nlp-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def install_without_dependencies(wheel: Path, venv: Path) -> None:
    """The wheel alone into a fresh venv, with this interpreter's pip (``--python``: pip>=22.3)."""
    result = run([sys.executable, "-m", "venv", "--without-pip", venv], timeout=300)
    assert result.returncode == 0, result.stderr
    result = run([sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install",
                  "--no-deps", "--no-index", "--disable-pip-version-check", wheel], timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr


def borrow_dependencies(venv: Path) -> None:
    """Make torch, gensim, typer... importable in the fresh venv without reinstalling them
    (minutes and a GB): a .pth file naming this interpreter's site-packages. The wheel's own
    content is what is under test, not pip's resolver. sentinet itself cannot leak in this way:
    the outer install is editable, through a finder hook that its own .pth file installs, and
    site processes .pth files only in site directories, never in folders a .pth line adds."""
    outer = list(dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib")))
    for folder in outer:
        assert not (Path(folder) / "sentinet").exists(), f"{folder} holds a non-editable sentinet"
    site_packages = run([venv / "bin" / "python", "-c",
                         "import sysconfig; print(sysconfig.get_paths()['purelib'])"], timeout=120)
    assert site_packages.returncode == 0, site_packages.stderr
    pth = Path(site_packages.stdout.strip()) / "_outer_dependencies.pth"
    pth.write_text("".join(f"{folder}\n" for folder in outer), encoding="utf-8")


def user_env(tmp: Path, venv: Path) -> dict[str, str]:
    """A user's shell with the venv activated, nothing pointing at the checkout, and a private
    user data folder at tmp/xdg/sentinet."""
    env = {key: value for key, value in os.environ.items() if key not in DROPPED}
    env.update(XDG_DATA_HOME=str(tmp / "xdg"), OMP_NUM_THREADS="1", VIRTUAL_ENV=str(venv),
               PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
               NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost")
    return env


class User:
    """Runs the installed ``sentinet`` from a working folder outside the repository."""

    def __init__(self, installed: Installed, tmp: Path) -> None:
        self.installed = installed
        self.data = tmp / "xdg" / "sentinet"  # the user data folder of this environment
        self.cwd = tmp / "work"
        self.cwd.mkdir()
        self.env = user_env(tmp, installed.venv)

    def sentinet(self, *args: str | Path, timeout: float = 600) -> subprocess.CompletedProcess:
        return run([self.installed.script, *args], timeout=timeout, cwd=self.cwd, env=self.env)

    def python(self, code: str) -> subprocess.CompletedProcess:
        return run([self.installed.venv / "bin" / "python", "-c", code], timeout=300, cwd=self.cwd,
                   env=self.env)

    def tiny_data(self) -> dict[str, Path]:
        """tests/helpers.py's tiny files, made beside (not in) the working folder."""
        made = self.cwd.parent / "made"
        made.mkdir(exist_ok=True)
        return write_tiny_data(made)

    def config(self, name: str, text: str) -> Path:
        path = self.cwd / name
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    """The wheel built from a copy of the source and installed into a fresh venv (once per module)."""
    root = tmp_path_factory.mktemp("wheel").resolve()
    assert not root.is_relative_to(ROOT), "the venv must live outside the repository"
    source = copy_source(root / "src")
    wheel = build_wheel(source, root / "dist")
    venv = root / "venv"
    install_without_dependencies(wheel, venv)
    borrow_dependencies(venv)
    return Installed(wheel, source, venv)


@pytest.fixture
def user(installed: Installed, tmp_path: Path) -> User:
    return User(installed, tmp_path.resolve())


def metadata_fields(wheel: Path) -> dict[str, list[str]]:
    """The wheel's METADATA headers (up to the description), each name with all its values."""
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(f"{DIST_INFO}/METADATA").decode("utf-8")
    fields: dict[str, list[str]] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        name, _, value = line.partition(": ")
        fields.setdefault(name, []).append(value)
    return fields


def requirement_name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9._-]+", requirement).group(0).lower().replace("_", "-")


def test_the_wheel_carries_the_package_and_the_metadata_pypi_shows(installed: Installed):
    with zipfile.ZipFile(installed.wheel) as archive:
        names = set(archive.namelist())
    assert installed.wheel.name.startswith(f"sentinet_nlp-{VERSION}-")
    assert {name.split("/", 1)[0] for name in names} == {"sentinet", DIST_INFO}, "only the package (no tests/)"
    # A packages.find rule that misses a subpackage only shows at import time: every module is there.
    modules = {str(p.relative_to(installed.source)) for p in (installed.source / "sentinet").rglob("*.py")}
    assert modules - names == set()
    assert {"sentinet/models/sru/sru_cpu.cpp", "sentinet/downloads/catalog.py"} <= names
    assert f"{DIST_INFO}/licenses/LICENSE" in names
    with zipfile.ZipFile(installed.wheel) as archive:
        entry_points = archive.read(f"{DIST_INFO}/entry_points.txt").decode("utf-8")
    assert "sentinet = sentinet.cli.main:main" in entry_points

    fields = metadata_fields(installed.wheel)
    assert fields.get("Name") == ["sentinet-nlp"] and fields.get("Version") == [VERSION], fields
    assert fields.get("Requires-Python") == [">=3.11"], fields
    assert fields.get("License-Expression") == ["MIT"], fields  # setuptools>=77, PEP 639
    assert fields.get("License-File") == ["LICENSE"], fields
    assert fields.get("Summary") and fields.get("Classifier") and fields.get("Project-URL")
    assert fields.get("Description-Content-Type") == ["text/markdown"], fields
    assert "ru" in fields.get("Provides-Extra", []), fields
    unconditional = {requirement_name(r) for r in fields.get("Requires-Dist", []) if "extra ==" not in r}
    assert RUNTIME_DEPENDENCIES <= unconditional, unconditional
    assert 'natasha==1.6.0; extra == "ru"' in fields.get("Requires-Dist", [])


def test_the_installed_command_finds_its_data_in_the_user_data_folder(user: User):
    imported = user.python("import sentinet; print(sentinet.__file__)")
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).is_relative_to(user.installed.venv), imported.stdout

    version = user.sentinet("--version", timeout=300)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith(f"sentinet {VERSION} torch "), version.stdout
    assert " git " not in version.stdout  # no checkout, so no commit

    reference = user.sentinet("config", "reference", timeout=300)
    assert reference.returncode == 0, reference.stderr
    assert reference.stdout.startswith("# Config reference")
    assert "`data.train`" in reference.stdout and "`vectors.path`" in reference.stdout
    assert len(reference.stdout.splitlines()) > 50

    tiny = user.tiny_data()
    (user.data / "tiny").mkdir(parents=True)
    shutil.copy(tiny["train"], user.data / "tiny" / "train.xml")
    shutil.copy(tiny["vectors"], user.data / "vectors.txt")
    config = user.config("tiny.yaml", tiny_config_yaml(tiny, epochs=1)
                         .replace(str(tiny["train"]), "tiny/train.xml")
                         .replace(str(tiny["vectors"]), "vectors.txt"))
    dry = user.sentinet("train", "--config", config, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "dry run: config, data and vectors are fine" in dry.stdout
    assert f"vectors: loading {user.data / 'vectors.txt'}" in dry.stdout, dry.stdout

    missing = user.sentinet("train", "--config", config, "--dry-run", "--set", "data.train=tiny/nope.xml")
    assert_one_line_error(missing, "tiny/nope.xml not found in data/ or", f"{user.data}/",
                          "(SENTINET_DATA is not set)")
    assert str(ROOT) not in missing.stderr  # the checkout is nowhere in sight


class Mirror(http.server.SimpleHTTPRequestHandler):
    """A web folder serving the shared training files; it refuses test files and notes each path
    asked for (``requested``, set per server)."""

    requested: list[str]

    def do_GET(self) -> None:
        self.requested.append(self.path)
        if "test" in self.path.lower():
            self.send_error(403, "test files are not served")
            return
        super().do_GET()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


def mirror_of(folder: Path) -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on 127.0.0.1 over ``folder`` in a daemon thread: (URL, paths asked for)."""
    requested: list[str] = []
    handler = type("FolderMirror", (Mirror,), {"requested": requested})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", requested
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)


@pytest.fixture
def mirror() -> Iterator[tuple[str, list[str]]]:
    if not all((SHARED_DATA / name).is_file() for name in TRAIN_FILES):
        pytest.skip(f"no SentiRuEval-2016 training files in {SHARED_DATA}")
    yield from mirror_of(SHARED_DATA)


def test_the_installed_command_downloads_into_the_user_data_folder(user: User, mirror):
    url, requested = mirror
    download = user.sentinet("data", "download", "sentirueval2016", "--mirror", url)
    assert download.returncode == 0, download.stderr
    folder = user.data / "sentirueval2016"
    for name in TRAIN_FILES:
        assert (folder / name).read_bytes() == (SHARED_DATA / name).read_bytes()
        assert f"downloaded  {folder / name}  (" in download.stdout, download.stdout
    assert sorted(requested) == sorted(f"/{name}" for name in TRAIN_FILES)
    assert not (user.cwd / "data").exists()  # nothing in the working directory

    tiny = user.tiny_data()
    shutil.copy(tiny["vectors"], user.data / "vectors.txt")
    config = user.config("banks.yaml", "data:\n  train: sentirueval2016/bank_train_2016.xml\n"
                                       "vectors:\n  path: vectors.txt\n")
    fetch = user.sentinet("fetch", "--config", config, "--mirror", url, timeout=300)
    assert fetch.returncode == 0, fetch.stderr
    assert f"data.train: found  {folder / 'bank_train_2016.xml'}" in fetch.stdout, fetch.stdout
    assert f"vectors.path: found  {user.data / 'vectors.txt'}" in fetch.stdout, fetch.stdout
    assert len(requested) == len(TRAIN_FILES)  # found, so nothing fetched again
