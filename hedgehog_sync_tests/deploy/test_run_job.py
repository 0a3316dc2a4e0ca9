"""A sync run's Kubernetes Job: built by dagster-k8s from the Helm values, and sent to an API server.

The K8sRunLauncher is configured with the `runLauncher` section of deploy/helm/values.yaml as the
chart renders it (tests/deploy/chart.py). One test checks, field by field, the Job dagster-k8s's own
builder makes for a run of `sync_fleet`; the other launches the run for real: the official
`kubernetes` client creates the Job on the devlab API server (batch/v1 Jobs, in the namespace the
guide's commands filled), and the launcher then reads its status and deletes it.
"""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from dagster import __version__ as dagster_version
from dagster._core.launcher.base import WorkerStatus
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import instance_for_test
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import deserialize_value
from dagster_k8s.job import construct_dagster_k8s_job, get_job_name_from_run_id
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes import utils as k8s_utils

from hedgehog_sync.definitions import defs
from hedgehog_sync.defs.partitions import FABRICS_PARTITION
from hedgehog_sync.devlab.apiserver import ClusterObjectStore, FabricStore, start_apiserver
from hedgehog_sync_tests.deploy import chart

IMAGE = "registry.example.com/netops/hedgehog-sync:3f9c2ab"
PYTHON_IN_IMAGE = "/usr/local/bin/python"   # the interpreter of the python:3.11 image
LOCATION = "hedgehog-sync"                   # the user deployment's name in the values
CLUSTER = "dagster"                          # the devlab's name for the cluster Dagster runs in
NAMESPACE = chart.NAMESPACE
K8S = chart.REPO / "deploy" / "k8s"
RUN_TAGS = {  # what the schedule puts on a batch run
    "dagster/asset_partition_range_start": "fab-east",
    "dagster/asset_partition_range_end": "fab-west",
    "hedgehog-sync/batch": "fab-east..fab-west",
    "dagster/max_runtime": "300",
}


@pytest.fixture(autouse=True)
def kubernetes_default_config() -> Iterator[None]:
    """The launcher loads its kubeconfig into the client's process-wide default: put that back."""
    saved = k8s_client.Configuration.get_default_copy()
    yield
    k8s_client.Configuration.set_default(saved)


def apply_the_guide(api: k8s_client.ApiClient) -> None:
    """The namespace and objects docs/deploy.md creates (placeholders for secrets), and the chart's account."""
    core = k8s_client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": NAMESPACE}})
    for manifest in ("env-configmap.yaml", "secrets.example.yaml"):
        k8s_utils.create_from_yaml(api, yaml_file=str(K8S / manifest), namespace=NAMESPACE)
    # kubectl create configmap hedgehog-sync-inventory --from-file=fabrics.yaml=fabrics.yaml
    core.create_namespaced_config_map(NAMESPACE, {
        "metadata": {"name": "hedgehog-sync-inventory"},
        "data": {"fabrics.yaml": (K8S / "fabrics.example.yaml").read_text()}})
    core.create_namespaced_service_account(NAMESPACE, {"metadata": {"name": chart.service_account_name(
        chart.load_values())}})


@pytest.fixture
def dagster_cluster(tmp_path):
    """The devlab serving the cluster Dagster runs in; yields (its object store, a kubeconfig for it)."""
    store = FabricStore()
    store.add_fabric(CLUSTER, secrets.token_urlsafe(24), groups=[])
    cluster = ClusterObjectStore()
    with start_apiserver(store, cluster=cluster) as handle:
        kubeconfig = handle.write_kubeconfig(CLUSTER, tmp_path / "dagster.kubeconfig")
        api = k8s_config.new_client_from_config(str(kubeconfig))
        try:
            apply_the_guide(api)
        finally:
            api.close()
        yield cluster, kubeconfig


@contextmanager
def launcher_instance(kubeconfig) -> Iterator[Any]:
    """An instance whose run launcher is the chart's K8sRunLauncher, reaching the API via a kubeconfig."""
    launcher = chart.k8s_run_launcher(chart.load_values())
    # Outside a cluster the launcher needs a kubeconfig: the chart's loadInclusterConfig/kubeconfigFile.
    launcher["config"].update(load_incluster_config=False, kubeconfig_file=str(kubeconfig))
    with instance_for_test(overrides={"run_launcher": launcher}) as instance:
        yield instance


