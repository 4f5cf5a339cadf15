"""sentinet/config/paths.py: where relative data and vector paths are looked for (with and
without $SENTINET_DATA / $SENTINET_VECTORS), config paths made absolute, and the one line a
file found nowhere gives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import sentinet
from sentinet.config import paths
from sentinet.config.paths import resolve_path, resolve_paths, search_roots
from sentinet.config.schema import from_dict, load_config
from sentinet.errors import SentinetError

from tests.helpers import tiny_raw, write_tiny_data

ENV_VARS = ("SENTINET_DATA", "SENTINET_VECTORS")


@pytest.fixture
def fake_checkout(tmp_path: Path, monkeypatch) -> Path:
    """A checkout at tmp/work/sentinet with ../shared beside it; the working directory tmp/here;
    neither variable set."""
    root = tmp_path / "work" / "sentinet"
    for folder in (tmp_path / "here", root / "data", tmp_path / "work" / "shared" / "data",
                   tmp_path / "work" / "shared" / "embeddings"):
        folder.mkdir(parents=True)
    monkeypatch.setattr(paths, "checkout", lambda: root)
    monkeypatch.chdir(tmp_path / "here")
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))  # the user data folder: tmp/xdg/sentinet
    return root


def user_folder(checkout: Path) -> str:
    return str(checkout.parent.parent / "xdg" / "sentinet")


def test_checkout_is_this_repository() -> None:
    assert paths.checkout() == Path(sentinet.__file__).resolve().parents[1]


def test_without_the_variables_data_here_then_the_checkout_then_shared(fake_checkout: Path) -> None:
    work = fake_checkout.parent
    assert search_roots("SENTINET_DATA") == ("data", str(fake_checkout / "data"), str(work / "shared" / "data"),
                                             user_folder(fake_checkout))
    assert search_roots("SENTINET_VECTORS") == ("data", str(fake_checkout / "data"),
                                                str(work / "shared" / "embeddings"), user_folder(fake_checkout))


def test_roots_inside_the_working_directory_are_shown_relative_once(fake_checkout: Path, monkeypatch) -> None:
    monkeypatch.chdir(fake_checkout)  # data/ here is the checkout's data/: one entry
    assert search_roots("SENTINET_DATA") == ("data", str(fake_checkout.parent / "shared" / "data"),
                                             user_folder(fake_checkout))
    monkeypatch.chdir(fake_checkout.parent.parent)
    assert search_roots("SENTINET_VECTORS") == ("data", "work/sentinet/data", "work/shared/embeddings", "xdg/sentinet")


def test_a_wheel_looks_in_data_here_then_the_user_data_folder(fake_checkout: Path, monkeypatch) -> None:
    monkeypatch.setattr(paths, "checkout", lambda: None)
    assert search_roots("SENTINET_DATA") == ("data", user_folder(fake_checkout))


@pytest.mark.parametrize("var", ENV_VARS)
def test_a_set_variable_is_the_only_root(fake_checkout: Path, monkeypatch, var) -> None:
    monkeypatch.setenv(var, "/somewhere/else")
    assert search_roots(var) == ("/somewhere/else",)
    other = next(v for v in ENV_VARS if v != var)
    assert len(search_roots(other)) == 4  # each variable for its own kind of file


def test_an_empty_variable_counts_as_unset(fake_checkout: Path, monkeypatch) -> None:
    monkeypatch.setenv("SENTINET_DATA", "")
    assert search_roots("SENTINET_DATA")[0] == "data" and len(search_roots("SENTINET_DATA")) == 4


# --------------------------------------------------------------------------------------
# resolve_path


def test_a_relative_path_is_found_in_the_first_root_that_holds_it(fake_checkout: Path) -> None:
    shared = fake_checkout.parent / "shared" / "data" / "train.xml"
    shared.write_text("x", encoding="utf-8")
    assert resolve_path("train.xml", "SENTINET_DATA") == shared
    in_checkout = fake_checkout / "data" / "train.xml"
    in_checkout.write_text("x", encoding="utf-8")
    assert resolve_path("train.xml", "SENTINET_DATA") == in_checkout
    here = Path.cwd() / "data" / "train.xml"
    here.parent.mkdir()
    here.write_text("x", encoding="utf-8")
    assert resolve_path("train.xml", "SENTINET_DATA") == here


def test_a_path_found_nowhere_is_under_the_first_root(fake_checkout: Path) -> None:
    assert resolve_path("sub/none.xml", "SENTINET_DATA") == Path.cwd() / "data" / "sub" / "none.xml"


def test_dot_paths_are_relative_to_the_working_directory(fake_checkout: Path, monkeypatch) -> None:
    monkeypatch.setenv("SENTINET_DATA", "/elsewhere")
    assert resolve_path("./a.xml", "SENTINET_DATA") == Path.cwd() / "a.xml"
    assert resolve_path("../a.xml", "SENTINET_DATA") == Path.cwd().parent / "a.xml"


def test_absolute_home_and_variable_paths(fake_checkout: Path, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CORPUS", str(tmp_path / "corpus"))
    assert resolve_path(str(tmp_path / "x" / ".." / "a.xml"), "SENTINET_DATA") == tmp_path / "a.xml"
    assert resolve_path("~/a.xml", "SENTINET_DATA") == tmp_path / "a.xml"
    assert resolve_path("$CORPUS/a.xml", "SENTINET_DATA") == tmp_path / "corpus" / "a.xml"


def test_a_set_variable_is_where_relative_paths_live(fake_checkout: Path, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("SENTINET_VECTORS", str(tmp_path / "vec"))
    (fake_checkout / "data" / "v.txt").write_text("x", encoding="utf-8")  # not looked at: the variable is set
    assert resolve_path("v.txt", "SENTINET_VECTORS") == tmp_path / "vec" / "v.txt"


# --------------------------------------------------------------------------------------
# resolve_paths


def tiny_in(folder: Path) -> dict[str, Path]:
    folder.mkdir()
    return write_tiny_data(folder)


def relative_config(data: dict[str, Path], **sections) -> object:
    raw = tiny_raw(data, **sections)
    raw["data"]["train"] = "train.xml"
    raw["vectors"]["path"] = "vectors.txt"
    return from_dict(raw)


def test_resolve_paths_makes_every_data_and_vector_path_absolute(fake_checkout: Path, monkeypatch,
                                                                  tmp_path: Path) -> None:
    data = tiny_in(tmp_path / "data")
    vectors = tmp_path / "vec"
    vectors.mkdir()
    (vectors / "vectors.txt").write_bytes(data["vectors"].read_bytes())
    (vectors / "more.txt").write_bytes(data["vectors"].read_bytes())
    (Path.cwd() / "dev.xml").write_bytes(data["test"].read_bytes())
    (Path.cwd() / "run").mkdir()
    monkeypatch.setenv("SENTINET_DATA", str(data["dir"]))
    monkeypatch.setenv("SENTINET_VECTORS", str(vectors))
    config = relative_config(data, data__dev="./dev.xml", data__unlabeled=["lines.txt"])
    config.model.init_from = "run"
    config.vectors.concat = ["more.txt"]
    assert resolve_paths(config) is config
    assert config.data.train == str(data["train"])
    assert config.data.dev == str(Path.cwd() / "dev.xml")
    assert config.data.unlabeled == [str(data["lines"])]
    assert config.vectors.path == str(vectors / "vectors.txt")
    assert config.vectors.concat == [str(vectors / "more.txt")]
    assert config.model.init_from == str(Path.cwd() / "run")
    assert all(os.path.isabs(p) for p in (config.data.train, config.data.dev, config.vectors.path))


def test_several_train_files_stay_a_list(fake_checkout: Path, monkeypatch, tmp_path: Path) -> None:
    data = tiny_in(tmp_path / "data")
    monkeypatch.setenv("SENTINET_DATA", str(data["dir"]))
    config = from_dict(tiny_raw(data, data__train=["train.xml", "test.xml"]))
    assert resolve_paths(config).data.train == [str(data["train"]), str(data["test"])]


def test_absolute_paths_stay_as_they_are(tiny_data) -> None:
    config = from_dict(tiny_raw(tiny_data))
    resolve_paths(config)
    assert config.data.train == str(tiny_data["train"]) and config.vectors.path == str(tiny_data["vectors"])


def test_a_relative_file_found_nowhere(fake_checkout: Path, tmp_path: Path) -> None:
    data = tiny_in(tmp_path / "data")
    with pytest.raises(SentinetError) as exc:
        resolve_paths(relative_config(data))
    work = fake_checkout.parent
    assert str(exc.value) == (f"data.train: train.xml not found in data/, {fake_checkout / 'data'}/, "
                              f"{work / 'shared' / 'data'}/ or {user_folder(fake_checkout)}/ (SENTINET_DATA is not "
                              "set); put it there or set "
                              "SENTINET_DATA to the folder that holds it (see data/README.md)")


def test_a_relative_file_not_under_the_variable(fake_checkout: Path, monkeypatch, tmp_path: Path) -> None:
    data = tiny_in(tmp_path / "data")
    monkeypatch.setenv("SENTINET_DATA", str(data["dir"]))
    monkeypatch.setenv("SENTINET_VECTORS", "/no/such/folder")
    with pytest.raises(SentinetError) as exc:
        resolve_paths(relative_config(data))
    assert str(exc.value) == ("vectors.path: vectors.txt not found in $SENTINET_VECTORS=/no/such/folder; put "
                              "it there or set SENTINET_VECTORS to the folder that holds it (see data/README.md)")


def test_a_wheel_s_missing_file_names_data_only(fake_checkout: Path, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(paths, "checkout", lambda: None)
    data = tiny_in(tmp_path / "data")
    with pytest.raises(SentinetError) as exc:
        resolve_paths(relative_config(data))
    assert str(exc.value).startswith(f"data.train: train.xml not found in data/ or {user_folder(fake_checkout)}/ "
                                     "(SENTINET_DATA is not set); ")


def test_a_missing_absolute_or_dot_path_is_file_not_found(fake_checkout: Path, tiny_data) -> None:
    config = from_dict(tiny_raw(tiny_data, data__dev=str(tiny_data["dir"] / "missing.xml")))
    with pytest.raises(SentinetError) as exc:
        resolve_paths(config)
    assert str(exc.value) == f"data.dev: {tiny_data['dir'] / 'missing.xml'}: file not found"
    config = from_dict(tiny_raw(tiny_data, data__unlabeled=["./gone.txt"]))
    with pytest.raises(SentinetError) as exc:
        resolve_paths(config)
    assert str(exc.value) == f"data.unlabeled: {Path.cwd() / 'gone.txt'}: file not found"


def test_no_training_file_and_no_init_from_run(fake_checkout: Path, tiny_data) -> None:
    with pytest.raises(SentinetError, match=r"^data.train: no training file given$"):
        resolve_paths(from_dict(tiny_raw(tiny_data, data__train="")))
    with pytest.raises(SentinetError, match=r"^data.train: no training file given$"):
        resolve_paths(from_dict(tiny_raw(tiny_data, data__train=[str(tiny_data["train"]), ""])))
    config = from_dict(tiny_raw(tiny_data))
    config.model.init_from = "runs/none"
    with pytest.raises(SentinetError, match=r"^model.init_from: runs/none: no such run directory$"):
        resolve_paths(config)


def test_a_file_beside_the_config_is_found_after_the_data_folders(fake_checkout: Path, tmp_path: Path) -> None:
    """torchtune, Lightning and spaCy users write `train: reviews.csv` next to their YAML."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "reviews.csv").write_text("text,label\nok,1\n", encoding="utf-8")
    assert resolve_path("reviews.csv", "SENTINET_DATA", beside=project) == project / "reviews.csv"
    (fake_checkout / "data" / "reviews.csv").write_text("text,label\nother,0\n", encoding="utf-8")
    assert resolve_path("reviews.csv", "SENTINET_DATA", beside=project) == fake_checkout / "data" / "reviews.csv"


def test_a_loaded_config_knows_its_folder_and_never_saves_it(tmp_path: Path) -> None:
    (tmp_path / "my.yaml").write_text("data:\n  train: reviews.csv\n", encoding="utf-8")
    config = load_config(tmp_path / "my.yaml")
    assert config.folder == tmp_path.resolve() and "folder" not in config.to_dict()
    assert from_dict({}).folder is None
