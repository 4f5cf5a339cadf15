"""sentinet.tuning.storage without a database server: URLs parsed and shown without their
password, the connect timeout setting, the driver a bare postgresql:// URL gets, and where a
SQLite study file goes."""

from __future__ import annotations

import importlib.util
import time
import types

import optuna
import pytest
from sqlalchemy.engine import make_url

from sentinet.errors import SentinetError
from sentinet.tuning import storage

SECRET = "pw-Secret42"
EXAMPLES = "(e.g. sqlite:///study.db or postgresql://user:password@host:5432/db)"


def test_a_good_url_parses():
    url = storage.parse_storage_url(f"postgresql://tuner:{SECRET}@db.example:5432/studies")
    assert (url.get_backend_name(), url.username, url.password, url.host, url.port, url.database) == \
        ("postgresql", "tuner", SECRET, "db.example", 5432, "studies")
    assert storage.parse_storage_url("sqlite:///out/study.db").database == "out/study.db"


@pytest.mark.parametrize("url, shown, why", [
    (f"postgresql://tuner:{SECRET}@db.example:port/studies", "postgresql://tuner:***@db.example:port/studies",
     "its port is not a number"),
    (f"postgresql://tuner:x@{SECRET}:more@db.example:5x/studies", "postgresql://tuner:***@db.example:5x/studies",
     "its port is not a number"),  # an @ in the password: SQLAlchemy splits at the last one
    (f"tuner:{SECRET}@db.example", "tuner:***@db.example", "not a database URL"),
    ("study.db", "study.db", "not a database URL"),
    ("", "", "not a database URL"),
])
def test_a_malformed_url_is_one_line_without_its_password(url, shown, why):
    with pytest.raises(SentinetError) as caught:
        storage.parse_storage_url(url)
    assert str(caught.value) == f"--storage {shown!r}: {why} {EXAMPLES}"
    assert SECRET not in str(caught.value)
    assert storage.shown_url(url) == shown


@pytest.mark.parametrize("url, shown", [
    (f"postgresql://tuner:{SECRET}@db.example:5432/studies", "postgresql://tuner:***@db.example:5432/studies"),
    (f"mysql+pymysql://u:{SECRET}@h/db?connect_timeout=5", "mysql+pymysql://u:***@h/db?connect_timeout=5"),
    ("postgresql://tuner@db.example/studies", "postgresql://tuner@db.example/studies"),  # no password
    ("sqlite:////abs/study.db", "sqlite:////abs/study.db"),
])
def test_shown_url_hides_only_the_password(url, shown):
    assert storage.shown_url(url) == shown


def test_a_password_in_the_query_is_hidden_too():
    assert SECRET not in storage.shown_url(f"postgresql://tuner@db.example/studies?password={SECRET}")


def test_a_drivers_message_never_shows_the_password():
    url = make_url(f"postgresql://tuner:{SECRET}@db.example/studies")
    assert storage._unsecret(f'password authentication failed for "{SECRET}"', url) == \
        'password authentication failed for "***"'
    assert storage._unsecret("refused", make_url("sqlite:///x.db")) == "refused"


def test_connect_timeout_setting(monkeypatch):
    monkeypatch.delenv("SENTINET_DB_TIMEOUT", raising=False)
    assert storage.connect_timeout() == 30
    for raw, seconds in (("5", 5), (" 1 ", 1), ("3600", 3600), ("", 30)):
        monkeypatch.setenv("SENTINET_DB_TIMEOUT", raw)
        assert storage.connect_timeout() == seconds
    for raw in ("0", "3601", "soon", "-1", "2.5"):
        monkeypatch.setenv("SENTINET_DB_TIMEOUT", raw)
        with pytest.raises(SentinetError) as caught:
            storage.connect_timeout()
        assert str(caught.value) == f"$SENTINET_DB_TIMEOUT: {raw!r} is not a whole number of seconds from 1 to 3600"


def test_a_superscript_digit_is_a_bad_timeout_too(monkeypatch):
    monkeypatch.setenv("SENTINET_DB_TIMEOUT", "²")
    with pytest.raises(SentinetError, match="is not a whole number of seconds"):
        storage.connect_timeout()


def test_each_network_driver_gets_its_connect_timeout_unless_the_url_has_one():
    assert storage._timeout_kwargs(make_url("postgresql+psycopg2://u@h/db"), 7) == \
        {"connect_args": {"connect_timeout": 7}}
    assert storage._timeout_kwargs(make_url("mysql+pymysql://u@h/db"), 7) == {"connect_args": {"connect_timeout": 7}}
    assert storage._timeout_kwargs(make_url("postgresql+psycopg2://u@h/db?connect_timeout=3"), 7) == {}
    assert storage._timeout_kwargs(make_url("oracle://u@h/db"), 7) == {}  # no keyword known for it


@pytest.mark.parametrize("installed, driver", [({"psycopg2", "psycopg"}, "postgresql+psycopg2"),
                                               ({"psycopg"}, "postgresql+psycopg")])
def test_a_bare_postgresql_url_gets_the_installed_driver(monkeypatch, installed, driver):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object() if name in installed else None)
    url = storage._with_postgres_driver(make_url(f"postgresql://u:{SECRET}@h/db"), "shown")
    assert url.drivername == driver and url.password == SECRET


def test_no_postgresql_driver_names_the_extra_and_other_urls_are_left_alone(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SentinetError) as caught:
        storage._with_postgres_driver(make_url("postgresql://u@h/db"), "postgresql://u:***@h/db")
    assert str(caught.value) == ("--storage postgresql://u:***@h/db: PostgreSQL needs a driver: "
                                 "pip install -e '.[postgres]' in the sentinet checkout; make install has it")
    for url in ("postgresql+psycopg2://u@h/db", "sqlite:///x.db", "mysql://u@h/db"):
        assert storage._with_postgres_driver(make_url(url), url) == make_url(url)


def test_a_sqlite_study_gets_its_folder_made(tmp_path, monkeypatch):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    path = tmp_path / "studies" / "base" / "study.db"
    opened = storage.open_storage(f"sqlite:///{path}")
    assert isinstance(opened, optuna.storages.RDBStorage) and path.is_file()
    monkeypatch.chdir(tmp_path)
    storage.open_storage("sqlite:///relative/here/study.db")  # relative to the working folder
    assert (tmp_path / "relative" / "here" / "study.db").is_file()


def test_a_sqlite_study_that_cannot_be_opened_is_tried_four_times_then_one_line(tmp_path, monkeypatch):
    waits: list[float] = []
    monkeypatch.setattr(storage, "time", types.SimpleNamespace(monotonic=time.monotonic, sleep=waits.append))
    (tmp_path / "study.db").write_bytes(b"this is no sqlite database, just bytes " * 100)
    with pytest.raises(SentinetError) as caught:
        storage.open_storage(f"sqlite:///{tmp_path / 'study.db'}")
    assert str(caught.value) == (f"--storage sqlite:///{tmp_path}/study.db: cannot open the study database "
                                 "(file is not a database)")
    assert waits == pytest.approx([0.3, 0.6, 0.9])  # a first connection racing another worker's table creation


def test_a_drivers_message_never_shows_a_query_password_either():
    url = make_url(f"postgresql://tuner@db.example/studies?password={SECRET}")
    assert SECRET not in storage._unsecret(f'password authentication failed ("{SECRET}")', url)
