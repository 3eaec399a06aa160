"""What the dashboard's browser tests share: a real daemon serving the dashboard (with jobs whose names and output
are full of markup), headless Chromium (Debian's ``chromium`` and ``chromium-driver``, installed by
``.ci/system-packages``) driven by selenium, and a Page that collects the console's errors as a test goes."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from servers.ports import free_port

from tests.agents.daemon_helper import Daemon, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# Without these the browser stalls on network lookups on a machine with no internet.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1000",
)
XSS_NAME = "<script>alert(1)</script>"
JS_NAME = "javascript:alert(2)"
XSS_OUTPUT = "<img src=x onerror=alert(3)> javascript:alert(4)"


def _need_browser() -> None:
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -e '.[test]')")
    if not (os.access(CHROMIUM, os.X_OK) and os.access(DRIVER, os.X_OK)):
        pytest.skip(
            "headless Chromium is not installed (apt-get install chromium chromium-driver; .ci/system-packages)"
        )


@pytest.fixture
def daemon(tmp_path):
    _need_browser()
    d = Daemon(tmp_path / "home")
    config = (d.home / "config.toml").read_text().replace("enabled = false", f"enabled = true\nport = {free_port()}")
    (d.home / "config.toml").write_text(config)
    d.symbi(
        "agent",
        "add",
        "echoer",
        "--command",
        f'sh -c \'echo "first line"; echo "{XSS_OUTPUT}"; sleep 2; echo "second line"; echo oops >&2\'',
        check=True,
    )
    d.add_job("nightly-report", "echoer", "0 3 * * *", timezone="Europe/Madrid")
    d.add_job(XSS_NAME, "echoer", "*/5 * * * *")
    d.add_job(JS_NAME, "echoer", "0 9 * * MON-FRI", timezone="America/New_York")
    d.add_job("guarded", "echoer", "0 12 * * *", policy={"require_approval": True})
    d.start()
    yield d
    d.symbi("cron", "daemon", "stop")
    d.cleanup()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="symbi-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=DRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


class Page:
    """The browser, with the console's errors collected as the test goes."""

    def __init__(self, driver, shots: Path) -> None:
        self.driver = driver
        self.shots = shots
        self.errors: list[str] = []

    def console(self) -> None:
        for entry in self.driver.get_log("browser"):
            if entry.get("level") == "SEVERE":
                self.errors.append(entry["message"])

    def css(self, selector: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def wait_css(self, selector: str, text: str | None = None, timeout: float = 15.0):
        def found():
            for el in self.css(selector):
                try:
                    if text is None or text in el.text:
                        return el
                except Exception:  # re-rendered while read: look again
                    return None
            return None

        return wait_for(found, timeout=timeout, what=f"{selector} {text or ''}".strip())

    def texts(self, selector: str) -> list[str]:
        """The text of every element matching ``selector``, read in one script: a page re-rendering between finding
        an element and reading it cannot leave a stale reference."""
        return self.driver.execute_script(
            "return [...document.querySelectorAll(arguments[0])].map(e => e.innerText)", selector
        )

    def click(self, selector: str, text: str | None = None, timeout: float = 15.0) -> None:
        """Click the first element matching ``selector`` (and holding ``text``), again if the page re-rendered it
        between finding and clicking (the pulse redraws a page when anything it shows changes)."""
        from selenium.common.exceptions import StaleElementReferenceException

        def clicked():
            try:
                self.wait_css(selector, text, timeout=timeout).click()
                return True
            except StaleElementReferenceException:
                return False

        wait_for(clicked, timeout=timeout, what=f"a click on {selector} {text or ''}".strip())

    def go(self, hash_: str, selector: str) -> None:
        self.driver.execute_script("location.hash = arguments[0]", hash_)
        self.wait_css(selector)

    def uncaught(self) -> list[str]:
        """The console's errors so far that are not a refused request (an unhandled rejection, a script error)."""
        self.console()
        return [e for e in self.errors if "Failed to load resource" not in e]

    def shot(self, name: str) -> None:
        self.driver.save_screenshot(str(self.shots / f"dashboard-{name}.png"))

    def no_alert(self) -> None:
        from selenium.common.exceptions import NoAlertPresentException

        try:
            text = self.driver.switch_to.alert.text
        except NoAlertPresentException:
            return
        raise AssertionError(f"a script from the data ran: alert({text!r})")
