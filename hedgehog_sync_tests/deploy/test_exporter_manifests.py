"""deploy/k8s/exporter.yaml and prometheus-rules.yaml: parsed, in step with the other deploy files and the
exporter's metric names, and the rules accepted by `promtool check rules`."""

import re
import subprocess
from pathlib import Path

import yaml

from hedgehog_sync_tests.promtool import promtool

DEPLOY = Path(__file__).parents[2] / "deploy"
EXPORTER = DEPLOY / "k8s" / "exporter.yaml"
RULES = DEPLOY / "k8s" / "prometheus-rules.yaml"
EXPORTER_SOURCE = Path(__file__).parents[2] / "hedgehog_sync" / "exporter.py"


def test_the_exporter_manifest_is_a_deployment_a_service_and_a_service_monitor_on_one_port():
    docs = {d["kind"]: d for d in yaml.safe_load_all(EXPORTER.read_text())}
    assert set(docs) == {"Deployment", "Service", "ServiceMonitor"}
    pod = docs["Deployment"]["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["args"][:2] == ["hedgehog-sync", "exporter"]
    port = int(container["args"][container["args"].index("--port") + 1])
    assert container["ports"] == [{"name": "metrics", "containerPort": port}] and port == 9464
    assert container["args"][container["args"].index("--host") + 1] == "0.0.0.0"
    labels = pod["metadata"]["labels"]
    assert docs["Deployment"]["spec"]["selector"]["matchLabels"] == labels == docs["Service"]["spec"]["selector"]
    assert docs["Service"]["spec"]["ports"][0]["targetPort"] == "metrics"
    monitor = docs["ServiceMonitor"]
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["spec"]["selector"]["matchLabels"] == labels
    assert monitor["spec"]["endpoints"][0]["port"] == docs["Service"]["spec"]["ports"][0]["name"]
    # the same settings, inventory and non-root user as the other hedgehog-sync pods
    assert container["envFrom"] == [{"configMapRef": {"name": "hedgehog-sync-env"}}]
    env = yaml.safe_load((DEPLOY / "k8s" / "env-configmap.yaml").read_text())["data"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert mounts["inventory"]["mountPath"] == env["HEDGEHOG_SYNC_INVENTORY"]
    # The fleet's state comes from the instance's database alone: the chart's instance and its password,
    # no volume claim, and no Git (so no clone scratch either).
    assert not [v for v in volumes.values() if "persistentVolumeClaim" in v]
    assert {name for name, v in volumes.items() if set(v) - {"name"} != {"emptyDir"}} == {"instance", "inventory"}
    assert volumes["instance"]["configMap"]["name"] == "dagster-instance"
    home = {e["name"]: e for e in container["env"]}
    assert mounts["instance"]["mountPath"] == home["DAGSTER_HOME"]["value"] + "/dagster.yaml"
    assert home["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "dagster-postgresql-secret"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] and container["securityContext"]["readOnlyRootFilesystem"]


def test_the_alerting_rules_pass_promtool_and_use_metrics_the_exporter_serves(tmp_path):
    rule = yaml.safe_load(RULES.read_text())
    assert (rule["apiVersion"], rule["kind"]) == ("monitoring.coreos.com/v1", "PrometheusRule")
    groups = rule["spec"]["groups"]
    alerts = {r["alert"]: r for g in groups for r in g["rules"]}
    assert {"HedgehogSyncCriticalDrift", "HedgehogSyncFabricUnknown", "HedgehogSyncFabricUnhealthy",
            "HedgehogSyncSlowCycle"} <= set(alerts)
    assert alerts["HedgehogSyncFabricUnknown"]["for"] == "10m"
    assert "< 0.5" in alerts["HedgehogSyncFabricUnhealthy"]["expr"]
    assert "> 60" in alerts["HedgehogSyncSlowCycle"]["expr"]
    source = EXPORTER_SOURCE.read_text()
    for r in alerts.values():
        for name in re.findall(r"hedgehog_sync_[a-z_]+", r["expr"]):
            assert f'"{name}"' in source, f"{r['alert']} uses {name}, which the exporter does not serve"
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    check = subprocess.run([promtool(), "check", "rules", str(rules_file)], capture_output=True, text=True,
                           timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(alerts)} rules found" in check.stdout
