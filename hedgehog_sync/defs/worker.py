"""What a run worker process tunes about itself, once, when its first step starts.

A sync run's worker is `dagster api execute_run`: one process per run (a Kubernetes Job in production),
that imports Dagster and the code location, executes the run's three steps, and exits. Issue 14's
profile of such workers found most of their CPU outside the sync work; two costs are the process's
own and can be cut from inside it, without changing what the run does:

- The cyclic garbage collector walks every tracked object of the heap on its full passes, and once
  more at interpreter exit. Nothing the worker imported before its first step (Dagster, the code
  location, the instance) ever becomes garbage: `gc.freeze()` moves it out of the collector's sight,
  and an `atexit` freeze keeps the final collection from walking the run's heap just before the
  process ends anyway (the operating system takes the memory back). Objects that become unreachable
  during the run are still collected.
- dagster-postgres opens a new database connection for every statement outside the webserver
  (`NullPool`); a run writes hundreds of events. `DagsterInstance.optimize_for_webserver`, the public
  switch the webserver itself flips, gives the instance's storages one pooled connection each (plus
  overflow) with a statement timeout, for the rest of this process's short life. SQLite storage
  ignores it.

Only in a process that executes one run and exits (`in_run_worker`): a test's in-process `materialize()`, a code server
or the daemon keeps its own settings (freezing a long-lived process's heap would keep its garbage cycles
forever). Set
HEDGEHOG_SYNC_RUN_WORKER_TUNING=off to leave the worker exactly as Dagster starts it.
"""

from __future__ import annotations

import atexit
import gc
import multiprocessing
import os
import sys
import threading
from typing import Any, Sequence

ENV = "HEDGEHOG_SYNC_RUN_WORKER_TUNING"
# Processes that execute one run and exit: what run launchers start (`dagster api execute_run ...`), and
# the one-shot CLI commands an operator may use (`dagster asset materialize`, `dagster job execute`).
RUN_WORKER_COMMANDS = (("api", "execute_run"), ("asset", "materialize"), ("job", "execute"))
CODE_SERVER_COMMAND = ("api", "grpc")  # its multiprocessing children are runs (dagster/_grpc/server.py)
STATEMENT_TIMEOUT_MS = 120_000  # generous: a worker's statements are small; a stuck one still ends
POOL_RECYCLE_S = 3_600
MAX_OVERFLOW = 10  # connections beyond the pooled one, for the worker's other threads

_lock = threading.Lock()
_frozen = False
_pooled: set[int] = set()  # id() of instances already switched to pooled connections


def in_run_worker(argv: Sequence[str] | None = None, spawned: bool | None = None) -> bool:
    """Whether this process executes one run and exits: `dagster api execute_run` (the Kubernetes run
    launcher's Job), a one-shot CLI run, or the process a code server (`dagster api grpc`) spawns for
    each run it is asked to start (the default run launcher's, in the demo: a multiprocessing child,
    which inherits the server's command line). `spawned`: whether this is a multiprocessing child."""
    argv = sys.argv if argv is None else argv
    spawned = multiprocessing.parent_process() is not None if spawned is None else spawned
    command = tuple(argv[1:3])  # argv[0]: the `dagster` script, or dagster/__main__.py (python -m)
    return command in RUN_WORKER_COMMANDS or (spawned and command == CODE_SERVER_COMMAND)


def tuning_enabled() -> bool:
    return os.environ.get(ENV, "").strip().lower() not in ("off", "0", "false", "no")


def tune_run_worker(instance: Any, argv: Sequence[str] | None = None) -> list[str]:
    """Freeze the worker's startup heap and pool its storage connections, once per process and
    instance; returns what it did this call (for the step's log), [] outside a run worker."""
    global _frozen
    if not (tuning_enabled() and in_run_worker(argv)):
        return []
    done = []
    with _lock:
        if not _frozen:
            _frozen = True
            gc.freeze()
            atexit.register(gc.freeze)
            done.append("startup heap frozen for the cyclic GC")
        if id(instance) not in _pooled:
            _pooled.add(id(instance))
            instance.optimize_for_webserver(statement_timeout=STATEMENT_TIMEOUT_MS, pool_recycle=POOL_RECYCLE_S,
                                            max_overflow=MAX_OVERFLOW)
            if getattr(instance.run_storage, "postgres_url", None):
                done.append("storage connections pooled")
    return done
