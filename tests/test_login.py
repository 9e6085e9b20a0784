"""Which server a process uses: MODELPORT_URL, else the saved login, never over a database."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from modelport.config import Settings
from modelport.errors import InvalidInputError
from modelport.login import Login, forget_login, login_path, read_login, save_login

pytestmark = pytest.mark.storage_independent


@pytest.fixture(autouse=True)
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("MODELPORT_URL", "MODELPORT_TOKEN", "MODELPORT_DB_URL",
                 "MODELPORT_ARTIFACTS_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MODELPORT_HOME", str(tmp_path / "home"))
    return tmp_path / "config"


def test_a_login_is_saved_for_its_owner_only(config_home: Path) -> None:
    path = save_login(Login("https://mp.example.com", "mp_a_secret"))
    assert path == login_path() == config_home / "modelport" / "login.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert read_login() == Login("https://mp.example.com", "mp_a_secret")
    assert "mp_a_secret" not in repr(read_login()) + repr(Settings.from_env())
    assert forget_login() and read_login() is None and not forget_login()


def test_the_login_is_used_when_the_environment_names_no_server() -> None:
    assert not Settings.from_env().remote
    save_login(Login("http://10.0.0.5:8080", "mp_saved"))
    saved = Settings.from_env()
    assert (saved.db_url, saved.artifacts_url, saved.token) == (
        "http://10.0.0.5:8080", "http://10.0.0.5:8080", "mp_saved")
    assert not Settings.from_env(remote=False).remote  # the server never uses itself


def test_the_environment_wins_over_the_login(monkeypatch: pytest.MonkeyPatch) -> None:
    save_login(Login("http://10.0.0.5:8080", "mp_saved"))
    monkeypatch.setenv("MODELPORT_URL", "https://ci.example.com/")
    monkeypatch.setenv("MODELPORT_TOKEN", "mp_ci")
    ci = Settings.from_env()
    assert (ci.db_url, ci.artifacts_url, ci.token) == (
        "https://ci.example.com", "https://ci.example.com", "mp_ci")
    monkeypatch.delenv("MODELPORT_URL")
    monkeypatch.setenv("MODELPORT_DB_URL", "sqlite:////tmp/own.db")
    own = Settings.from_env()
    assert own.db_url == "sqlite:////tmp/own.db" and not own.remote
    assert own.artifacts_url.endswith("artifacts")


@pytest.mark.parametrize("url", ["ftp://x", "mp.example.com", "http://u:p@x", "http://x?a=1"])
def test_a_bad_server_url_is_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPORT_URL", url)
    with pytest.raises(InvalidInputError, match="not a modelport server URL"):
        Settings.from_env()


def test_a_broken_login_file_says_what_to_do(config_home: Path) -> None:
    login_path().parent.mkdir(parents=True)
    login_path().write_text("{not json")
    with pytest.raises(InvalidInputError, match="modelport login URL, or delete it"):
        Settings.from_env()
