"""promtool from Debian's `prometheus` package, installed with apt-get when absent (as the UI tests do
for chromium); the tests that need it skip, saying why, only when it cannot be installed."""

import os
import shutil
import subprocess

import pytest


def promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("promtool is missing and apt-get cannot run as root here: install Debian's "
                    "`prometheus` package to run the metric and rule checks")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=600"]  # another apt may be running on a shared machine
    for cmd in (["apt-get", *lock, "update", "-qq"],
                ["apt-get", *lock, "install", "-y", "-qq", "--no-install-recommends", "prometheus"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500)
        if done.returncode != 0:
            pytest.skip(f"promtool could not be installed ({' '.join(cmd)} failed): {done.stderr[-500:]}")
    return shutil.which("promtool") or pytest.skip("the prometheus package installed no promtool")
