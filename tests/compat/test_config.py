"""Starlette-compatible `Config` and `Environ`, through `stellate.config`."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any, assert_type

import pytest

from stellate.config import Config, Environ, EnvironError
from stellate.datastructures import URL, CommaSeparatedStrings, Secret


def test_config_annotations() -> None:
    config = Config(environ={"NAME": "stellate", "ENABLED": "1"})
    assert_type(config("NAME"), str)
    assert_type(config("NAME", default="x"), str)
    assert_type(config("NAME", cast=str), str)
    assert_type(config("MAYBE", default=None), str | None)
    assert_type(config("MAYBE", cast=str, default=None), str | None)
    assert_type(config("ENABLED", cast=bool), bool)
    assert_type(config("MAYBE_ENABLED", cast=bool, default=None), bool | None)

    def to_int(value: Any) -> int:
        return int(value)

    # Allowed by the annotations, refused at run time.
    with pytest.raises(ValueError):
        config("WORKERS", cast=to_int, default="many")
    with pytest.raises(ValueError):
        config("WORKERS", cast=int, default="many")


def test_config_from_file_and_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "# keep out of version control\n"
        "DATABASE_URL=mysql://admin:hunter2@db.internal/shop\n"
        "SERVER_NAME=shop.example\n"
        "SECRET_KEY=abcdef\n"
        "CACHE_ENABLED=0\n"
        "ALLOWED_HOSTS=shop.example, www.shop.example\n"
        "\n"
    )
    config = Config(str(path), environ={"DEBUG": "TRUE"})

    assert config("DEBUG", cast=bool) is True
    database_url = config("DATABASE_URL", cast=URL)
    assert (database_url.username, database_url.password) == ("admin", "hunter2")
    assert database_url.path == "/shop"
    assert config("WORKERS", cast=int, default=4) == 4
    assert config("SERVER_NAME") == "shop.example"
    assert config("MAIL_SERVER", default=None) is None
    secret = config("SECRET_KEY", cast=Secret)
    assert (repr(secret), str(secret), bool(secret)) == ("Secret('**********')", "abcdef", True)
    assert config("UNSET_SECRET", cast=Secret, default=None) is None
    assert not config("EMPTY_SECRET", cast=Secret, default="")
    assert list(config("ALLOWED_HOSTS", cast=CommaSeparatedStrings)) == [
        "shop.example",
        "www.shop.example",
    ]
    assert config("CACHE_ENABLED", cast=bool) is False
    assert config("CACHE_ENABLED", cast=int) == 0
    assert config("RETRIES", cast=int, default=True) == 1

    with pytest.raises(KeyError):
        config.get("NOT_SET")
    with pytest.raises(ValueError):
        config.get("DEBUG", cast=int)
    with pytest.raises(ValueError):
        config.get("SERVER_NAME", cast=bool)

    assert Config(path)("SERVER_NAME") == "shop.example"

    config = Config()
    monkeypatch.setenv("STELLATE_COMPAT_WORKERS", "8")
    monkeypatch.setenv("STELLATE_COMPAT_FLAG", "1")
    assert config.get("STELLATE_COMPAT_WORKERS", cast=int) == 8
    assert config.get("STELLATE_COMPAT_FLAG", cast=bool) is True
    monkeypatch.setenv("STELLATE_COMPAT_FLAG", "3")
    with pytest.raises(ValueError):
        config.get("STELLATE_COMPAT_FLAG", cast=bool)


def test_missing_env_file_warns(tmp_path: Path) -> None:
    path = os.path.join(tmp_path, ".env")
    with pytest.warns(UserWarning, match=f"Config file '{path}' not found."):
        Config(path)


def test_environ() -> None:
    backing = dict(os.environ)
    environ = Environ(backing)

    environ["COMPAT_KEPT"] = "yes"
    environ["COMPAT_DROPPED"] = "1"
    del environ["COMPAT_DROPPED"]

    assert environ["COMPAT_KEPT"] == "yes"
    assert "COMPAT_DROPPED" not in environ

    with pytest.raises(EnvironError):
        environ["COMPAT_KEPT"] = "no"
    with pytest.raises(EnvironError):
        del environ["COMPAT_DROPPED"]

    environ = Environ()
    assert list(iter(environ)) == list(iter(os.environ))
    assert len(environ) == len(os.environ)


def test_config_with_env_prefix() -> None:
    config = Config(environ={"SHOP_MODE": "live", "MODE": "test"}, env_prefix="SHOP_")
    assert config.get("MODE") == "live"
    with pytest.raises(KeyError):
        Config(environ={"MODE": "test"}, env_prefix="SHOP_").get("MODE")


def test_config_with_encoding(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("MOTTO=Ça marche 世界\n", encoding="utf-8")
    assert Config(path, encoding="utf-8").get("MOTTO") == "Ça marche 世界"


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes are POSIX only")
def test_config_from_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / ".env"
    os.mkfifo(fifo)
    thread = threading.Thread(
        target=lambda: fifo.write_text("PIPED=value", encoding="utf-8"), daemon=True
    )
    thread.start()
    try:
        config = Config(fifo)
    finally:
        thread.join(timeout=5)
    assert config.get("PIPED") == "value"
