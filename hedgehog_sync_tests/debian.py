"""Tools the tests drive that Debian packages (kubectl, promtool, Chromium): installed with apt-get when
absent, as CI runs as root on a fresh machine; a test that needs one skips, saying why, only where it
cannot be installed (or fails, where the tool is required)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest


def _found(tool: str | Path) -> Path | None:
    if isinstance(tool, Path):
        return tool if tool.exists() else None
    where = shutil.which(tool)
    return Path(where) if where else None


def debian_tools(tools: list[str | Path], packages: list[str], *, required: bool = False) -> list[Path]:
    """Each tool (a Path, or a name looked up on PATH), after `apt-get install packages` if any is missing.

    Not required: skip the test with the reason when they cannot be installed; required: fail it."""
    give_up = pytest.fail if required else pytest.skip
    if all(_found(t) for t in tools):
        return [_found(t) for t in tools]  # type: ignore[misc]
    what = ", ".join(str(t) for t in tools)
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        give_up(f"{what} missing and apt-get cannot run as root here: install Debian's "
                f"{' '.join(packages)} package(s) to run these tests")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=600"]  # another apt may be running on a shared machine
    for cmd in (["apt-get", *lock, "update", "-qq"],
                ["apt-get", *lock, "install", "-y", "-qq", "--no-install-recommends", *packages]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500)
        if done.returncode != 0:
            give_up(f"{' '.join(cmd)} failed, so {what} is not here:\n{done.stdout[-1000:]}\n{done.stderr[-2000:]}")
    missing = [str(t) for t in tools if not _found(t)]
    if missing:
        give_up(f"{' '.join(packages)} installed no {', '.join(missing)}")
    return [_found(t) for t in tools]  # type: ignore[misc]
