"""Kubernetes tokens as people write them (issue 12, finding 1): trimmed like kubectl, never shown.

A `token: |` YAML block and a tokenFile written with `echo` both end in a newline. kubectl and
client-go trim it; hedgehog-sync used to send it, and http.client's "Invalid header value
b'Bearer <token>\\n'" carried the token into every output. These run the installed console script
against the devlab API server (which checks bearer tokens), then search every output for the token.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from pathlib import Path

import pytest
import yaml

from hedgehog_sync.connectors.kubernetes import _in_cluster_client, api_client_for, read_live
from hedgehog_sync.devlab.apiserver import FabricStore, start_apiserver, write_kubeconfig
from hedgehog_sync.domain.errors import ClusterConfigError
from hedgehog_sync.domain.redaction import redact
from hedgehog_sync_tests.domain.test_fidelity import stored
from hedgehog_sync_tests.leaks import assert_no_leak
from hedgehog_sync_tests.reliability.test_cluster_budgets import FABRIC, VPC_FILE, make_fabric, run_check


@pytest.fixture
def served(tmp_path):
    """The devlab API server holding fab-hostile's one VPC, as Git has it; its token is the fixture's."""
    token = f"sa-token-{secrets.token_hex(16)}"
    store = FabricStore()
    store.add_fabric(FABRIC, token)
    store.put(FABRIC, stored(yaml.safe_load(VPC_FILE)), manager="kubectl")
    with start_apiserver(store) as handle:
        yield handle, token


_PLACEHOLDER = "user-section-placeholder"


def with_user(kubeconfig: Path, user_lines: str) -> str:
    """The kubeconfig's text, its clusters (server, CA) and contexts kept, with its one user's
    section as a person would type it (a YAML block, a tokenFile, ...)."""
    doc = yaml.safe_load(kubeconfig.read_text())
    doc["users"][0]["user"] = _PLACEHOLDER
    text = yaml.safe_dump(doc, sort_keys=False)
    assert f"  user: {_PLACEHOLDER}\n" in text
    return text.replace(f"  user: {_PLACEHOLDER}\n", "  user:\n" + user_lines)


def served_fabric(handle, tmp_path: Path):
    """fab-hostile's Git repository and inventory, its kubeconfig the devlab server's own."""
    fabric = make_fabric(tmp_path, handle.fabric_url(FABRIC))
    handle.write_kubeconfig(FABRIC, fabric.kubeconfig)
    return fabric


def _echo_token_file(path: Path, token: str) -> None:
    subprocess.run(["sh", "-c", 'echo "$TOKEN" > "$TARGET"'], env={"TOKEN": token, "TARGET": str(path)},
                   check=True)


USERS = {
    # name: (the kubeconfig's user section, given the token; a file to write next to it)
    "token: | block": lambda token: (f"    token: |\n      {token}\n", None),
    "token with CRLF and spaces": lambda token: (f'    token: "  {token}\\r\\n"\n', None),
    "tokenFile written with echo": lambda token: ("    tokenFile: token.txt\n", "echo"),
    "tokenFile with CRLF": lambda token: ("    tokenFile: token.txt\n", f"{token}\r\n"),
}


@pytest.mark.parametrize("case", list(USERS))
def test_a_token_ending_in_a_newline_authenticates_and_appears_nowhere(served, tmp_path, case):
    handle, token = served
    fabric = served_fabric(handle, tmp_path)
    user, file = USERS[case](token)
    if file == "echo":
        _echo_token_file(fabric.kubeconfig.parent / "token.txt", token)
    elif file is not None:
        (fabric.kubeconfig.parent / "token.txt").write_text(file)
    fabric.kubeconfig.write_text(with_user(fabric.kubeconfig, user))
    done = run_check(fabric, {})
    report = done.report
    assert report["errors"] == [] and done.rc == 0, (report["errors"], done.stderr)
    assert report["status"] == "in_sync" and report["cluster"]["resources"] >= 1
    assert_no_leak(token, texts=[done.stdout, done.stderr, json.dumps(report)], paths=[fabric.state])


def test_a_token_with_a_line_break_inside_is_a_clear_error_that_never_shows_it(served, tmp_path):
    handle, token = served
    fabric = served_fabric(handle, tmp_path)
    broken = f"{token[:12]}\n{token[12:]}"
    fabric.kubeconfig.write_text(with_user(fabric.kubeconfig, f"    token: {json.dumps(broken)}\n"))
    done = run_check(fabric, {})
    assert done.rc == 2
    (error,) = done.report["errors"]
    assert error["error_class"] == "ClusterConfigError" and "control character" in error["message"]
    assert "Invalid header" not in done.stdout + done.stderr
    for part in (token, token[12:]):
        assert_no_leak(part, texts=[done.stdout, done.stderr], paths=[fabric.state])


def test_a_wrong_token_from_a_token_file_is_refused_without_showing_it(served, tmp_path):
    handle, _ = served
    wrong = f"wrong-token-{secrets.token_hex(16)}"
    fabric = served_fabric(handle, tmp_path)
    _echo_token_file(fabric.kubeconfig.parent / "token.txt", wrong)
    fabric.kubeconfig.write_text(with_user(fabric.kubeconfig, "    tokenFile: token.txt\n"))
    done = run_check(fabric, {})
    assert done.rc == 2
    (error,) = done.report["errors"]
    assert error["error_class"] == "ClusterAuthError" and "401" in error["message"]
    assert_no_leak(wrong, texts=[done.stdout, done.stderr], paths=[fabric.state])


def test_a_token_file_that_never_ends_is_refused(served, tmp_path):
    handle, _ = served
    path = handle.write_kubeconfig(FABRIC, tmp_path / "k.kubeconfig")
    plain = path.read_text()
    path.write_text(with_user(path, "    tokenFile: /dev/zero\n"))
    with pytest.raises(ClusterConfigError, match="not a regular file"):
        api_client_for(str(path), FABRIC)
    big = tmp_path / "big-token"
    big.write_bytes(b"t" * (70 * 1024))
    path.write_text(plain)
    path.write_text(with_user(path, f"    tokenFile: {big}\n"))
    with pytest.raises(ClusterConfigError, match="HEDGEHOG_SYNC_KUBERNETES_MAX_TOKEN_FILE_BYTES"):
        api_client_for(str(path), FABRIC)


def test_every_credential_of_a_kubeconfig_is_registered_for_redaction(served, tmp_path):
    handle, token = served
    password = f"basic-password-{secrets.token_hex(12)}"
    other = f"other-users-token-{secrets.token_hex(12)}"
    key = f"-----BEGIN PRIVATE KEY-----{secrets.token_hex(24)}-----END PRIVATE KEY-----"
    path = handle.write_kubeconfig(FABRIC, tmp_path / "k.kubeconfig")
    config = yaml.safe_load(with_user(path, f"    token: {token}\n"))
    config["users"] += [{"name": "basic", "user": {"username": "admin", "password": password}},
                        {"name": "other", "user": {"token": other,
                                                   "client-key-data": base64.b64encode(key.encode()).decode()}}]
    path.write_text(yaml.safe_dump(config))
    with api_client_for(str(path), FABRIC) as client:
        assert read_live(client).complete
    text = f"a log line with {token}, {password}, {other} and {key}"
    for secret in (token, password, other, key):
        assert secret not in redact(text)


def test_a_plain_http_server_that_is_not_loopback_never_gets_the_token(tmp_path):
    token = f"never-in-clear-{secrets.token_hex(12)}"
    path = write_kubeconfig(tmp_path / "k.kubeconfig", "http://k8s.example.com:8080", token, FABRIC)
    with pytest.raises(ClusterConfigError, match="plain http") as caught:
        api_client_for(str(path), FABRIC)
    assert token not in str(caught.value)


def test_the_in_cluster_token_file_is_trimmed_and_capped(tmp_path):
    token = f"in-cluster-token-{secrets.token_hex(12)}"
    token_file, ca = tmp_path / "token", tmp_path / "ca.crt"
    _echo_token_file(token_file, token)
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    with _in_cluster_client(str(token_file), str(ca), env) as client:
        assert client.configuration.get_api_key_with_prefix("authorization") == f"Bearer {token}"
    assert token not in redact(f"x {token} y")
    big = tmp_path / "big-token"
    big.write_bytes(b"t" * (70 * 1024))
    with pytest.raises(ClusterConfigError, match="max_token_file_bytes"):
        _in_cluster_client(str(big), str(ca), env)


def test_in_a_dagster_run_a_block_token_syncs_and_a_hostile_server_is_contained_without_a_leak(lab):
    """The same through real Dagster runs of the demo fleet: the faulted fabric's kubeconfig holds its
    token as a `token: |` block and syncs in sync; then its server becomes a gzip bomb, and only that
    fabric turns unknown, naming the budget. The token is nowhere in the instance or the state."""
    from hedgehog_sync_tests.reliability.conftest import FAULTED, assert_contained
    from hedgehog_sync_tests.reliability.test_cluster_budgets import HostileServer, gzip_bomb

    kubeconfig = lab.fleet.root / "kube" / f"{FAULTED}.kubeconfig"
    doc = yaml.safe_load(kubeconfig.read_text())
    token = doc["users"][0]["user"]["token"]
    server = doc["clusters"][0]["cluster"]["server"]
    text = with_user(kubeconfig, f"    token: |\n      {token}\n")
    kubeconfig.write_text(text)
    assert lab.sync().success
    assert lab.report(FAULTED)["status"] == "in_sync", lab.report(FAULTED)["errors"]

    before = lab.snapshot()
    hostile = HostileServer(gzip_bomb)
    try:
        kubeconfig.write_text(text.replace(server, hostile.url))
        lab.sync()
        report = assert_contained(lab, before, error_class="BudgetExceededError", side="cluster")
    finally:
        hostile.stop()
    assert "kubernetes.content_encoding" in report["errors"][0]["message"]
    messages = [m for result in lab.results for m in lab.run_messages(result) if m]
    assert_no_leak(token, texts=messages + [json.dumps(report)],
                   paths=lab.state_paths())
