"""`stellate.config`: `.env` files, the environment, casts, defaults and the `environ` guard."""

from __future__ import annotations

import functools
import os
import sys
import threading
from pathlib import Path
from typing import Any, assert_type

import pytest

from stellate.config import Config, Environ, EnvironError, environ, undefined
from stellate.datastructures import URL, CommaSeparatedStrings, Secret


def write_env(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / ".env"
    path.write_text(text, encoding=encoding)
    return path


# The `.env` file


def test_env_file_lines_comments_and_blank_lines(tmp_path: Path) -> None:
    path = write_env(
        tmp_path,
        "# settings for the tests\n"
        "\n"
        "HOST=example.org\n"
        "   PORT = 8000   \n"
        "#COMMENTED=yes\n"
        "not a setting\n"
        "DSN=postgres://u:p@db/name?sslmode=require&x=1\n"
        "EMPTY=\n",
    )
    config = Config(path, environ={})
    assert config.file_values == {
        "HOST": "example.org",
        "PORT": "8000",
        "DSN": "postgres://u:p@db/name?sslmode=require&x=1",
        "EMPTY": "",
    }
    assert config("PORT", cast=int) == 8000
    with pytest.raises(KeyError):
        config("COMMENTED")


def test_env_file_quotes_are_stripped(tmp_path: Path) -> None:
    path = write_env(
        tmp_path,
        'DOUBLE="double quoted"\n'
        "SINGLE='single quoted'\n"
        "MIXED=\"'both'\"\n"
        'INNER=a "b" c\n'
        'LIST="a", "b"\n',
    )
    config = Config(path, environ={})
    assert config("DOUBLE") == "double quoted"
    assert config("SINGLE") == "single quoted"
    assert config("MIXED") == "both"
    assert config("INNER") == 'a "b" c'
    # Quote characters are stripped one by one from both ends, not as a pair (as in
    # Starlette), so a quoted list keeps its inner quotes.
    assert config("LIST") == 'a", "b'


def test_env_file_later_lines_win(tmp_path: Path) -> None:
    config = Config(write_env(tmp_path, "KEY=first\nKEY=second\n"), environ={})
    assert config("KEY") == "second"


def test_env_file_as_str_or_path(tmp_path: Path) -> None:
    path = write_env(tmp_path, "NAME=value\n")
    assert Config(str(path), environ={})("NAME") == "value"
    assert Config(path, environ={})("NAME") == "value"


def test_env_file_encoding(tmp_path: Path) -> None:
    path = write_env(tmp_path, "GREETING=grüß dich\n", encoding="latin-1")
    assert Config(path, environ={}, encoding="latin-1")("GREETING") == "grüß dich"
    utf8 = write_env(tmp_path, "GREETING=你好\n")
    assert Config(utf8, environ={})("GREETING") == "你好"


def test_missing_env_file_warns(tmp_path: Path) -> None:
    path = tmp_path / "missing.env"
    with pytest.warns(UserWarning, match="not found") as record:
        config = Config(path, environ={"KEY": "from environ"})
    assert [str(warning.message) for warning in record] == [f"Config file '{path}' not found."]
    assert record[0].category is UserWarning
    assert config.file_values == {}
    assert config("KEY") == "from environ"


def test_directory_as_env_file_warns(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="not found"):
        config = Config(tmp_path, environ={})
    assert config.file_values == {}


def test_env_file_path_with_nul_byte_warns() -> None:
    with pytest.warns(UserWarning, match="not found"):
        Config("bad\x00.env", environ={})


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes are POSIX only")
def test_env_file_may_be_a_named_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / ".env"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_text, args=("FROM_PIPE=true\n",), daemon=True)
    writer.start()
    try:
        config = Config(fifo, environ={})
    finally:
        writer.join(timeout=5)
    assert config("FROM_PIPE", cast=bool) is True


# Lookup order and prefix


def test_environ_wins_over_the_file_which_wins_over_the_default(tmp_path: Path) -> None:
    path = write_env(tmp_path, "BOTH=file\nFILE_ONLY=file\n")
    config = Config(path, environ={"BOTH": "environ"})
    assert config("BOTH", default="default") == "environ"
    assert config("FILE_ONLY", default="default") == "file"
    assert config("NEITHER", default="default") == "default"