@contextmanager
def sync_run(instance) -> Iterator[tuple[Any, Any]]:
    """A queued-and-dequeued run of sync_fleet for two fabrics, from the code location as the image serves it."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(executable_path=PYTHON_IN_IMAGE, module_name="hedgehog_sync.definitions"),
        container_image=IMAGE, location_name=LOCATION)
    instance.add_dynamic_partitions(FABRICS_PARTITION, ["fab-east", "fab-west"])
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as process:
        workspace = process.create_request_context()
        remote_job = workspace.get_code_location(LOCATION).get_repository("__repository__").get_full_job(
            "sync_fleet")
        run = instance.create_run_for_job(
            job_def=defs.resolve_job_def("sync_fleet"), tags=RUN_TAGS,
            remote_job_origin=remote_job.get_remote_origin(), job_code_origin=remote_job.get_python_origin())
        yield workspace, run


def job_dagster_k8s_builds(instance, run) -> dict[str, Any]:
    """The Job for a run, made by dagster-k8s's builder from the launcher's config, as launch_run makes it."""
    launcher = instance.run_launcher
    context = launcher.get_container_context_for_run(run)
    job_config = context.get_k8s_job_config(
        job_image=run.job_code_origin.repository_origin.container_image, run_launcher=launcher)
    args = ExecuteRunArgs(job_origin=run.job_code_origin, run_id=run.run_id, instance_ref=instance.get_ref(),
                          set_exit_code_on_failure=launcher.fail_pod_on_run_failure).get_command_args()
    name = get_job_name_from_run_id(run.run_id)
    job = construct_dagster_k8s_job(
        job_config=job_config, args=args, job_name=name, pod_name=name, component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": run.job_name, "dagster/run-id": run.run_id, "dagster/code-location": LOCATION},
        env_vars=[{"name": "DAGSTER_RUN_JOB_NAME", "value": run.job_name}])
    return k8s_client.ApiClient().sanitize_for_serialization(job)


def assert_is_the_run_job(job: dict[str, Any], run) -> None:
    """Every field of a sync run's Job that hedgehog-sync's deployment decides."""
    meta = job["metadata"]
    assert meta["name"] == f"dagster-run-{run.run_id}"
    labels = {
        "app.kubernetes.io/name": "dagster", "app.kubernetes.io/instance": "dagster",
        "app.kubernetes.io/part-of": "dagster", "app.kubernetes.io/component": "run_worker",
        "app.kubernetes.io/version": dagster_version,
        "dagster/job": "sync_fleet", "dagster/run-id": run.run_id, "dagster/code-location": LOCATION,
        "app": "hedgehog-sync",
    }
    assert labels.items() <= meta["labels"].items()
    spec = job["spec"]
    assert spec["backoffLimit"] == 0                # Dagster's run retries decide, not the Job
    assert spec["ttlSecondsAfterFinished"] == 600   # finished pods go after 10 minutes
    template = spec["template"]
    assert labels.items() <= template["metadata"]["labels"].items()
    pod = template["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["serviceAccountName"] == "dagster"
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                      "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}}
    assert sorted(pod["volumes"], key=lambda v: v["name"]) == [
        {"name": "git-scratch", "emptyDir": {"sizeLimit": "10Gi"}},  # this pod's own clones: no shared volume
        {"name": "inventory", "configMap": {"name": "hedgehog-sync-inventory"}},
        {"name": "kubeconfigs", "secret": {"secretName": "hedgehog-sync-kubeconfigs", "defaultMode": 0o440}},
    ]
    [container] = pod["containers"]
    assert container["name"] == "dagster"
    assert container["image"] == IMAGE
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert "command" not in container  # args replace the image's CMD: the run worker, not the gRPC server
    args = container["args"]
    assert args[:-1] == ["dagster", "api", "execute_run"]  # the console script the image's pip installed
    execute = deserialize_value(args[-1], ExecuteRunArgs)
    assert (execute.run_id, execute.job_origin.job_name) == (run.run_id, "sync_fleet")
    assert execute.set_exit_code_on_failure is True  # a failed run fails its pod, visibly
    env = {e["name"]: e for e in container["env"]}
    assert env["DAGSTER_RUN_JOB_NAME"]["value"] == "sync_fleet"
    assert env["DAGSTER_HOME"]["value"] == "/opt/dagster/dagster_home"
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"] == {
        "secretKeyRef": {"name": "dagster-postgresql-secret", "key": "postgresql-password"}}
    assert container["envFrom"] == [{"configMapRef": {"name": "hedgehog-sync-env"}},
                                    {"secretRef": {"name": "hedgehog-sync-git-tokens"}}]
    assert sorted(container["volumeMounts"], key=lambda m: m["name"]) == [
        {"name": "git-scratch", "mountPath": "/var/cache/hedgehog-sync"},
        {"name": "inventory", "mountPath": "/etc/hedgehog-sync/fabrics.yaml", "subPath": "fabrics.yaml",
         "readOnly": True},
        {"name": "kubeconfigs", "mountPath": "/etc/hedgehog-sync/kubeconfigs", "readOnly": True},
    ]
    assert container["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                                      "limits": {"cpu": "2", "memory": "2Gi"}}
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def test_job_for_a_run_built_from_the_helm_values(dagster_cluster):
    _, kubeconfig = dagster_cluster
    with launcher_instance(kubeconfig) as instance, sync_run(instance) as (_, run):
        assert instance.run_launcher.job_namespace == NAMESPACE
        assert_is_the_run_job(job_dagster_k8s_builds(instance, run), run)


def test_launching_a_run_creates_that_job_through_the_kubernetes_client(dagster_cluster):
    cluster, kubeconfig = dagster_cluster
    with launcher_instance(kubeconfig) as instance, sync_run(instance) as (workspace, run):
        built = job_dagster_k8s_builds(instance, run)
        instance.launch_run(run.run_id, workspace)

        [job] = cluster.list(CLUSTER, "jobs", namespace=NAMESPACE)
        assert_is_the_run_job(job, run)
        assert job["metadata"]["namespace"] == NAMESPACE
        assert instance.get_run_by_id(run.run_id).tags["dagster/image"] == IMAGE
        # Past what the API server adds (its bookkeeping, the selector, Job defaults), the Job that
        # arrived is the one dagster-k8s built.
        uid = job["metadata"]["uid"]
        assert job["spec"].pop("selector") == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
        for added in ("parallelism", "completions", "completionMode", "suspend"):
            job["spec"].pop(added)
        server_labels = {"batch.kubernetes.io/controller-uid", "batch.kubernetes.io/job-name", "controller-uid",
                         "job-name"}
        template_labels = job["spec"]["template"]["metadata"]["labels"]
        assert {key: template_labels.pop(key) for key in server_labels}["job-name"] == job["metadata"]["name"]
        assert job["spec"] == built["spec"]
        assert job["metadata"]["labels"] == built["metadata"]["labels"]

        # Everything the pod would need exists in the namespace: the guide's objects and the chart's.
        pod = job["spec"]["template"]["spec"]
        container = pod["containers"][0]
        needed = [("serviceaccounts", pod["serviceAccountName"])]
        needed += [("configmaps", e["configMapRef"]["name"]) for e in container["envFrom"] if "configMapRef" in e]
        needed += [("secrets", e["secretRef"]["name"]) for e in container["envFrom"] if "secretRef" in e]
        needed += [("secrets", e["valueFrom"]["secretKeyRef"]["name"])
                   for e in container["env"] if "valueFrom" in e]
        for volume in pod["volumes"]:
            if "configMap" in volume:
                needed.append(("configmaps", volume["configMap"]["name"]))
            if "secret" in volume:
                needed.append(("secrets", volume["secret"]["secretName"]))
        missing = [(kind, name) for kind, name in needed
                   if cluster.get(CLUSTER, kind, name, namespace=NAMESPACE) is None]
        assert missing == []
        inventory = cluster.get(CLUSTER, "configmaps", "hedgehog-sync-inventory", namespace=NAMESPACE)
        mount = next(m for m in container["volumeMounts"] if m["name"] == "inventory")
        assert mount["subPath"] in inventory["data"]
        # The settings the pod gets name its own clone scratch, and no state directory.
        settings = cluster.get(CLUSTER, "configmaps", "hedgehog-sync-env", namespace=NAMESPACE)["data"]
        scratch = next(m for m in container["volumeMounts"] if m["name"] == "git-scratch")
        assert settings["HEDGEHOG_SYNC_GIT_SCRATCH"] == scratch["mountPath"]
        assert "HEDGEHOG_SYNC_STATE_DIR" not in settings
        assert not [v for v in pod["volumes"] if "persistentVolumeClaim" in v]

        # The launcher follows the Job: running while it has no result, done when it succeeded.
        launcher = instance.run_launcher
        assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
        cluster.set_status(CLUSTER, "jobs", job["metadata"]["name"], {"succeeded": 1}, namespace=NAMESPACE)
        assert launcher.check_run_worker_health(run).status == WorkerStatus.SUCCESS
        # Terminating the run deletes its Job.
        assert launcher.terminate(run.run_id)
        assert cluster.list(CLUSTER, "jobs", namespace=NAMESPACE) == []
