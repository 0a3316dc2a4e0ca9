"""Reading live state with the official client from the devlab API server, over real HTTP."""

from __future__ import annotations

import base64
import secrets
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client

from hedgehog_sync.connectors.kubernetes import (
    api_client_for,
    read_live,
    retry_after_seconds,
)
from hedgehog_sync.devlab.apiserver import (
    ApiServerHandle,
    FabricStore,
    FaultRule,
    new_object,
    start_apiserver,
    write_kubeconfig,
)
from hedgehog_sync.domain.errors import (
    ClusterAuthError,
    ClusterConfigError,
    ClusterTimeoutError,
    ClusterUnreachableError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from hedgehog_sync.domain.kinds import AGENT, DHCP, GATEWAY, GWINT, KINDS, VPC, WIRING
from hedgehog_sync.domain.model import ResourceId
from hedgehog_sync.domain.redaction import safe_url

VPCS = r"/fabrics/fab-east/apis/vpc\.githedgehog\.com/v1beta1/namespaces/default/vpcs$"
# Distinctive, so a test can prove it never leaks into a message.
EAST_TOKEN = f"east-token-{secrets.token_hex(12)}"
WEST_TOKEN = f"west-token-{secrets.token_hex(12)}"
BARE_TOKEN = f"bare-token-{secrets.token_hex(12)}"
_SUBNET = {"subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "vlan": 1001}


def one_of_each_kind() -> list[dict[str, Any]]:
    """A small, realistic object of every Hedgehog kind (shapes from githedgehog/fabric and its docs)."""
    link = {"server": {"port": "server-01/enp2s1"}, "switch": {"port": "leaf-01/E1/1"}}
    return [
        new_object(
            "Switch",
            "leaf-01",
            {
                "role": "server-leaf",
                "profile": "celestica-ds3000",
                "boot": {"mac": "0c:20:12:ff:00:00"},
                "redundancy": {},
            },
        ),
        new_object("Server", "server-01", {"description": "S-01 U leaf-01"}),
        new_object("Connection", "server-01--unbundled--leaf-01", {"unbundled": {"link": link}}),
        new_object("SwitchGroup", "empty", {}),
        new_object("VLANNamespace", "default", {"ranges": [{"from": 1000, "to": 2999}]}),
        new_object("SwitchProfile", "celestica-ds3000", {"displayName": "Celestica DS3000"}),
        new_object("ServerProfile", "gpu-node", {"description": "GPU node"}),
        new_object(
            "VPC",
            "vpc-1",
            {"ipv4Namespace": "default", "vlanNamespace": "default", "subnets": {"default": _SUBNET}},
        ),
        new_object(
            "VPCAttachment",
            "vpc-1--server-01",
            {"connection": "server-01--unbundled--leaf-01", "subnet": "vpc-1/default"},
        ),
        new_object("VPCPeering", "vpc-1--vpc-2", {"permit": [{"vpc-1": {}, "vpc-2": {}}]}),
        new_object("IPv4Namespace", "default", {"subnets": ["10.0.0.0/16"]}),
        new_object(
            "External",
            "internet",
            {"ipv4Namespace": "default", "inboundCommunity": "65102:5000", "outboundCommunity": "5000:65102"},
        ),
        new_object(
            "ExternalAttachment",
            "internet--leaf-01",
            {
                "connection": "leaf-01--external",
                "external": "internet",
                "neighbor": {"asn": 65102, "ip": "100.100.0.6"},
                "switch": {"ip": "100.100.0.1/24", "vlan": 100},
            },
        ),
        new_object(
            "ExternalPeering",
            "vpc-1--internet",
            {
                "permit": {
                    "vpc": {"name": "vpc-1", "subnets": ["default"]},
                    "external": {"name": "internet", "prefixes": [{"prefix": "0.0.0.0/0"}]},
                }
            },
        ),
        new_object("Agent", "leaf-01", {"role": "server-leaf"}),
        new_object("Catalog", "leaf-01", {}),
        new_object(
            "DHCPSubnet",
            "vpc-1--default",
            {
                "subnet": "vpc-1/default",
                "cidrBlock": "10.0.1.0/24",
                "gateway": "10.0.1.1",
                "startIP": "10.0.1.10",
                "endIP": "10.0.1.99",
                "vrf": "VrfVvpc-1",
                "circuitID": "Vlan1001",
            },
        ),
        new_object(
            "Gateway", "gw-1", {"asn": 65534, "protocolIP": "172.30.8.1/32", "vtepIP": "172.30.12.1/32"}
        ),
        new_object("GatewayGroup", "default", {}),
        new_object(
            "GatewayPeering",
            "vpc-1--vpc-2",
            {
                "peering": {
                    "vpc-1": {"expose": [{"ips": [{"cidr": "10.0.1.0/24"}]}]},
                    "vpc-2": {"expose": [{"ips": [{"cidr": "10.0.2.0/24"}]}]},
                }
            },
        ),
        new_object("VPCInfo", "vpc-1", {"subnets": {"default": {"cidr": "10.0.1.0/24"}}}),
        new_object("GatewayAgent", "gw-1", {}),
    ]


@pytest.fixture
def store() -> FabricStore:
    """fab-east: every kind seeded; fab-west: no gateway groups served; fab-bare: serves nothing."""
    fabrics = FabricStore()
    fabrics.add_fabric("fab-east", EAST_TOKEN)
    fabrics.add_fabric("fab-west", WEST_TOKEN, groups=[WIRING, VPC, AGENT, DHCP])
    fabrics.add_fabric("fab-bare", BARE_TOKEN, groups=[])
    for obj in one_of_each_kind():
        fabrics.put("fab-east", obj)
        if obj["apiVersion"].split("/")[0] not in (GATEWAY, GWINT):
            fabrics.put("fab-west", obj)
    return fabrics


@pytest.fixture
def apiserver(store: FabricStore) -> Iterator[ApiServerHandle]:
    with start_apiserver(store) as handle:
        yield handle


@pytest.fixture
def east_kubeconfig(apiserver: ApiServerHandle, tmp_path: Path) -> Path:
    return apiserver.write_kubeconfig("fab-east", tmp_path / "fab-east.kubeconfig")


@pytest.fixture
def east(east_kubeconfig: Path) -> Iterator[k8s_client.ApiClient]:
    with api_client_for(str(east_kubeconfig), "fab-east") as api_client:
        yield api_client


def client_of(apiserver: ApiServerHandle, fabric: str, tmp_path: Path) -> k8s_client.ApiClient:
    return api_client_for(str(apiserver.write_kubeconfig(fabric, tmp_path / f"{fabric}.kubeconfig")), fabric)


def assert_secret_free(exc: BaseException, *secrets: str) -> None:
    """Neither the error nor anything chained to it shows a token."""
    seen: BaseException | None = exc
    while seen is not None:
        for secret in secrets:
            assert secret not in str(seen) and secret not in repr(seen), type(seen).__name__
        seen = seen.__cause__ or seen.__context__


# --- reading ------------------------------------------------------------------------------------
def test_read_live_returns_every_object_of_every_kind(
    east: k8s_client.ApiClient, apiserver: ApiServerHandle
) -> None:
    state = read_live(east, page_size=2)
    assert state.complete and state.findings == []
    assert state.server == apiserver.fabric_url("fab-east")
    assert sorted(ResourceId.of(o) for o in state.objects) == sorted(
        ResourceId.of(o) for o in one_of_each_kind()
    )
    assert {o["kind"] for o in state.objects} == {k.kind for k in KINDS}
    assert all(o["metadata"]["resourceVersion"] and o["metadata"]["uid"] for o in state.objects)


def test_paging_reads_1250_objects_exactly_once(east: k8s_client.ApiClient, store: FabricStore) -> None:
    for index in range(1250):
        store.put("fab-east", new_object("VPC", f"vpc-{index:04d}", {"subnets": {}}))
    kind = next(k for k in KINDS if k.kind == "VPC")
    state = read_live(east, kinds=[kind], page_size=500)
    names = [o["metadata"]["name"] for o in state.objects]
    assert len(names) == len(set(names)) == 1251  # and the seeded vpc-1


def test_a_plural_that_is_not_served_is_a_warning_and_the_state_stays_complete(
    apiserver: ApiServerHandle, tmp_path: Path
) -> None:
    with client_of(apiserver, "fab-west", tmp_path) as west:
        state = read_live(west)
    unserved = [k for k in KINDS if k.group in (GATEWAY, GWINT)]
    assert state.complete
    assert sorted(f.source for f in state.findings) == sorted(f"cluster:{k.plural}" for k in unserved)
    assert {f.level for f in state.findings} == {"warning"}
    assert "404" in state.findings[0].message
    assert len(state.objects) == len(one_of_each_kind()) - len(unserved)


def test_a_server_that_serves_no_hedgehog_kind_is_a_configuration_error(
    apiserver: ApiServerHandle, tmp_path: Path
) -> None:
    with client_of(apiserver, "fab-bare", tmp_path) as bare:
        with pytest.raises(ClusterConfigError, match="serves none"):
            read_live(bare)


def test_an_expired_continue_token_restarts_the_list_once(
    east: k8s_client.ApiClient, apiserver: ApiServerHandle, store: FabricStore
) -> None:
    for index in range(5):
        store.put("fab-east", new_object("VPC", f"vpc-x{index}", {}))
    rule = apiserver.faults.add(FaultRule(path=VPCS, query="continue=", status=410, times=1))
    state = read_live(east, page_size=2)
    assert rule.hits == 1
    assert len([o for o in state.objects if o["kind"] == "VPC"]) == 6


def test_a_continue_token_that_keeps_expiring_is_transient(
    east: k8s_client.ApiClient, apiserver: ApiServerHandle, store: FabricStore
) -> None:
    store.put("fab-east", new_object("VPC", "vpc-2", {}))
    apiserver.faults.add(FaultRule(path=VPCS, query="continue=", status=410))
    with pytest.raises(TransientError, match="410") as caught:
        read_live(east, page_size=1)
    assert caught.value.transient


# --- failures -----------------------------------------------------------------------------------
def test_a_wrong_token_is_a_permanent_auth_error_that_never_shows_the_token(
    apiserver: ApiServerHandle, tmp_path: Path
) -> None:
    path = write_kubeconfig(tmp_path / "k", apiserver.fabric_url("fab-east"), WEST_TOKEN, "fab-east", ca_pem=apiserver.ca_pem)
    with api_client_for(str(path), "fab-east") as wrong:
        with pytest.raises(ClusterAuthError) as caught:
            read_live(wrong)
    assert isinstance(caught.value, PermanentError)
    assert "401" in str(caught.value) and apiserver.fabric_url("fab-east") in str(caught.value)
    assert_secret_free(caught.value, WEST_TOKEN, EAST_TOKEN)


@pytest.mark.parametrize(
    ("rule", "error", "retry_after"),
    [
        (FaultRule(path=VPCS, status=403), ClusterAuthError, None),
        (FaultRule(path=VPCS, status=429, retry_after=7), RateLimitedError, 7.0),
        (FaultRule(path=VPCS, status=500), ClusterUnreachableError, None),
        (FaultRule(path=VPCS, status=503, retry_after=2), ClusterUnreachableError, 2.0),
        (FaultRule(path=VPCS, status=504), ClusterTimeoutError, None),
        (FaultRule(path=VPCS, action="truncate"), ClusterUnreachableError, None),
        (FaultRule(path=VPCS, action="drop"), ClusterUnreachableError, None),
    ],
    ids=["403", "429", "500", "503", "504", "truncated", "dropped"],
)
def test_a_failing_plural_fails_the_fabric_with_the_class_recovery_needs(
    east: k8s_client.ApiClient,
    apiserver: ApiServerHandle,
    rule: FaultRule,
    error: type,
    retry_after: float | None,
) -> None:
    apiserver.faults.add(rule)
    with pytest.raises(error) as caught:
        read_live(east)
    assert "vpcs" in str(caught.value)
    assert getattr(caught.value, "retry_after", None) == retry_after
    assert_secret_free(caught.value, EAST_TOKEN)


def test_a_slow_server_is_a_timeout(east: k8s_client.ApiClient, apiserver: ApiServerHandle) -> None:
    apiserver.faults.add(FaultRule(path=VPCS, latency=1.0))
    with pytest.raises(ClusterTimeoutError) as caught:
        read_live(east, timeout_seconds=0.1)
    assert caught.value.transient
    assert_secret_free(caught.value, EAST_TOKEN)


def test_a_stopped_server_is_unreachable(east: k8s_client.ApiClient, apiserver: ApiServerHandle) -> None:
    apiserver.stop()
    with pytest.raises(ClusterUnreachableError, match="connection refused") as caught:
        read_live(east)
    assert caught.value.transient
    assert_secret_free(caught.value, EAST_TOKEN)


# --- clients ------------------------------------------------------------------------------------
def test_clients_for_two_fabrics_leave_the_global_configuration_alone(
    apiserver: ApiServerHandle, tmp_path: Path
) -> None:
    before = k8s_client.Configuration.get_default_copy().host
    with (
        client_of(apiserver, "fab-east", tmp_path) as east,
        client_of(apiserver, "fab-west", tmp_path) as west,
    ):
        assert east.configuration.host == apiserver.fabric_url("fab-east")
        assert west.configuration.host == apiserver.fabric_url("fab-west")
    assert k8s_client.Configuration.get_default_copy().host == before


def test_kubeconfig_defaults_to_the_kubeconfig_environment_variable(
    east_kubeconfig: Path, apiserver: ApiServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(east_kubeconfig))
    with api_client_for(None, None) as api_client:
        assert read_live(api_client).server == apiserver.fabric_url("fab-east")


def test_a_missing_kubeconfig_is_a_config_error_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.kubeconfig"
    with pytest.raises(ClusterConfigError, match="nowhere.kubeconfig"):
        api_client_for(str(missing), "fab-east")


def test_an_unknown_context_is_a_config_error_naming_it(east_kubeconfig: Path) -> None:
    with pytest.raises(ClusterConfigError, match="fab-mars") as caught:
        api_client_for(str(east_kubeconfig), "fab-mars")
    assert str(east_kubeconfig) in str(caught.value)
    assert_secret_free(caught.value, EAST_TOKEN)


def test_a_kubeconfig_that_is_not_yaml_never_quotes_its_lines(tmp_path: Path) -> None:
    path = tmp_path / "broken.kubeconfig"
    path.write_text(f"users:\n- name: u\n  user: {{token: {EAST_TOKEN}\n")
    with pytest.raises(ClusterConfigError, match="not valid YAML") as caught:
        api_client_for(str(path), None)
    assert_secret_free(caught.value, EAST_TOKEN)


def plugin_kubeconfig(path: Path, server: str, user: dict[str, Any], ca_pem: bytes | None = None) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:  # the devlab serves HTTPS with its own CA
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster}],
        "users": [{"name": "sso", "user": user}],
        "contexts": [{"name": "fab-east", "context": {"cluster": "c", "user": "sso"}}],
        "current-context": "fab-east",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def exec_user(tmp_path: Path, token: str) -> dict[str, Any]:
    """A real exec credential plugin: a script that prints an ExecCredential with a token."""
    script = tmp_path / "credential.py"
    credential = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential",
        "status": {"token": token},
    }
    script.write_text(f"import json\nprint(json.dumps({credential!r}))\n")
    return {
        "exec": {
            "apiVersion": "client.authentication.k8s.io/v1",
            "command": sys.executable,
            "args": [str(script)],
            "interactiveMode": "Never",
        }
    }


