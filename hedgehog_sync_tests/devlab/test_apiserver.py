"""The devlab API server, driven by the official kubernetes client over real HTTP."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from hedgehog_sync.devlab.apiserver import (
    JSON_PATCH,
    ApiError,
    ApiServerHandle,
    FabricStore,
    FaultRule,
    ServerTLS,
    json_patch,
    merge_patch,
    new_object,
    start_apiserver,
    write_kubeconfig,
)
from hedgehog_sync.domain.kinds import GATEWAY, HEDGEHOG_GROUPS, KINDS, VPC, WIRING

V1B1 = "v1beta1"
# Distinctive, so a test can prove it never leaks into a message.
EAST_TOKEN = f"east-token-{secrets.token_hex(12)}"
WEST_TOKEN = f"west-token-{secrets.token_hex(12)}"


@pytest.fixture
def store() -> FabricStore:
    """fab-east serves every Hedgehog group; fab-west only wiring and VPC (no gateway)."""
    fabrics = FabricStore()
    fabrics.add_fabric("fab-east", EAST_TOKEN)
    fabrics.add_fabric("fab-west", WEST_TOKEN, groups=[WIRING, VPC])
    return fabrics


@pytest.fixture
def apiserver(store: FabricStore) -> Iterator[ApiServerHandle]:
    with start_apiserver(store) as handle:
        yield handle


def client_for(handle: ApiServerHandle, fabric: str, directory: Path) -> k8s_client.ApiClient:
    """An official client for one fabric, loaded from a kubeconfig, that shows every answer as it came."""
    path = handle.write_kubeconfig(fabric, directory / f"{fabric}.kubeconfig")
    configuration = k8s_client.Configuration()
    configuration.retries = False  # urllib3 would otherwise retry a 429 with Retry-After by itself
    return k8s_config.new_client_from_config(
        config_file=str(path), context=fabric, persist_config=False, client_configuration=configuration
    )


@pytest.fixture
def east(apiserver: ApiServerHandle, tmp_path: Path) -> Iterator[k8s_client.ApiClient]:
    api_client = client_for(apiserver, "fab-east", tmp_path)
    yield api_client
    api_client.close()


@pytest.fixture
def objects(east: k8s_client.ApiClient) -> k8s_client.CustomObjectsApi:
    return k8s_client.CustomObjectsApi(east)


VPC_SPEC = {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}}


def vpc(name: str = "vpc-1", **spec: Any) -> dict[str, Any]:
    return new_object("VPC", name, {**VPC_SPEC, **spec})


def status_of(exc: ApiException) -> dict[str, Any]:
    body = json.loads(exc.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1" and body["status"] == "Failure"
    assert body["code"] == exc.status
    return body


def raw_call(
    api_client: k8s_client.ApiClient,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
) -> Any:
    """A request the typed API has no method for, through the same client, auth and pool."""
    return api_client.call_api(
        path,
        method,
        header_params={"Accept": "application/json", "Content-Type": content_type},
        body=body,
        response_type="object",
        auth_settings=["BearerToken"],
        _return_http_data_only=True,
        _preload_content=True,
    )


# --- discovery ----------------------------------------------------------------------------------
def test_version_and_core_api_are_served(east: k8s_client.ApiClient) -> None:
    assert k8s_client.VersionApi(east).get_code().git_version.startswith("v1.")
    assert k8s_client.CoreApi(east).get_api_versions().versions == ["v1"]


def test_apis_lists_every_hedgehog_group_with_its_preferred_version(east: k8s_client.ApiClient) -> None:
    groups = {g.name: g for g in k8s_client.ApisApi(east).get_api_versions().groups}
    assert set(groups) == HEDGEHOG_GROUPS
    for kind in KINDS:
        assert groups[kind.group].preferred_version.group_version == kind.api_version


def test_group_and_resource_lists_describe_every_kind(east: k8s_client.ApiClient) -> None:
    for group in sorted(HEDGEHOG_GROUPS):
        version = next(k.version for k in KINDS if k.group == group)
        assert raw_call(east, "GET", f"/apis/{group}")["preferredVersion"]["version"] == version
        listing = raw_call(east, "GET", f"/apis/{group}/{version}")
        resources = {r["name"]: r for r in listing["resources"]}
        for kind in (k for k in KINDS if k.group == group):
            served = resources[kind.plural]
            assert (served["kind"], served["singularName"], served["namespaced"]) == (
                kind.kind,
                kind.kind.lower(),
                True,
            )
            assert {"get", "list", "create", "update", "patch", "delete"} <= set(served["verbs"])
            assert f"{kind.plural}/status" in resources


def test_dynamic_client_discovers_kinds_and_lists_them(
    store: FabricStore, east: k8s_client.ApiClient, tmp_path: Path
) -> None:
    store.put("fab-east", vpc("vpc-1"))
    dynamic = DynamicClient(east, cache_file=str(tmp_path / "discovery.json"))
    vpcs = dynamic.resources.get(api_version=f"{VPC}/{V1B1}", kind="VPC")
    assert [item.metadata.name for item in vpcs.get(namespace="default").items] == ["vpc-1"]


def test_a_fabric_without_gateway_groups_does_not_serve_them(
    apiserver: ApiServerHandle, tmp_path: Path
) -> None:
    with client_for(apiserver, "fab-west", tmp_path) as west:
        assert {g.name for g in k8s_client.ApisApi(west).get_api_versions().groups} == {WIRING, VPC}
        with pytest.raises(ApiException) as caught:
            k8s_client.CustomObjectsApi(west).list_namespaced_custom_object(
                GATEWAY, "v1alpha1", "default", "gateways"
            )
        assert caught.value.status == 404
        assert status_of(caught.value)["reason"] == "NotFound"
        with pytest.raises(ApiException) as caught:
            raw_call(west, "GET", f"/apis/{GATEWAY}")
        assert caught.value.status == 404


# --- authentication and routing -----------------------------------------------------------------
def test_a_wrong_token_gets_401_status(apiserver: ApiServerHandle, tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "k", apiserver.fabric_url("fab-east"), "not-the-token", "fab-east", ca_pem=apiserver.ca_pem)
    with k8s_config.new_client_from_config(config_file=str(path), persist_config=False) as wrong:
        with pytest.raises(ApiException) as caught:
            k8s_client.CustomObjectsApi(wrong).list_namespaced_custom_object(VPC, V1B1, "default", "vpcs")
    assert caught.value.status == 401
    assert status_of(caught.value)["reason"] == "Unauthorized"


def test_one_fabrics_token_does_not_open_another(apiserver: ApiServerHandle, tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "k", apiserver.fabric_url("fab-west"), EAST_TOKEN, "fab-west", ca_pem=apiserver.ca_pem)
    with k8s_config.new_client_from_config(config_file=str(path), persist_config=False) as crossed:
        with pytest.raises(ApiException) as caught:
            k8s_client.VersionApi(crossed).get_code()
    assert caught.value.status == 401


def test_an_unknown_fabric_is_404_status(apiserver: ApiServerHandle, tmp_path: Path) -> None:
    path = write_kubeconfig(tmp_path / "k", apiserver.fabric_url("fab-nowhere"), EAST_TOKEN, "x", ca_pem=apiserver.ca_pem)
    with k8s_config.new_client_from_config(config_file=str(path), persist_config=False) as lost:
        with pytest.raises(ApiException) as caught:
            k8s_client.CustomObjectsApi(lost).list_namespaced_custom_object(VPC, V1B1, "default", "vpcs")
    assert caught.value.status == 404
    assert status_of(caught.value)["reason"] == "NotFound"


# --- writes and bookkeeping ---------------------------------------------------------------------
def test_create_sets_the_servers_bookkeeping(objects: k8s_client.CustomObjectsApi) -> None:
    body = vpc()
    body["status"] = {"ignored": True}
    created = objects.create_namespaced_custom_object(VPC, V1B1, "default", "vpcs", body)
    meta = created["metadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", meta["uid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["creationTimestamp"])
    assert (meta["generation"], meta["namespace"]) == (1, "default")
    assert int(meta["resourceVersion"]) > 0
    [entry] = meta["managedFields"]
    assert entry["manager"] == "OpenAPI-Generator" and entry["operation"] == "Update"
    assert entry["fieldsType"] == "FieldsV1" and "f:spec" in entry["fieldsV1"]
    assert "status" not in created  # the status subresource owns status
    assert objects.get_namespaced_custom_object(VPC, V1B1, "default", "vpcs", "vpc-1") == created


def test_resource_versions_increase_across_kinds(objects: k8s_client.CustomObjectsApi) -> None:
    first = objects.create_namespaced_custom_object(VPC, V1B1, "default", "vpcs", vpc("vpc-1"))
    second = objects.create_namespaced_custom_object(
        WIRING, V1B1, "default", "switches", new_object("Switch", "leaf-01", {"role": "server-leaf"})
    )
    assert int(second["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    listed = objects.list_namespaced_custom_object(VPC, V1B1, "default", "vpcs")
    assert listed["metadata"]["resourceVersion"] == second["metadata"]["resourceVersion"]


def test_creating_an_existing_object_is_409_already_exists(objects: k8s_client.CustomObjectsApi) -> None:
    objects.create_namespaced_custom_object(VPC, V1B1, "default", "vpcs", vpc())
    with pytest.raises(ApiException) as caught:
        objects.create_namespaced_custom_object(VPC, V1B1, "default", "vpcs", vpc())
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "AlreadyExists"


@pytest.mark.parametrize(
    ("namespace", "body", "status"),
    [
        ("prod", new_object("VPC", "vpc-1", namespace="prod"), 422),  # Hedgehog admits `default` only
        ("default", new_object("VPC", "vpc-1", namespace="prod"), 400),  # body and URL disagree
        ("default", new_object("Switch", "vpc-1"), 400),  # kind/apiVersion of another resource
        ("default", {"apiVersion": f"{VPC}/{V1B1}", "kind": "VPC", "metadata": {}}, 422),  # no name
        ("default", new_object("VPC", "Not_A_Name"), 422),
    ],
)
def test_create_refuses_invalid_objects(
    objects: k8s_client.CustomObjectsApi, namespace: str, body: dict, status: int
) -> None:
    with pytest.raises(ApiException) as caught:
        objects.create_namespaced_custom_object(VPC, V1B1, namespace, "vpcs", body)
    assert caught.value.status == status
    status_of(caught.value)


def test_generation_moves_with_spec_and_resource_version_with_every_write(
    objects: k8s_client.CustomObjectsApi,
) -> None:
    created = objects.create_namespaced_custom_object(VPC, V1B1, "default", "vpcs", vpc())
    relabeled = dict(created, metadata={**created["metadata"], "labels": {"team": "netops"}})
    after_labels = objects.replace_namespaced_custom_object(VPC, V1B1, "default", "vpcs", "vpc-1", relabeled)
    assert after_labels["metadata"]["generation"] == 1
    assert int(after_labels["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    respec = dict(after_labels, spec={**VPC_SPEC, "vni": 9})
    after_spec = objects.replace_namespaced_custom_object(VPC, V1B1, "default", "vpcs", "vpc-1", respec)
    assert after_spec["metadata"]["generation"] == 2
    assert after_spec["metadata"]["uid"] == created["metadata"]["uid"]
    assert after_spec["metadata"]["creationTimestamp"] == created["metadata"]["creationTimestamp"]


def test_replacing_with_a_stale_resource_version_is_409_conflict(
    objects: k8s_client.CustomObjectsApi,
) -> None:
    created = objects.create_namespaced_custom_object(VPC, V1B1, "default", "vpcs", vpc())
    objects.patch_namespaced_custom_object(VPC, V1B1, "default", "vpcs", "vpc-1", {"spec": {"vni": 7}})
    with pytest.raises(ApiException) as caught:
        objects.replace_namespaced_custom_object(VPC, V1B1, "default", "vpcs", "vpc-1", created)
    assert caught.value.status == 409
    assert status_of(caught.value)["reason"] == "Conflict"
    current = objects.get_namespaced_custom_object(VPC, V1B1, "default", "vpcs", "vpc-1")
    assert (
        objects.replace_namespaced_custom_object(VPC, V1B1, "default", "vpcs", "vpc-1", current)["spec"][
            "vni"
        ]
        == 7
    )


def test_replacing_a_missing_object_is_404(objects: k8s_client.CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as caught:
        objects.replace_namespaced_custom_object(VPC, V1B1, "default", "vpcs", "vpc-9", vpc("vpc-9"))
    assert caught.value.status == 404


def test_merge_patch_merges_maps_and_null_deletes(
    objects: k8s_client.CustomObjectsApi, store: FabricStore
) -> None:
    store.put("fab-east", vpc(ipv4Namespace="default"))
    store.set_status("fab-east", VPC, "vpcs", "vpc-1", {"ready": True})
    patch = {
        "metadata": {"labels": {"team": "netops"}},
        "spec": {"ipv4Namespace": None, "subnets": {"default": {"vlan": 1002}}},
    }
    patched = objects.patch_namespaced_custom_object(VPC, V1B1, "default", "vpcs", "vpc-1", patch)
    assert patched["spec"] == {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1002}}}
    assert patched["metadata"]["labels"] == {"team": "netops"}
    assert patched["status"] == {"ready": True}  # spec writes keep status
    assert patched["metadata"]["generation"] == 2


def test_json_patch_is_applied(east: k8s_client.ApiClient, store: FabricStore) -> None:
    store.put("fab-east", vpc())
    ops = [
        {"op": "test", "path": "/spec/subnets/default/vlan", "value": 1001},
        {"op": "replace", "path": "/spec/subnets/default/vlan", "value": 1003},
        {"op": "add", "path": "/metadata/labels", "value": {"a~b/c": "x"}},
    ]
    patched = raw_call(east, "PATCH", f"/apis/{VPC}/{V1B1}/namespaces/default/vpcs/vpc-1", ops, JSON_PATCH)
    assert patched["spec"]["subnets"]["default"]["vlan"] == 1003
    assert patched["metadata"]["labels"] == {"a~b/c": "x"}
    with pytest.raises(ApiException) as caught:
        raw_call(east, "PATCH", f"/apis/{VPC}/{V1B1}/namespaces/default/vpcs/vpc-1", ops[:1], JSON_PATCH)
    assert caught.value.status == 422


def test_strategic_merge_patch_is_415_as_for_any_custom_resource(
    east: k8s_client.ApiClient, store: FabricStore
) -> None:
    store.put("fab-east", vpc())
    with pytest.raises(ApiException) as caught:
        raw_call(
            east,
            "PATCH",
            f"/apis/{VPC}/{V1B1}/namespaces/default/vpcs/vpc-1",
            {"spec": {}},
            "application/strategic-merge-patch+json",
        )
    assert caught.value.status == 415


def test_status_subresource_changes_status_only(
    objects: k8s_client.CustomObjectsApi, store: FabricStore
) -> None:
    store.put("fab-east", new_object("Agent", "leaf-01", {"role": "server-leaf"}))
    written = objects.patch_namespaced_custom_object_status(
        "agent.githedgehog.com",
        V1B1,
        "default",
        "agents",
        "leaf-01",
        {"status": {"lastAppliedGen": 1}, "spec": {"role": "x"}},
    )
    assert written["status"] == {"lastAppliedGen": 1}
    assert written["spec"] == {"role": "server-leaf"}
    assert written["metadata"]["generation"] == 1
    assert any(e.get("subresource") == "status" for e in written["metadata"]["managedFields"])


def test_delete_answers_the_object_and_it_is_gone(objects: k8s_client.CustomObjectsApi) -> None:
    objects.create_namespaced_custom_object(VPC, V1B1, "default", "vpcs", vpc())
    deleted = objects.delete_namespaced_custom_object(VPC, V1B1, "default", "vpcs", "vpc-1")
    assert deleted["metadata"]["name"] == "vpc-1"
    with pytest.raises(ApiException) as caught:
        objects.get_namespaced_custom_object(VPC, V1B1, "default", "vpcs", "vpc-1")
    assert caught.value.status == 404
    with pytest.raises(ApiException) as caught:
        objects.delete_namespaced_custom_object(VPC, V1B1, "default", "vpcs", "vpc-1")
    assert caught.value.status == 404


# --- lists --------------------------------------------------------------------------------------
def test_paging_returns_1250_objects_exactly_once_in_name_order(
    objects: k8s_client.CustomObjectsApi, store: FabricStore
) -> None:
    for index in range(1250):
        store.put("fab-east", vpc(f"vpc-{index:04d}"))
    names: list[str] = []
    token = None
    pages = 0
    while True:
        page = objects.list_namespaced_custom_object(VPC, V1B1, "default", "vpcs", limit=100, _continue=token)
        pages += 1
        names += [item["metadata"]["name"] for item in page["items"]]
        assert all(item["kind"] == "VPC" and item["apiVersion"] == f"{VPC}/{V1B1}" for item in page["items"])
        assert page["metadata"]["resourceVersion"]
        token = page["metadata"].get("continue")
        if not token:
            break
        assert page["metadata"]["remainingItemCount"] == 1250 - len(names)
    assert pages == 13
    assert names == sorted(names) and len(set(names)) == 1250
    everywhere = objects.list_cluster_custom_object(VPC, V1B1, "vpcs", limit=1000)
    assert len(everywhere["items"]) == 1000 and everywhere["metadata"]["continue"]


def test_a_forged_continue_token_is_400(objects: k8s_client.CustomObjectsApi) -> None:
    with pytest.raises(ApiException) as caught:
        objects.list_namespaced_custom_object(VPC, V1B1, "default", "vpcs", limit=1, _continue="not-a-token")
    assert caught.value.status == 400


def test_label_selector_filters_a_list(objects: k8s_client.CustomObjectsApi, store: FabricStore) -> None:
    store.put("fab-east", new_object("VPC", "vpc-a", VPC_SPEC, labels={"team": "netops"}))
    store.put("fab-east", new_object("VPC", "vpc-b", VPC_SPEC, labels={"team": "apps"}))
    store.put("fab-east", new_object("VPC", "vpc-c", VPC_SPEC))

    def names(selector: str) -> list[str]:
        listed = objects.list_namespaced_custom_object(VPC, V1B1, "default", "vpcs", label_selector=selector)
        return [item["metadata"]["name"] for item in listed["items"]]

    assert names("team=netops") == ["vpc-a"]
    assert names("team!=netops") == ["vpc-b", "vpc-c"]
    assert names("team") == ["vpc-a", "vpc-b"]
    assert names("!team") == ["vpc-c"]


# --- faults -------------------------------------------------------------------------------------
def test_a_fault_rule_answers_its_status_with_retry_after_then_expires(
    apiserver: ApiServerHandle, objects: k8s_client.CustomObjectsApi
) -> None:
    rule = apiserver.faults.add(
        FaultRule(path=r"/fabrics/fab-east/.*/vpcs$", status=429, retry_after=3, times=1)
    )
    with pytest.raises(ApiException) as caught:
        objects.list_namespaced_custom_object(VPC, V1B1, "default", "vpcs")
    assert caught.value.status == 429
    assert caught.value.headers["Retry-After"] == "3"
    assert status_of(caught.value)["reason"] == "TooManyRequests"
    assert objects.list_namespaced_custom_object(VPC, V1B1, "default", "vpcs")["items"] == []
    assert rule.hits == 1


def test_a_truncate_fault_cuts_the_json_body(
    apiserver: ApiServerHandle, objects: k8s_client.CustomObjectsApi, store: FabricStore
) -> None:
    store.put("fab-east", vpc())
    apiserver.faults.add(path=r"/vpcs$", action="truncate")
    answer = objects.list_namespaced_custom_object(VPC, V1B1, "default", "vpcs")
    assert isinstance(answer, str)  # the client hands back text it cannot parse as JSON


# --- the store without HTTP ---------------------------------------------------------------------
def test_put_creates_then_replaces_with_bookkeeping() -> None:
    store = FabricStore()
    store.add_fabric("fab-east", "t")
    created = store.put("fab-east", vpc())
    assert created["metadata"]["generation"] == 1
    agent = store.put("fab-east", {**new_object("Agent", "leaf-01"), "status": {"lastAppliedGen": 1}})
    assert agent["status"] == {"lastAppliedGen": 1}  # seeding keeps status
    replaced = store.put("fab-east", vpc(vni=5))
    assert (
        replaced["metadata"]["generation"] == 2 and replaced["metadata"]["uid"] == created["metadata"]["uid"]
    )
    assert [o["kind"] for o in store.list("fab-east")] == ["Agent", "VPC"]
    assert store.get("fab-east", VPC, "VPC", "vpc-1") == replaced
    assert store.delete("fab-east", VPC, "vpcs", "vpc-1") == replaced
    assert store.get("fab-east", VPC, "vpcs", "vpc-1") is None
    assert store.delete("fab-east", VPC, "vpcs", "vpc-1") is None


def test_put_of_a_kind_the_fabric_does_not_serve_is_refused(store: FabricStore) -> None:
    with pytest.raises(ApiError) as caught:
        store.put("fab-west", new_object("Gateway", "gw-1"))
    assert caught.value.code == 404


def test_live_state_survives_a_restart_through_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = FabricStore()
    first.add_fabric("fab-east", EAST_TOKEN)
    with start_apiserver(first, state_path=state) as handle:
        with client_for(handle, "fab-east", tmp_path) as api_client:
            k8s_client.CustomObjectsApi(api_client).create_namespaced_custom_object(
                VPC, V1B1, "default", "vpcs", vpc()
            )
    assert EAST_TOKEN not in state.read_text()
    second = FabricStore()
    second.add_fabric("fab-east", EAST_TOKEN)
    second.load(state)
    assert second.list("fab-east") == first.list("fab-east")
    again = second.put("fab-east", vpc("vpc-2"))
    assert int(again["metadata"]["resourceVersion"]) > int(
        first.list("fab-east")[0]["metadata"]["resourceVersion"]
    )


def test_write_kubeconfig_is_private_and_loads_in_the_official_client(tmp_path: Path) -> None:
    path = write_kubeconfig(
        tmp_path / "kc" / "fab.kubeconfig", "http://127.0.0.1:1/fabrics/fab", "tok", "fab"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with k8s_config.new_client_from_config(
        config_file=str(path), context="fab", persist_config=False
    ) as api_client:
        assert api_client.configuration.host == "http://127.0.0.1:1/fabrics/fab"
        assert api_client.configuration.api_key["authorization"] == "Bearer tok"


# --- patches as plain functions (RFC 7386 appendix A, RFC 6902 examples) ------------------------
@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_follows_rfc_7386(target: Any, patch: Any, result: Any) -> None:
    assert merge_patch(target, patch) == result


@pytest.mark.parametrize(
    ("document", "ops", "result"),
    [
        ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"foo": "bar", "baz": "qux"}),
        (
            {"foo": ["bar", "baz"]},
            [{"op": "add", "path": "/foo/1", "value": "qux"}],
            {"foo": ["bar", "qux", "baz"]},
        ),
        ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": "x"}], {"foo": ["bar", "x"]}),
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        ({"baz": "qux"}, [{"op": "replace", "path": "/baz", "value": "boo"}], {"baz": "boo"}),
        (
            {"foo": {"bar": 1}, "q": {}},
            [{"op": "move", "from": "/foo/bar", "path": "/q/bar"}],
            {"foo": {}, "q": {"bar": 1}},
        ),
        ({"foo": [1]}, [{"op": "copy", "from": "/foo/0", "path": "/foo/-"}], {"foo": [1, 1]}),
        (
            {"a/b": 1, "m~n": 2},
            [{"op": "replace", "path": "/a~1b", "value": 3}, {"op": "remove", "path": "/m~0n"}],
            {"a/b": 3},
        ),
    ],
)
def test_json_patch_follows_rfc_6902(document: Any, ops: list, result: Any) -> None:
    assert json_patch(document, ops) == result


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "replace", "path": "/missing", "value": 1}],
        [{"op": "test", "path": "/a", "value": 2}],
        [{"op": "add", "path": "/a/b", "value": 1}],
        [{"op": "jump", "path": "/a"}],
        {"op": "add"},
    ],
)
def test_json_patch_refuses_what_cannot_apply(ops: Any) -> None:
    with pytest.raises(ValueError):
        json_patch({"a": 1}, ops)


# --- the foreground command ---------------------------------------------------------------------
@pytest.mark.slow
def test_main_serves_fabrics_and_saves_state_when_interrupted(tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "hedgehog_sync.devlab.apiserver",
        "--fabric", "fab-east", "--kubeconfig-dir", str(tmp_path), "--state", str(tmp_path / "state.json"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        lines = [process.stdout.readline() for _ in range(2)]  # type: ignore[union-attr]
        assert lines[1].startswith("fabric fab-east: https://127.0.0.1:"), lines
        kubeconfig = tmp_path / "fab-east.kubeconfig"
        with k8s_config.new_client_from_config(
            config_file=str(kubeconfig), context="fab-east", persist_config=False
        ) as api_client:
            k8s_client.CustomObjectsApi(api_client).create_namespaced_custom_object(
                VPC, V1B1, "default", "vpcs", vpc()
            )
    finally:
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=20)
    assert process.returncode == 0, errors
    saved = json.loads((tmp_path / "state.json").read_text())
    assert [o["metadata"]["name"] for o in saved["fabrics"]["fab-east"]["objects"]] == ["vpc-1"]
    token = yaml.safe_load(kubeconfig.read_text())["users"][0]["user"]["token"]
    assert token not in (tmp_path / "state.json").read_text() and token not in errors


# --- HTTPS by default, plain HTTP only when asked -------------------------------------------------
def test_the_server_speaks_https_with_its_ca_in_the_kubeconfig(apiserver: ApiServerHandle, tmp_path: Path) -> None:
    import base64

    assert apiserver.url.startswith("https://127.0.0.1:") and apiserver.ca_pem is not None
    path = apiserver.write_kubeconfig("fab-east", tmp_path / "k")
    cluster = yaml.safe_load(path.read_text())["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == apiserver.ca_pem
    assert "BEGIN PRIVATE KEY" not in path.read_text()  # the CA's key never leaves the process


def test_plain_http_only_when_asked(store: FabricStore, tmp_path: Path) -> None:
    with start_apiserver(store, plain_http=True) as handle:
        assert handle.url.startswith("http://") and handle.ca_pem is None
        path = handle.write_kubeconfig("fab-east", tmp_path / "k")
        assert "certificate-authority-data" not in path.read_text()
        with k8s_config.new_client_from_config(config_file=str(path), persist_config=False) as api_client:
            assert k8s_client.VersionApi(api_client).get_code().git_version.endswith("-devlab")
    with pytest.raises(ValueError):
        start_apiserver(store, plain_http=True, tls=ServerTLS.generate())
