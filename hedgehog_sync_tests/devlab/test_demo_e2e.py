"""The README's first command. Its end-to-end run (`hedgehog-sync demo` starts `dagster dev` with webserver
and daemon, and with no clicks every demo fabric gets a drift_report) shares one demo process with the UI
tests: hedgehog_sync_tests/ui/test_operator_ui.py::test_demo_syncs_every_fabric_with_no_clicks.
What is left here is quick: the command offers what the README promises."""

import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).with_name("hedgehog-sync"))


def test_the_demo_command_offers_what_the_readme_uses():
    out = subprocess.run([CLI, "demo", "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--dir", "--port", "--apiserver-port", "--churn", "--churn-every"):
        assert option in out, option
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert readme.startswith("# hedgehog-sync") and ".venv/bin/hedgehog-sync demo --churn\n" in readme


def test_churn_intervals_below_five_seconds_are_refused():
    done = subprocess.run([CLI, "demo", "--churn", "--churn-every", "1", "--dir", "/nonexistent/never-created"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "--churn-every" in done.stderr
    assert not Path("/nonexistent/never-created").exists()