@pytest.mark.parametrize(
    "user",
    [
        lambda tmp_path: exec_user(tmp_path, EAST_TOKEN),
        lambda tmp_path: {
            "auth-provider": {
                "name": "oidc",
                "config": {"id-token": EAST_TOKEN, "idp-issuer-url": "https://sso.example.com"},
            }
        },
    ],
    ids=["exec", "auth-provider"],
)
def test_plugin_users_are_refused_by_default(
    apiserver: ApiServerHandle, tmp_path: Path, user: Callable[[Path], dict[str, Any]]
) -> None:
    path = plugin_kubeconfig(tmp_path / "sso.kubeconfig", apiserver.fabric_url("fab-east"), user(tmp_path))
    with pytest.raises(ClusterConfigError, match="allow_exec") as caught:
        api_client_for(str(path), "fab-east")
    assert str(path) in str(caught.value) and "fab-east" in str(caught.value)
    assert_secret_free(caught.value, EAST_TOKEN)


def test_an_exec_plugin_runs_when_allowed(apiserver: ApiServerHandle, tmp_path: Path) -> None:
    path = plugin_kubeconfig(
        tmp_path / "sso.kubeconfig", apiserver.fabric_url("fab-east"), exec_user(tmp_path, EAST_TOKEN),
        apiserver.ca_pem,
    )
    with api_client_for(str(path), "fab-east", allow_exec=True) as api_client:
        assert read_live(api_client).complete


