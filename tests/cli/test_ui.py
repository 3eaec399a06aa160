"""`symbi ui` from the shell: the login link for a running daemon, its exit codes, and `--open`, which hands the
browser a private file that leads to the link rather than the link itself (a command line is readable by every
user of the machine through /proc, and the link's token opens a session for whoever uses it first)."""

from __future__ import annotations

import json
import os
import stat
import sys

from tests.agents.daemon_helper import Daemon


def test_ui_refuses_with_the_dashboard_off_or_no_daemon(tmp_path):
    d = Daemon(tmp_path / "home")
    config = d.home / "config.toml"
    config.write_text(config.read_text().replace("enabled = false", "enabled = true\nport = 0"))
    assert d.symbi("ui").returncode == 5  # no daemon
    config.write_text(config.read_text() + "[dashboard]\nenabled = false\n")
    refused = d.symbi("ui")
    assert refused.returncode == 4 and "dashboard is disabled" in refused.stderr


def test_ui_open_gives_the_browser_a_private_file_not_the_token(tmp_path):
    d = Daemon(tmp_path / "home")
    config = d.home / "config.toml"
    config.write_text(config.read_text().replace("enabled = false", "enabled = true\nport = 0"))
    argv_file = tmp_path / "argv"
    browser = tmp_path / "browser"
    browser.write_text(f"#!{sys.executable}\nimport sys\nopen({str(argv_file)!r}, 'w').write(repr(sys.argv))\n")
    browser.chmod(0o700)
    d.env["BROWSER"] = str(browser)
    d.start()
    try:
        shown = d.symbi("ui", "--open", "--format", "json", check=True)
        url = json.loads(shown.stdout)["url"]
        token = url.split("#login=")[1]
        argv = argv_file.read_text()
        assert token not in argv and "file://" in argv, argv
        page = d.home / "ui-login.html"
        assert page.as_uri() in argv
        assert stat.S_IMODE(os.stat(page).st_mode) == 0o600
        text = page.read_text()
        assert f'content="0;url={url}"' in text and f'href="{url}"' in text
    finally:
        d.symbi("cron", "daemon", "stop")
        d.cleanup()
