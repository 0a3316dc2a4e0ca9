"""Issue 19, run 13: read_capped_file's O_NOCTTY, checked by a test mutmut actually runs for it.

Run 12's test_opening_a_terminal_never_makes_it_the_controlling_terminal kills the mutants that drop
O_NOCTTY (and O_CLOEXEC with it) when run, but it calls read_capped_file only in a forked child: mutmut's
stats, recorded in the test process, never tie it to read_capped_file, so no mutant of it runs that test.
This one first reads a regular file in this process (the call mutmut records), then makes the same check in
a forked child, which runs the same (possibly mutated) code.
"""

from __future__ import annotations

import os
import pty
import sys
from pathlib import Path

import pytest

from hedgehog_sync.connectors import kubernetes as kc
from hedgehog_sync.domain.errors import ClusterConfigError


def _child_opens_terminal(name: str) -> int:  # pragma: no cover - runs in the child
    """In a new session without a controlling terminal: 0 if read_capped_file refused the terminal and it
    did not become the controlling terminal, 1 if it did, 4/5 if it was read or refused otherwise."""
    os.setsid()
    try:
        kc.read_capped_file(name, "max_token_file_bytes", "the token")
        return 4
    except ClusterConfigError as exc:
        if "is not a regular file" not in str(exc):
            return 5
    try:  # /dev/tty opens only for a process that has a controlling terminal
        os.close(os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY))
    except OSError:
        return 0
    return 1


@pytest.mark.skipif(not hasattr(os, "fork") or not sys.platform.startswith("linux"),
                    reason="controlling terminals as Linux assigns them")
def test_a_session_leader_reading_a_terminal_does_not_acquire_it(tmp_path: Path) -> None:
    # A session leader without a controlling terminal (a daemon, a container's first process) that opens a
    # terminal without O_NOCTTY acquires it, and with it the terminal's SIGHUP and job-control signals.
    token = tmp_path / "token"
    token.write_bytes(b"tok")
    assert kc.read_capped_file(str(token), "max_token_file_bytes", "the token") == b"tok"
    master, slave = pty.openpty()
    try:
        name = os.ttyname(slave)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            code = 3
            try:
                code = _child_opens_terminal(name)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(slave)
        os.close(master)
    assert os.waitstatus_to_exitcode(status) == 0, "1: the terminal became the controlling terminal"
