"""TLS faults between hedgehog-sync and a fabric's API server (docs/reliability.md, "TLS faults").

Each row serves one fabric over HTTPS with one thing wrong: a CA the kubeconfig does not trust, an
expired certificate, a certificate for another host name, a client certificate the server refuses.
`hedgehog-sync check` (the installed console script) must end with exit 2 and a per-fabric error
that says which check failed and what to fix, never `in_sync`, never the token or a private key.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

import pytest
import yaml

from hedgehog_sync.devlab.apiserver import (
    DevlabCA, FabricStore, IssuedCertificate, ServerTLS, start_apiserver, write_kubeconfig,
)
from hedgehog_sync.devlab.generator import FabricSpec, generate_fabric, split_into_files
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo
from hedgehog_sync_tests.domain.test_fidelity import stored
from hedgehog_sync_tests.leaks import assert_no_leak

CONSOLE_SCRIPT = Path(sys.executable).with_name("hedgehog-sync")
FABRIC = "fab-tls"
TOKEN = f"tls-token-{secrets.token_hex(12)}"


@dataclass
class Fault:
    """How the server speaks TLS, what the kubeconfig trusts and presents, and what the error must say."""

    server: Callable[[ServerTLS], ServerTLS]
    expect: str
    trusted: Callable[[ServerTLS], bytes] = lambda tls: tls.ca.cert_pem
    client: Callable[[ServerTLS], IssuedCertificate | None] = lambda tls: None


_PAST = datetime.now(timezone.utc) - timedelta(days=2)
FOREIGN = DevlabCA.generate("another cluster's CA")
FAULTS = {
    "unknown CA": Fault(
        server=lambda tls: tls,
        trusted=lambda tls: FOREIGN.cert_pem,
        expect="the server's certificate is not signed by a CA the kubeconfig trusts (certificate-authority-data)",
    ),
    "expired certificate": Fault(
        server=lambda tls: ServerTLS(tls.ca, tls.ca.issue(
            "expired", hosts=("127.0.0.1",), not_before=_PAST - timedelta(days=365), not_after=_PAST), tls.ca),
        expect="the server's certificate has expired",
    ),
    "hostname mismatch": Fault(
        server=lambda tls: ServerTLS(tls.ca, tls.ca.issue("elsewhere", hosts=("fabric.example.com",)), tls.ca),
        expect="the server's certificate does not name the host connected to",
    ),
    "client certificate refused": Fault(
        server=lambda tls: tls,
        client=lambda tls: FOREIGN.issue("intruder", client=True),
        expect="(client-certificate-data), the usual cause is that the server does not accept it",
    ),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> tuple[Path, list[dict]]:
    """A small fabric in Git; the cluster is seeded with exactly it, so a good connection is in_sync."""
    root = tmp_path_factory.mktemp("tls")
    desired = generate_fabric(FABRIC, FabricSpec(seed=3, leaves=2, servers_per_leaf=2, vpcs=2))
    files: dict[str, str | bytes | None] = {f"fabrics/{FABRIC}/{p}": t for p, t in split_into_files(desired).items()}
    commit_files(init_repo(root / "git"), files, "wiring and VPCs")
    return root, desired


def check(repo: tuple[Path, list[dict]], tls: ServerTLS, trusted: bytes,
          client: IssuedCertificate | None, tmp_path: Path) -> tuple[subprocess.CompletedProcess, Path]:
    root, desired = repo
    store = FabricStore()
    store.add_fabric(FABRIC, TOKEN)
    for obj in desired:
        store.put(FABRIC, stored(obj), manager="kubectl")
    with start_apiserver(store, tls=tls) as handle:
        kubeconfig = write_kubeconfig(tmp_path / "kube" / f"{FABRIC}.kubeconfig", handle.fabric_url(FABRIC), TOKEN,
                                      FABRIC, ca_pem=trusted, client_certificate=client)
        inventory = tmp_path / "fabrics.yaml"
        inventory.write_text(yaml.safe_dump({"fabrics": [{
            "name": FABRIC,
            "git": {"url": f"file://{root / 'git'}", "ref": "main", "path": f"fabrics/{FABRIC}", "allow_local": True},
            "kubernetes": {"kubeconfig": str(kubeconfig), "context": FABRIC},
        }]}))
        env = {k: v for k, v in os.environ.items()
               if k not in ("HEDGEHOG_SYNC_INVENTORY", "KUBECONFIG", "HEDGEHOG_SYNC_GIT_SCRATCH", "DAGSTER_HOME")}
        done = subprocess.run([str(CONSOLE_SCRIPT), "check", "--inventory", str(inventory), "--fabric", FABRIC,
                               "--format", "json"], capture_output=True, text=True, timeout=180, env=env,
                              cwd=tmp_path)
    return done, kubeconfig


def test_a_good_connection_with_an_accepted_client_certificate_is_in_sync(repo, tmp_path: Path) -> None:
    tls = ServerTLS.generate()
    done, _ = check(repo, tls, tls.ca.cert_pem, tls.ca.issue("hedgehog-sync", client=True), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout)["status"] == "in_sync"


@pytest.mark.parametrize("row", list(FAULTS))
def test_a_tls_fault_is_a_clear_per_fabric_error_with_exit_2(row: str, repo, tmp_path: Path) -> None:
    fault = FAULTS[row]
    good = ServerTLS.generate()
    client = fault.client(good)
    done, kubeconfig = check(repo, fault.server(good), fault.trusted(good), client, tmp_path)
    assert done.returncode == 2, f"{row}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    report = json.loads(done.stdout)
    assert report["fabric"] == FABRIC and report["status"] == "unknown", report
    errors = [e for e in report["errors"] if e["source"] == "cluster"]
    assert len(errors) == 1 and errors[0]["error_class"] == "ClusterUnreachableError", report["errors"]
    assert fault.expect in errors[0]["message"], errors[0]["message"]
    assert "/fabrics/" + FABRIC in errors[0]["message"]  # which server: the fabric's own
    secrets_here = [TOKEN] + ([client.key_pem.decode().splitlines()[1]] if client is not None else [])
    for secret in secrets_here:
        assert_no_leak(secret, texts=[done.stdout, done.stderr])


def test_a_client_certificate_refused_with_a_tls_alert_names_the_alert(tmp_path: Path) -> None:
    """A server that refuses the client certificate with a TLS alert, as a Go API server does (the devlab's
    asyncio server closes without one): a blocking OpenSSL server on loopback that requires a certificate."""
    import select
    import socket
    import ssl
    import threading
    import time

    from hedgehog_sync.connectors.kubernetes import api_client_for, read_live
    from hedgehog_sync.domain.errors import ClusterUnreachableError

    tls = ServerTLS.generate()
    context = tls.context()
    context.verify_mode = ssl.CERT_REQUIRED
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                connection, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            served = context.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
            try:
                served.do_handshake()
                served.recv(1)
            except OSError:  # ssl.SSLError included: the refusal, alert sent
                # Half-close and drain what the client still sends: closing with its request unread
                # would reset the connection and could discard the alert before the client reads it.
                try:
                    served.shutdown(socket.SHUT_WR)
                    deadline = time.monotonic() + 2
                    while time.monotonic() < deadline and select.select([served], [], [], 0.1)[0]:
                        if not os.read(served.fileno(), 65536):
                            break
                except OSError:
                    pass
            finally:
                served.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = FOREIGN.issue("intruder", client=True)
    path = write_kubeconfig(tmp_path / "k.kubeconfig", f"https://127.0.0.1:{listener.getsockname()[1]}/fabrics/{FABRIC}",
                            TOKEN, FABRIC, ca_pem=tls.ca.cert_pem, client_certificate=client)
    try:
        with pytest.raises(ClusterUnreachableError) as caught:
            with api_client_for(str(path), FABRIC) as api_client:
                read_live(api_client)
    finally:
        stop.set()
        thread.join(timeout=10)
        listener.close()
    message = str(caught.value)
    assert "the server refused the handshake (alert: unknown ca)" in message, message
    assert "client certificate (client-certificate-data)" in message
    assert_no_leak(TOKEN, texts=[message])
    assert_no_leak(client.key_pem.decode().splitlines()[1], texts=[message])
