"""`hedgehog-sync devlab apiserver`: the foreground server."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from hedgehog_sync.devlab.apiserver.app import create_app
from hedgehog_sync.devlab.apiserver.constants import HOST
from hedgehog_sync.devlab.apiserver.kubeconfig import write_kubeconfig
from hedgehog_sync.devlab.apiserver.server import _Autosaver, _listening_socket, _uvicorn_server
from hedgehog_sync.devlab.apiserver.store import FabricStore
from hedgehog_sync.devlab.apiserver.tls import ServerTLS


@dataclass
class ServedFabric:
    """How the foreground server serves one fabric (from --fabric or a --fabrics YAML file)."""

    name: str
    groups: list[str] | None = None
    token_env: str | None = None
    token_file: str | None = None

    def token(self) -> str | None:
        """The configured token, or None when the server should generate one."""
        if self.token_env:
            value = os.environ.get(self.token_env)
            if not value:
                raise ValueError(f"fabric {self.name}: environment variable {self.token_env} is not set")
            return value.strip()
        if self.token_file:
            return Path(self.token_file).read_text(encoding="utf-8").strip()
        return None


def read_served_fabrics(path: str | os.PathLike[str]) -> list[ServedFabric]:
    """Parse `fabrics: [{name, groups?, token_env?, token_file?}]` from YAML; unknown keys are errors."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    entries = document.get("fabrics") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a top-level `fabrics:` list")
    allowed = {"name", "groups", "token_env", "token_file"}
    specs = []
    for index, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or "name" not in entry:
            raise ValueError(f"{path}: fabric entry {index} needs a name")
        unknown = set(entry) - allowed
        if unknown:
            raise ValueError(f"{path}: fabric {entry['name']}: unknown keys {sorted(unknown)}")
        specs.append(ServedFabric(**entry))
    return specs


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hedgehog-sync devlab apiserver",
        description="Serve devlab Hedgehog fabrics over the Kubernetes REST protocol on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = a free port)")
    parser.add_argument("--state", type=Path, help="JSON file holding live state across restarts")
    parser.add_argument(
        "--fabric",
        action="append",
        default=[],
        metavar="NAME",
        help="serve a fabric with every group and a generated token (repeatable)",
    )
    parser.add_argument(
        "--fabrics",
        type=Path,
        metavar="FILE",
        help="YAML file: fabrics: [{name, groups, token_env, token_file}]",
    )
    parser.add_argument(
        "--kubeconfig-dir",
        type=Path,
        help="write <fabric>.kubeconfig (trusting this server's CA) and ca.crt here",
    )
    parser.add_argument(
        "--plain-http",
        action="store_true",
        help="serve plain HTTP instead of HTTPS with a CA made at start (kubectl then sends no token)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the devlab API server in the foreground until interrupted; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        specs = [ServedFabric(name) for name in args.fabric] + (
            read_served_fabrics(args.fabrics) if args.fabrics else []
        )
        if not specs:
            raise ValueError("name at least one fabric with --fabric or --fabrics")
        tokens = {spec.name: spec.token() for spec in specs}
        if any(token is None for token in tokens.values()) and args.kubeconfig_dir is None:
            raise ValueError("--kubeconfig-dir is required when a fabric's token is generated")
        store = FabricStore()
        if args.state is not None and args.state.exists():
            store.load(args.state)
        for spec in specs:
            store.add_fabric(spec.name, tokens[spec.name] or secrets.token_urlsafe(32), spec.groups)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tls = None if args.plain_http else ServerTLS.generate()
    scheme = "http" if tls is None else "https"
    sock = _listening_socket(args.port)
    port = sock.getsockname()[1]
    print(f"devlab API server listening on {scheme}://{HOST}:{port}", flush=True)
    if tls is not None and args.kubeconfig_dir is not None:
        args.kubeconfig_dir.mkdir(parents=True, exist_ok=True)
        (args.kubeconfig_dir / "ca.crt").write_bytes(tls.ca.cert_pem)
    for spec in specs:
        line = f"fabric {spec.name}: {scheme}://{HOST}:{port}/fabrics/{spec.name}"
        if args.kubeconfig_dir is not None:
            written = write_kubeconfig(
                args.kubeconfig_dir / f"{spec.name}.kubeconfig",
                f"{scheme}://{HOST}:{port}/fabrics/{spec.name}",
                store.token(spec.name) or "",
                spec.name,
                ca_pem=tls.ca.cert_pem if tls is not None else None,
            )
            line += f" (kubeconfig {written}, context {spec.name})"
        print(line, flush=True)
    autosaver = _Autosaver(store, args.state) if args.state is not None else None
    if autosaver is not None:
        autosaver.start()
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then re-raises the signal to the handler found
    # before it started: make that an exception, so the state is saved rather than the process killed.
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    try:
        _uvicorn_server(create_app(store), tls).run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
        if autosaver is not None:
            autosaver.stop()
    return 0


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
