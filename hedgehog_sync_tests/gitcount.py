"""Count the git commands a piece of code runs, with the real git: a PATH wrapper script.

`counting_git(directory)` puts a `git` script first on PATH (in os.environ, so this process and
every child started afterwards, a run worker included, find it). The script appends one line per
invocation to a log, runs the real git binary with the same arguments, stdin, stdout and stderr,
then appends an `end` line and exits with git's status. Only the `git` found on PATH is counted:
git's own helpers (index-pack, upload-pack for file://, git-remote-http) run from git's exec path,
so one `git fetch` is one `fetch`, whatever it starts. The devlab git server's `git http-backend`
is counted too (subcommand `http-backend`): filter by subcommand.

    with counting_git(tmp_path / "gitcount") as git_calls:
        reader.read_desired(cfg)
    assert git_calls.count("ls-remote") == 1 and git_calls.count("fetch") == 0

Each call records its arguments, its GIT_DIR (the connector sets it: the clone, or /dev/null for an
ls-remote outside any repository) and its working directory; `max_concurrent(git_dir)` reads the
start/end order of the log (no clock) to tell whether two commands ever ran on one clone at once.
`delay_s` makes every command wait before running git, which widens any window two threads could
share. No secret reaches the log: the connector passes tokens in the environment, never in argv.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

_MARKER = ".hedgehog-gitcount"  # a wrapper directory, never taken for the real git
_SEP = "\x1f"
# git's options that come before the subcommand and take a value as the next argument
_OPTIONS_WITH_VALUE = {"-c", "-C", "--exec-path", "--git-dir", "--work-tree", "--namespace", "--config-env"}


@dataclass(frozen=True)
class GitCall:
    pid: str
    git_dir: str
    cwd: str
    args: tuple[str, ...]

    @property
    def subcommand(self) -> str:
        """The git subcommand (`fetch`, `ls-remote`, ...), after any global options such as `-c k=v`."""
        args = list(self.args)
        while args:
            arg = args.pop(0)
            if arg in _OPTIONS_WITH_VALUE:
                if args:
                    args.pop(0)
            elif not arg.startswith("-"):
                return arg
        return ""


def real_git() -> str:
    """The git binary on PATH, skipping any counting wrapper."""
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry and not (Path(entry) / _MARKER).exists():
            found = shutil.which("git", path=entry)
            if found:
                return os.path.abspath(found)
    raise RuntimeError("no git on PATH")


class GitCount:
    """A wrapper directory (`bin`) and its log; `calls` reads the log as it is now."""

    def __init__(self, directory: str | os.PathLike[str], delay_s: float = 0.0):
        self.directory = Path(directory)
        self.bin = self.directory / "bin"
        self.log = self.directory / "git-calls.log"
        self.bin.mkdir(parents=True, exist_ok=True)
        (self.bin / _MARKER).touch()
        self.log.touch()
        delay = f"sleep {delay_s:.3f}\n" if delay_s > 0 else ""
        log = shlex.quote(str(self.log))
        # Each line is written by one printf (one write(2) to an O_APPEND file): lines never interleave.
        script = (
            "#!/bin/sh\n"
            f"sep=$(printf '\\037')\n"
            'line="start$sep$$$sep${GIT_DIR:-}$sep$(pwd)"\n'
            'for a in "$@"; do line="$line$sep$a"; done\n'
            f"printf '%s\\n' \"$line\" >> {log}\n"
            f"{delay}"
            f"{shlex.quote(real_git())} \"$@\"\n"
            "rc=$?\n"
            f"printf 'end%s%s\\n' \"$sep\" \"$$\" >> {log}\n"
            "exit $rc\n")
        wrapper = self.bin / "git"
        wrapper.write_text(script)
        wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def _lines(self) -> list[list[str]]:
        return [line.split(_SEP) for line in self.log.read_text(errors="replace").splitlines() if line]

    @property
    def calls(self) -> list[GitCall]:
        return [GitCall(f[1], f[2], f[3], tuple(f[4:])) for f in self._lines() if f[0] == "start" and len(f) >= 4]

    def subcommands(self) -> list[str]:
        return [c.subcommand for c in self.calls]

    def count(self, subcommand: str) -> int:
        return sum(1 for c in self.calls if c.subcommand == subcommand)

    def of(self, subcommand: str) -> list[GitCall]:
        return [c for c in self.calls if c.subcommand == subcommand]

    def clear(self) -> None:
        """Forget what was counted so far (say, a fixture's own git commands)."""
        self.log.write_text("")

    def max_concurrent(self, git_dir: str | os.PathLike[str]) -> int:
        """The most commands that ran on `git_dir` at once, from the order of start and end lines."""
        wanted = os.path.abspath(git_dir)
        running: set[str] = set()
        most = 0
        for fields in self._lines():
            if fields[0] == "start" and len(fields) >= 4 and fields[2] and os.path.abspath(fields[2]) == wanted:
                running.add(fields[1])
                most = max(most, len(running))
            elif fields[0] == "end" and len(fields) >= 2:
                running.discard(fields[1])
        return most

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """`base` (default os.environ) with the wrapper first on PATH, for a child started by hand."""
        env = dict(os.environ if base is None else base)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        return env


@contextmanager
def counting_git(directory: str | os.PathLike[str], delay_s: float = 0.0) -> Iterator[GitCount]:
    """Count every git command run (here and in children started) inside the block."""
    counter = GitCount(directory, delay_s)
    old = os.environ.get("PATH")
    os.environ["PATH"] = counter.env()["PATH"]
    try:
        yield counter
    finally:
        if old is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = old
