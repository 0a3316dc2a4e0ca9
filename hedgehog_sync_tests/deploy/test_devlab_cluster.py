"""The devlab API server's built-in objects (Jobs, Secrets, ...), through the official kubernetes client.

They exist so a Dagster run launcher and the deployment guide's `kubectl create` calls have a cluster
to talk to; a server started without a ClusterObjectStore answers those paths as it always did.
"""

import base64
import secrets

import pytest
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from hedgehog_sync.devlab.apiserver import ClusterObjectStore, FabricStore, start_apiserver

CLUSTER = "dagster"


def job(name: str, restart_policy: str | None = "Never", image: str | None = "example/image:1") -> dict:
    container = {"name": "main", **({"image": image} if image else {})}
    pod_spec = {"containers": [container], **({"restartPolicy": restart_policy} if restart_policy else {})}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "labels": {"app": "x"}},
            "spec": {"template": {"spec": pod_spec}}}


def serve(tmp_path, cluster: ClusterObjectStore | None):
    store = FabricStore()
    store.add_fabric(CLUSTER, secrets.token_urlsafe(16), groups=[])
    handle = start_apiserver(store, cluster=cluster)
    api = k8s_config.new_client_from_config(str(handle.write_kubeconfig(CLUSTER, tmp_path / "kubeconfig")))
    return handle, api


@pytest.fixture
def apis(tmp_path):
    cluster = ClusterObjectStore()
    handle, api = serve(tmp_path, cluster)
    try:
        yield cluster, k8s_client.CoreV1Api(api), k8s_client.BatchV1Api(api)
    finally:
        api.close()
        handle.stop()


def status_of(call) -> int:
    with pytest.raises(k8s_client.ApiException) as raised:
        call()
    return raised.value.status


def test_jobs_are_created_defaulted_listed_and_deleted_with_their_pods(apis):
    cluster, core, batch = apis
    core.create_namespace({"metadata": {"name": "runs"}})
    created = batch.create_namespaced_job("runs", job("run-1"))
    uid = created.metadata.uid
    assert created.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    assert created.spec.template.metadata.labels["job-name"] == "run-1"
    assert (created.spec.backoff_limit, created.spec.parallelism, created.spec.completions) == (6, 1, 1)
    assert [j.metadata.name for j in batch.list_namespaced_job("runs", label_selector="app=x").items] == ["run-1"]
    assert batch.list_namespaced_job("runs", label_selector="app=y").items == []
    assert status_of(lambda: batch.create_namespaced_job("runs", job("run-1"))) == 409
    cluster.create(CLUSTER, {"apiVersion": "v1", "kind": "Pod", "metadata": {
        "name": "run-1-abcde", "namespace": "runs", "labels": {"batch.kubernetes.io/job-name": "run-1"}}})
    pods = core.list_namespaced_pod("runs", label_selector="batch.kubernetes.io/job-name=run-1").items
    assert [p.metadata.name for p in pods] == ["run-1-abcde"]
    cluster.set_status(CLUSTER, "jobs", "run-1", {"failed": 1}, namespace="runs")
    assert batch.read_namespaced_job_status("run-1", "runs").status.failed == 1
    assert batch.delete_namespaced_job("run-1", "runs", propagation_policy="Foreground").status == "Success"
    assert status_of(lambda: batch.read_namespaced_job("run-1", "runs")) == 404
    assert core.list_namespaced_pod("runs").items == []  # the Job's pods went with it


@pytest.mark.parametrize(("body", "namespace", "status"), [
    (job("bad", restart_policy=None), "default", 422),     # a Job's pods must not restart forever
    (job("bad", image=None), "default", 422),              # every container needs an image
    (job("x" * 64), "default", 422),                       # the name becomes a 63-character label
    (job("fine"), "nowhere", 404),                         # the namespace must exist
])
def test_jobs_the_api_server_would_refuse_are_refused(apis, body, namespace, status):
    _, _, batch = apis
    assert status_of(lambda: batch.create_namespaced_job(namespace, body)) == status


def test_secrets_store_string_data_as_base64_and_namespaces_take_their_objects_along(apis):
    cluster, core, _ = apis
    core.create_namespace({"metadata": {"name": "team"}})
    core.create_namespaced_secret("team", {"metadata": {"name": "tokens"}, "stringData": {"FAB_TOKEN": "s3cret"}})
    stored = core.read_namespaced_secret("tokens", "team")
    assert stored.data == {"FAB_TOKEN": base64.b64encode(b"s3cret").decode()} and stored.type == "Opaque"
    core.create_namespaced_config_map("team", {"metadata": {"name": "env"}, "data": {"A": "1"}})
    assert [s.metadata.name for s in core.list_secret_for_all_namespaces().items] == ["tokens"]
    assert {n.metadata.name for n in core.list_namespace().items} == {"team"}
    assert core.read_namespace("default").status.phase == "Active"  # built in, never created
    core.delete_namespace("team")
    assert cluster.list(CLUSTER, "secrets") == [] and cluster.list(CLUSTER, "configmaps") == []


def test_without_a_cluster_store_these_paths_are_not_served(tmp_path):
    handle, api = serve(tmp_path, None)
    try:
        assert status_of(lambda: k8s_client.BatchV1Api(api).create_namespaced_job("default", job("j"))) == 404
        assert status_of(lambda: k8s_client.CoreV1Api(api).list_namespaced_secret("default")) == 404
        assert status_of(lambda: k8s_client.CoreV1Api(api).create_namespace({"metadata": {"name": "n"}})) == 404
    finally:
        api.close()
        handle.stop()
