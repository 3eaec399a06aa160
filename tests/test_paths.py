"""Every path comes from one module; what it creates is private."""

import os
import stat

from symbi_cron.paths import ensure_private_dir, open_private, resolve, write_private


def test_symbi_home_holds_everything(tmp_path):
    p = resolve({"SYMBI_HOME": str(tmp_path / "h")})
    for f in (p.db, p.config_file, p.pidfile, p.daemon_log, p.api_key_file, p.logs_dir, p.contexts_dir):
        assert str(f).startswith(str(tmp_path / "h"))


def test_without_symbi_home_platformdirs_decide(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "conf"))
    p = resolve({})
    assert p.db == tmp_path / "data" / "symbi" / "symbi.db"
    assert p.config_file == tmp_path / "conf" / "symbi" / "config.toml"


def test_created_directories_and_files_are_private_whatever_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        deep = ensure_private_dir(tmp_path / "a" / "b" / "c")
        for d in (tmp_path / "a", tmp_path / "a" / "b", deep):
            assert stat.S_IMODE(os.stat(d).st_mode) == 0o700, d
        with open_private(deep / "log.txt") as fh:
            fh.write("x")
        write_private(deep / "key", "secret")
        for f in ("log.txt", "key"):
            assert stat.S_IMODE(os.stat(deep / f).st_mode) == 0o600
    finally:
        os.umask(old)


def test_pinned_env_makes_the_home_and_a_relative_sqlite_url_absolute(tmp_path, monkeypatch):
    from symbi_cron.paths import pinned_env

    monkeypatch.chdir(tmp_path)
    env = {"SYMBI_HOME": "h", "SYMBI_STORE_URL": "sqlite:db/x.db", "OTHER": "1"}
    out = pinned_env(resolve(env), env)
    assert out == {"SYMBI_HOME": str(tmp_path / "h"), "SYMBI_STORE_URL": f"sqlite:{tmp_path}/db/x.db", "OTHER": "1"}
    assert pinned_env(resolve({}), {"SYMBI_STORE_URL": "postgresql://db/x"}) == {"SYMBI_STORE_URL": "postgresql://db/x"}
