"""One real `hedgehog-sync demo` (dagster dev: webserver and daemon) per module, and a headless Chromium.

The demo runs in its own process group on a free loopback port with its DAGSTER_HOME in a temporary
folder; it is stopped with SIGINT, then SIGTERM, then SIGKILL, each after a generous wait, so no
process outlives the module. Chromium and ChromeDriver come from Debian: installed with apt-get
when absent and the tests run as root (as in CI), skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from hedgehog_sync_tests.ui.graphql import DagsterGraphQL
from hedgehog_sync_tests.debian import debian_tools

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
SCREENSHOTS_ENV = "HEDGEHOG_SYNC_SCREENSHOTS"  # also write the README's screenshots to this folder
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
CHURN_EVERY = 75  # seconds between churn steps in the tested demo: drift appears and clears within minutes
WINDOW = (1920, 1200)  # wide enough that the report's table keeps file paths on one line


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what: str, probe: Callable[[], Any], timeout: float, interval: float = 3.0,
             context: Callable[[], str] = lambda: "") -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout` seconds.
    For slow, shared machines: generous timeouts, and never an assertion on how long it took."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # not up yet, or a transient error: try again until the deadline
            last_error = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                                 + (f"; last error: {last_error!r}" if last_error else "") + context())
        time.sleep(interval)


class DemoProcess:
    """`hedgehog-sync demo` in its own process group, with its log in a file."""

    def __init__(self, root: Path, log_path: Path, port: int, extra_args: list[str]):
        exe = shutil.which("hedgehog-sync", path=os.path.dirname(sys.executable))
        assert exe, "the console script is installed beside this Python"
        self.root, self.log_path, self.port = root, log_path, port
        self.url = f"http://127.0.0.1:{port}"
        self.graphql = DagsterGraphQL(self.url)
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [exe, "demo", "--dir", str(root), "--port", str(port), *extra_args],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "HEDGEHOG_SYNC_UI_URL": self.url},  # links in the fleet table point here
            # As a script's `hedgehog-sync demo &` starts it: with SIGINT ignored, which children
            # inherit. The demo must undo that, or Ctrl-C (stop() below) would never reach `dagster dev`.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        self.stopped_by: signal.Signals | None = None

    def log_tail(self, chars: int = 4000) -> str:
        if not self._log.closed:
            self._log.flush()
        return "\n--- demo log (tail) ---\n" + self.log_path.read_text(errors="replace")[-chars:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_until_served(self, timeout: float = 300) -> None:
        def served() -> bool:
            assert self.alive(), "the demo exited"
            with urllib.request.urlopen(f"{self.url}/server_info", timeout=10) as resp:
                return resp.status == 200
        wait_for("the Dagster webserver to answer", served, timeout, context=self.log_tail)
        wait_for("the code location to load", lambda: self.graphql.schedule_state(), timeout, context=self.log_tail)

    def stop(self) -> None:
        """SIGINT to the whole group (as Ctrl-C would), then SIGTERM, then SIGKILL, each after a wait."""
        for sig, grace in ((signal.SIGINT, 90), (signal.SIGTERM, 30), (signal.SIGKILL, 30)):
            if not self._group_alive():
                break
            os.killpg(self.proc.pid, sig)
            self.stopped_by = sig
            deadline = time.monotonic() + grace
            while self._group_alive() and time.monotonic() < deadline:
                time.sleep(0.5)
        self._log.close()

    def _group_alive(self) -> bool:
        self.proc.poll()  # reap the demo process itself, or its zombie would count as alive
        try:
            os.killpg(self.proc.pid, 0)
            return True
        except ProcessLookupError:
            return False


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Iterator[DemoProcess]:
    """The README's demo with churn on, started once for the module; its first cycle is shared."""
    folder = tmp_path_factory.mktemp("ui-demo")
    process = DemoProcess(folder / "devlab", folder / "demo.log", free_port(),
                          ["--churn", "--churn-every", str(CHURN_EVERY)])
    try:
        process.wait_until_served()
        process.graphql("mutation { setNuxSeen }")  # Dagster's one-time newsletter dialog, not our UI
        yield process
    finally:
        process.stop()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(process.log_path, ARTIFACTS / "demo.log")
    # Ctrl-C alone stopped the demo and everything it started, though it began with SIGINT ignored.
    assert process.stopped_by == signal.SIGINT, f"needed {process.stopped_by!r} to stop" + process.log_tail()


@pytest.fixture(scope="session")
def chromium() -> tuple[Path, Path]:
    """Debian's Chromium and ChromeDriver (matching versions, no download by any test tool)."""
    chromium_path, driver_path = debian_tools([CHROMIUM, CHROMEDRIVER], ["chromium", "chromium-driver"], required=True)
    return chromium_path, driver_path


@pytest.fixture(scope="module")
def browser(chromium, tmp_path_factory):
    """Headless Chromium through Selenium, pointed at the Debian binaries (Selenium Manager never runs)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path_factory.mktemp("browser"))
    options = Options()
    options.binary_location = str(binary)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-quic", "--no-first-run",
                "--disable-component-update", "--disable-sync", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(driver_path)), options=options)
    driver.set_page_load_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def screenshot() -> Callable[..., Path]:
    """Save the browser's view as test-artifacts/ui/<name>.png; with readme=True and
    $HEDGEHOG_SYNC_SCREENSHOTS set, also as <that folder>/<name>.png (the README's pictures)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    readme_dir = os.environ.get(SCREENSHOTS_ENV)

    def save(driver, name: str, readme: bool = False) -> Path:
        path = ARTIFACTS / f"{name}.png"
        assert driver.save_screenshot(str(path)), f"could not save {path}"
        if readme and readme_dir:
            target = Path(readme_dir)
            target = target if target.is_absolute() else REPO / target
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target / f"{name}.png")
        return path

    return save