# --- plain functions ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://10.0.0.1:6443", "https://10.0.0.1:6443"),
        (
            "https://admin:hunter2@k8s.example.com:6443/prefix?token=abc#x",
            "https://k8s.example.com:6443/prefix",
        ),
        ("http://tok@127.0.0.1/fabrics/fab-east", "http://127.0.0.1/fabrics/fab-east"),
        ("https://user@[fd00::1]:6443", "https://[fd00::1]:6443"),
    ],
)
def test_redact_url_drops_credentials(url: str, safe: str) -> None:
    assert safe_url(url) == safe


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        ("0.5", 0.5),
        ("-3", 0.0),
        ("inf", None),
        ("Sat, 28 Nov 2026 12:00:30 GMT", 30.0),
        ("Sat, 28 Nov 2026 11:00:00 GMT", 0.0),
        ("soon", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(value: str, seconds: float | None) -> None:
    now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=timezone.utc)
    assert retry_after_seconds({"retry-after": value}, now=now) == seconds
    assert retry_after_seconds({}) is None


# --- hostile kubeconfigs (issue 12) ------------------------------------------------------------
def _alias_bomb_kubeconfig() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(1, 12):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        text += f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]\n"
    return text + "users: *l\ncontexts: *l\ncurrent-context: fab-east\n"