def test_missing_key_without_default_raises_key_error() -> None:
    config = Config(environ={})
    with pytest.raises(KeyError) as info:
        config.get("MISSING")
    assert info.value.args == ("Config 'MISSING' is missing, and has no default.",)
    with pytest.raises(KeyError):
        config("MISSING", cast=int)


def test_env_prefix_applies_to_environ_file_and_error(tmp_path: Path) -> None:
    path = write_env(tmp_path, "APP_FROM_FILE=file\nFROM_FILE=unprefixed\n")
    config = Config(path, environ={"APP_DEBUG": "1", "NAME": "unprefixed"}, env_prefix="APP_")
    assert config("DEBUG", cast=bool) is True
    assert config("FROM_FILE") == "file"
    with pytest.raises(KeyError) as info:
        config("NAME")
    assert info.value.args == ("Config 'APP_NAME' is missing, and has no default.",)


def test_call_and_get_agree() -> None:
    config = Config(environ={"N": "3"})
    assert config("N", cast=int) == config.get("N", cast=int) == 3
    assert config("M", None, "x") == config.get("M", None, "x") == "x"


# Casts and defaults


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("0", False),
    ],
)
def test_bool_cast(raw: str, expected: bool) -> None:
    assert Config(environ={"FLAG": raw})("FLAG", cast=bool) is expected


@pytest.mark.parametrize("raw", ["yes", "2", "", "On", " true"])
def test_bool_cast_rejects_other_strings(raw: str) -> None:
    with pytest.raises(ValueError) as info:
        Config(environ={"FLAG": raw})("FLAG", cast=bool)
    assert str(info.value) == f"Config 'FLAG' has value '{raw.lower()}'. Not a valid bool."


def test_other_casts_and_their_errors() -> None:
    config = Config(environ={"PORT": "8000", "HOST": "example.org"})
    assert config("PORT", cast=int) == 8000
    assert config("PORT", cast=float) == 8000.0
    with pytest.raises(ValueError) as info:
        config("HOST", cast=int)
    assert str(info.value) == "Config 'HOST' has value 'example.org'. Not a valid int."

    def port_number(value: Any) -> int:
        number = int(value)
        if not 0 < number < 65536:
            raise ValueError("out of range")
        return number

    assert config("PORT", cast=port_number) == 8000
    with pytest.raises(ValueError) as info:
        config("HOST", cast=port_number)
    assert str(info.value) == "Config 'HOST' has value 'example.org'. Not a valid port_number."
    with pytest.raises(
        ValueError, match=r"^Config 'PORT' has value '99999'\. Not a valid port_number\.$"
    ):
        Config(environ={"PORT": "99999"})("PORT", cast=port_number)


def test_cast_type_error_becomes_value_error() -> None:
    def needs_two(first: Any, second: Any) -> int:
        raise AssertionError("never called")  # pragma: no cover

    with pytest.raises(ValueError, match="Not a valid needs_two"):
        Config(environ={"X": "1"})("X", cast=needs_two)  # type: ignore[arg-type]


def test_cast_without_a_name_is_described_by_repr() -> None:
    cast = functools.partial(int, base=16)
    config = Config(environ={"HEX": "ff", "BAD": "zz"})
    assert config("HEX", cast=cast) == 255
    with pytest.raises(ValueError, match=r"Not a valid functools\.partial"):
        config("BAD", cast=cast)


def test_defaults_are_cast_except_none() -> None:
    config = Config(environ={})
    assert config("TIMEOUT", cast=int, default="10") == 10
    assert config("TIMEOUT", cast=int, default=10) == 10
    assert config("DEBUG", cast=bool, default="false") is False
    assert config("DEBUG", cast=bool, default=True) is True
    assert config("ANSWER", cast=int, default=True) == 1
    assert config("NOTHING", cast=int, default=None) is None
    assert config("NOTHING", default=None) is None
    with pytest.raises(ValueError, match="Not a valid int"):
        config("TIMEOUT", cast=int, default="soon")


def test_undefined_is_the_required_sentinel() -> None:
    config = Config(environ={})
    with pytest.raises(KeyError):
        config("KEY", default=undefined)


def test_secret_cast_hides_the_value() -> None:
    config = Config(environ={"SECRET_KEY": "s3cr3t"})
    secret = config("SECRET_KEY", cast=Secret)
    assert repr(secret) == "Secret('**********')"
    assert str(secret) == "s3cr3t"
    assert not config("EMPTY", cast=Secret, default="")
    assert config("UNSET", cast=Secret, default=None) is None


