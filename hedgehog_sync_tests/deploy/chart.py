"""What the official Dagster Helm chart renders from deploy/helm/values.yaml, for the parts we set.

No `helm` binary runs here, so the templates that turn values into the instance's dagster.yaml
(helm/dagster/templates/configmap-instance.yaml and helpers/instance/*.tpl of the chart, 1.13) are
followed by hand: same keys, same defaults, same names. A value the chart would not read is not
read here either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
VALUES_FILE = REPO / "deploy" / "helm" / "values.yaml"
DAGSTER_YAML = REPO / "deploy" / "dagster.yaml"
ENV_CONFIGMAP = REPO / "deploy" / "k8s" / "env-configmap.yaml"
# How docs/deploy.md installs the chart: `helm upgrade --install dagster ... --namespace hedgehog-sync`.
RELEASE = "dagster"
NAMESPACE = "hedgehog-sync"
CHART = "dagster"


def load_values() -> dict[str, Any]:
    return yaml.safe_load(VALUES_FILE.read_text())


def fullname(values: dict[str, Any], release: str = RELEASE) -> str:
    """`dagster.fullname`: the release name alone when it contains the chart name."""
    override = (values.get("global") or {}).get("fullnameOverride")
    if override:
        return override[:63].rstrip("-")
    name = (values.get("global") or {}).get("nameOverride") or CHART
    return (release if name in release else f"{release}-{name}")[:63].rstrip("-")


def service_account_name(values: dict[str, Any], release: str = RELEASE) -> str:
    """`dagster.serviceAccountName`: the account run pods use unless the values name one."""
    return ((values.get("global") or {}).get("serviceAccountName")
            or (values.get("serviceAccount") or {}).get("name")
            or fullname(values, release))


def postgresql_secret_name(values: dict[str, Any], release: str = RELEASE) -> str:
    named = (values.get("global") or {}).get("postgresqlSecretName")
    return named or f"{fullname(values, release)}-postgresql-secret"


def k8s_run_launcher(values: dict[str, Any], release: str = RELEASE, namespace: str = NAMESPACE) -> dict[str, Any]:
    """`dagsterYaml.runLauncher.k8s`: the run_launcher section of the instance the chart renders."""
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    v = values["runLauncher"]["config"]["k8sRunLauncher"]
    config: dict[str, Any] = {
        "load_incluster_config": v["loadInclusterConfig"],
        "job_namespace": v.get("jobNamespace") or namespace,
        "image_pull_policy": v["imagePullPolicy"],
        "service_account_name": service_account_name(values, release),
        "dagster_home": values["global"]["dagsterHome"],
        "instance_config_map": f"{fullname(values, release)}-instance",
        "postgres_password_secret": postgresql_secret_name(values, release),
    }
    if v.get("kubeconfigFile"):
        config["kubeconfig_file"] = v["kubeconfigFile"]
    if values.get("imagePullSecrets"):
        config["image_pull_secrets"] = values["imagePullSecrets"]
    if "image" in v:
        config["job_image"] = f"{v['image']['repository']}:{v['image']['tag']}"
    if v.get("envConfigMaps"):
        config["env_config_maps"] = [c["name"] for c in v["envConfigMaps"] if "name" in c]
    if v.get("envSecrets"):
        config["env_secrets"] = [s["name"] for s in v["envSecrets"] if "name" in s]
    for key, out in (("envVars", "env_vars"), ("volumeMounts", "volume_mounts"), ("volumes", "volumes"),
                     ("labels", "labels"), ("resources", "resources"),
                     ("securityContext", "security_context")):
        if v.get(key):
            config[out] = v[key]
    if v.get("failPodOnRunFailure"):
        config["fail_pod_on_run_failure"] = True
    if v.get("schedulerName"):
        config["scheduler_name"] = v["schedulerName"]
    raw = v.get("runK8sConfig") or {}
    if raw:
        config["run_k8s_config"] = {
            out: raw[key] for key, out in (
                ("containerConfig", "container_config"), ("podSpecConfig", "pod_spec_config"),
                ("podTemplateSpecMetadata", "pod_template_spec_metadata"),
                ("jobSpecConfig", "job_spec_config"), ("jobMetadata", "job_metadata"),
            ) if raw.get(key)
        }
    return {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": config}


def instance_sections(values: dict[str, Any]) -> dict[str, Any]:
    """The daemon, telemetry and storage sections of the rendered dagster.yaml (configmap-instance)."""
    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    coordinator: dict[str, Any] = {"max_concurrent_runs": queued["maxConcurrentRuns"]}
    if queued.get("tagConcurrencyLimits"):
        coordinator["tag_concurrency_limits"] = queued["tagConcurrencyLimits"]
    if queued.get("dequeueIntervalSeconds"):
        coordinator["dequeue_interval_seconds"] = queued["dequeueIntervalSeconds"]
    if queued.get("dequeueUseThreads"):
        coordinator["dequeue_use_threads"] = queued["dequeueUseThreads"]
    monitoring = daemon["runMonitoring"]
    retries = daemon["runRetries"]
    pg = values["postgresql"]
    return {
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator",
                            "config": coordinator},
        "run_monitoring": {"enabled": monitoring["enabled"],
                           "start_timeout_seconds": monitoring["startTimeoutSeconds"],
                           "poll_interval_seconds": monitoring["pollIntervalSeconds"]},
        "run_retries": {"enabled": retries["enabled"], "max_retries": retries["maxRetries"],
                        "retry_on_asset_or_op_failure": retries["retryOnAssetOrOpFailure"]},
        "sensors": {"use_threads": daemon["sensors"]["useThreads"],
                    "num_workers": daemon["sensors"]["numWorkers"]},
        "schedules": {"use_threads": daemon["schedules"]["useThreads"],
                      "num_workers": daemon["schedules"]["numWorkers"]},
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
        "postgres_scheme": pg.get("postgresqlScheme"),
        "compute_logs_class": values["computeLogManager"]["type"],
    }