_CLUSTER = "clusters: [{name: c, cluster: {server: 'http://127.0.0.1:1'}}]\n"
MALFORMED_KUBECONFIGS = {
    "deeply nested": "a: " + "[" * 20_000 + "]" * 20_000 + "\n",
    "alias bomb": _alias_bomb_kubeconfig(),
    "users not named": "users: [1]\ncurrent-context: fab-east\n",
    "user a string": _CLUSTER + "users: [{name: u, user: 'abc'}]\n"
                     "contexts: [{name: fab-east, context: {cluster: c, user: u}}]\ncurrent-context: fab-east\n",
    "context a number": "contexts: [{name: fab-east, context: 5}]\ncurrent-context: fab-east\n",
    "token a number": _CLUSTER + "users: [{name: u, user: {token: 12345678901234567890}}]\n"
                      "contexts: [{name: fab-east, context: {cluster: c, user: u}}]\ncurrent-context: fab-east\n",
    "tokenFile a list": _CLUSTER + "users: [{name: u, user: {tokenFile: [a]}}]\n"
                        "contexts: [{name: fab-east, context: {cluster: c, user: u}}]\ncurrent-context: fab-east\n",
}


@pytest.mark.parametrize("case", list(MALFORMED_KUBECONFIGS))
def test_a_malformed_kubeconfig_is_a_config_error_and_nothing_else(tmp_path: Path, case: str) -> None:
    path = tmp_path / "bad.kubeconfig"
    path.write_text(MALFORMED_KUBECONFIGS[case])
    with pytest.raises(ClusterConfigError) as caught:
        api_client_for(str(path), "fab-east")
    assert str(path) in str(caught.value) and len(str(caught.value)) < 300
    assert "lol" not in str(caught.value)


def test_budgets_come_from_env_with_parameters_first(monkeypatch: pytest.MonkeyPatch) -> None:
    from hedgehog_sync.connectors.kubernetes import BUDGETS, ReadBudgets

    monkeypatch.setenv(BUDGETS["max_objects"].env, "25")
    monkeypatch.setenv(BUDGETS["max_response_bytes"].env, "not a number")
    monkeypatch.setenv(BUDGETS["request_deadline_seconds"].env, "-1")
    budgets = ReadBudgets.from_env(max_pages_per_kind=3)
    assert budgets.max_objects == 25 and budgets.max_pages_per_kind == 3
    assert budgets.max_response_bytes == BUDGETS["max_response_bytes"].default  # unusable values fall back
    assert budgets.request_deadline_seconds == BUDGETS["request_deadline_seconds"].default
    assert all(b.env.startswith("HEDGEHOG_SYNC_KUBERNETES_") for b in BUDGETS.values())