def test_comma_separated_strings_cast() -> None:
    config = Config(environ={"HOSTS": "'a.org', b.org,c.org", "BAD": "'unclosed"})
    hosts = config("HOSTS", cast=CommaSeparatedStrings)
    assert list(hosts) == ["a.org", "b.org", "c.org"]
    with pytest.raises(ValueError, match="Not a valid CommaSeparatedStrings"):
        config("BAD", cast=CommaSeparatedStrings)


def test_url_cast() -> None:
    url = Config(environ={"DSN": "postgres://user:pw@db:5432/app"})("DSN", cast=URL)
    assert (url.username, url.password, url.port, url.path) == ("user", "pw", 5432, "/app")


def test_cast_types_for_mypy() -> None:
    """The overloads give the cast's type (checked by mypy)."""
    config = Config(environ={"S": "x", "B": "true", "I": "1"})
    assert_type(config("S"), str)
    assert_type(config("S", default=""), str)
    assert_type(config("S", default=None), str | None)
    assert_type(config("S", default=3), str | int)
    assert_type(config("S", cast=str), str)
    assert_type(config("S", cast=str, default=None), str | None)
    assert_type(config("B", cast=bool), bool)
    assert_type(config("B", cast=bool, default=False), bool)
    assert_type(config("B", cast=bool, default=None), bool | None)
    assert_type(config("I", cast=int, default="7"), int)
    assert_type(config("S", cast=Secret), Secret)
    assert_type(config("S", cast=CommaSeparatedStrings, default=None), CommaSeparatedStrings | None)
    assert_type(config.get("I", cast=int), int)
    assert_type(config.get("S", default=None), str | None)


# The environ guard


def test_environ_allows_changes_until_a_key_is_read() -> None:
    backing: dict[str, str] = {}
    guarded = Environ(backing)
    guarded["NAME"] = "one"
    guarded["NAME"] = "two"
    guarded["GONE"] = "x"
    del guarded["GONE"]
    assert backing == {"NAME": "two"}
    assert guarded["NAME"] == "two"
    guarded["OTHER"] = "still writable"
    assert backing["OTHER"] == "still writable"


def test_environ_refuses_to_set_or_delete_a_read_key() -> None:
    guarded = Environ({"NAME": "value"})
    assert guarded["NAME"] == "value"
    with pytest.raises(EnvironError) as info:
        guarded["NAME"] = "other"
    assert str(info.value) == (
        "Attempting to set environ['NAME'], but the value has already been read."
    )
    with pytest.raises(EnvironError) as info:
        del guarded["NAME"]
    assert str(info.value) == (
        "Attempting to delete environ['NAME'], but the value has already been read."
    )
    assert guarded["NAME"] == "value"


def test_environ_counts_a_lookup_of_an_absent_key_as_a_read() -> None:
    guarded = Environ({})
    assert "ABSENT" not in guarded
    assert guarded.get("ALSO_ABSENT") is None
    with pytest.raises(EnvironError):
        guarded["ABSENT"] = "late"
    with pytest.raises(EnvironError):
        guarded["ALSO_ABSENT"] = "late"


def test_environ_iterates_and_counts_the_backing_mapping() -> None:
    guarded = Environ({"A": "1", "B": "2"})
    assert list(guarded) == ["A", "B"]
    assert len(guarded) == 2
    assert dict(guarded) == {"A": "1", "B": "2"}
    whole = Environ()
    assert list(whole) == list(os.environ)
    assert len(whole) == len(os.environ)


def test_config_reads_through_a_guarded_environ() -> None:
    guarded = Environ({"TOKEN": "abc"})
    config = Config(environ=guarded)
    assert config("TOKEN") == "abc"
    assert config("UNSET", default="x") == "x"
    with pytest.raises(EnvironError):
        guarded["TOKEN"] = "changed"
    with pytest.raises(EnvironError):
        guarded["UNSET"] = "changed"


def test_config_defaults_to_the_module_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "STELLATE_TEST_CONFIG_DEFAULT_ENVIRON"
    monkeypatch.setenv(key, "42")
    config = Config()
    assert config.environ is environ
    assert config(key, cast=int) == 42
    with pytest.raises(EnvironError):
        environ[key] = "43"
