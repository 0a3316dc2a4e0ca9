"""The hedgehog-sync command: check a fabric from a script or CI, validate an inventory, run the demo."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from hedgehog_sync.domain.errors import InventoryError

EXIT_IN_SYNC, EXIT_DRIFTED, EXIT_UNKNOWN = 0, 1, 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Drift between Git and the cluster, for a fleet of Hedgehog fabrics."""


@main.command()
@click.option("--inventory", "inventory_file", type=click.Path(dir_okay=False),
              help="Inventory file (default $HEDGEHOG_SYNC_INVENTORY or ./fabrics.yaml).")
@click.option("--fabric", required=True, help="Name of the fabric in the inventory.")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
def check(inventory_file: str | None, fabric: str, fmt: str) -> None:
    """Compute a fabric's drift report now and print it.

    Keeps nothing: drift_since comes from the fleet's last report of the fabric when $DAGSTER_HOME
    points at the fleet's instance, else this check is the first to see the drift.
    Exit status like `kubectl diff`: 0 in sync, 1 drifted, 2 unknown or any error (one line on stderr
    naming the fabric, never a traceback): a CI gate reads 1 as drift and nothing else.
    """
    try:
        report = _check_report(inventory_file, fabric)
        from hedgehog_sync.domain.render import report_table
        from hedgehog_sync.domain.report import report_json

        text = report_json(report, indent=2) if fmt == "json" else report_table(report)
    except _CheckStop as stop:
        from hedgehog_sync.domain.render import visible

        for line in stop.lines:  # an inventory's text, shown with its control characters escaped
            click.echo(f"error: {visible(line)}", err=True)
        sys.exit(EXIT_UNKNOWN)
    except Exception as exc:  # any failure is "unknown" (2), never "drifted" (1), and never a traceback
        click.echo(f"error: fabric {fabric!r}: {_one_line(exc)}", err=True)
        sys.exit(EXIT_UNKNOWN)
    click.echo(text)
    from hedgehog_sync.domain.vocabulary import DRIFTED, IN_SYNC_STATUS

    sys.exit({IN_SYNC_STATUS: EXIT_IN_SYNC, DRIFTED: EXIT_DRIFTED}.get(report.get("status"), EXIT_UNKNOWN))


class _CheckStop(Exception):
    """The check cannot start (no inventory, no such fabric): these lines say why."""

    def __init__(self, lines: list[str]):
        super().__init__(lines[-1] if lines else "")
        self.lines = lines


def _one_line(exc: BaseException) -> str:
    from hedgehog_sync.domain.redaction import redact
    from hedgehog_sync.domain.render import visible

    text = " ".join(redact(str(exc)).split()) or "no detail"
    return visible(f"{text} ({type(exc).__name__})", 500)


def _fleet_previous_report(fabric: str) -> dict | None:
    """The fleet's last report of this fabric, read from its instance's database when $DAGSTER_HOME
    says where that is; None otherwise, or when it cannot be read (a check never fails for it)."""
    import os

    home = os.environ.get("DAGSTER_HOME")
    if not home or not Path(home).is_dir():
        return None
    try:
        from dagster import DagsterInstance
        from dagster._core.instance.ref import InstanceRef

        from hedgehog_sync.state import StateStore

        with DagsterInstance.from_ref(InstanceRef.from_dir(str(Path(home).resolve()))) as instance:
            store = StateStore.read_only_for_instance(instance)  # creates, migrates, imports nothing
            if store is None:
                return None
            try:
                previous = store.latest_report(fabric)
            finally:
                store.close()
    except Exception:
        return None
    return previous if isinstance(previous, dict) else None


def _sync_once(cfg) -> "object":
    """One fabric read and compared now, against an in-memory store (seeded with the fleet's last
    report of it, for drift_since); Git goes to this process's scratch directory."""
    from hedgehog_sync.connectors.git import GitRepoCache
    from hedgehog_sync.cycle import FabricReader, sync_fabric
    from hedgehog_sync.state import StateStore

    store = StateStore.in_memory()
    previous = _fleet_previous_report(cfg.name)
    if previous is not None:
        store.save_report(cfg.name, previous)
    reader = FabricReader(GitRepoCache())
    try:
        return sync_fabric(cfg, reader, store)
    finally:
        reader.close()


def _check_report(inventory_file: str | None, fabric: str) -> dict:
    from hedgehog_sync.domain.inventory import load_inventory

    try:
        inventory = load_inventory(inventory_file)
    except InventoryError as exc:
        raise _CheckStop([str(exc)]) from None
    cfg = inventory.by_name().get(fabric)
    if cfg is None:
        raise _CheckStop([str(p) for p in inventory.problems]
                         + [f"fabric '{fabric}' is not (validly) defined in {inventory.path}"])
    return _sync_once(cfg).report


@main.command()
@click.option("--inventory", "inventory_file", type=click.Path(dir_okay=False),
              help="Inventory file (default $HEDGEHOG_SYNC_INVENTORY or ./fabrics.yaml).")
@click.option("--fabric", required=True, help="Name of the fabric in the inventory.")
@click.option("--output", "output_dir", type=click.Path(file_okay=False),
              help="Folder to write apply.yaml and delete.yaml to (created); default: print them.")
def plan(inventory_file: str | None, fabric: str, output_dir: str | None) -> None:
    """The remediation plan of a fabric: what to apply and what to delete to make it match Git again.

    Computes the fabric's report as `check` does, then writes apply.yaml (missing and modified
    resources as written in Git) and delete.yaml (extra resources, by name), and prints the kubectl
    commands to run with the fabric's kubeconfig and context: apply first, delete as a separate,
    deliberate step (docs/remediation.md). hedgehog-sync itself changes nothing.
    Exit status as `check`: 0 nothing to do, 1 a plan, 2 unknown or any error (no plan).
    """
    from hedgehog_sync.domain.inventory import load_inventory
    from hedgehog_sync.domain.plan import apply_yaml, delete_yaml, kubectl_commands
    from hedgehog_sync.domain.render import visible

    try:
        try:
            inv = load_inventory(inventory_file)
        except InventoryError as exc:
            raise _CheckStop([str(exc)]) from None
        cfg = inv.by_name().get(fabric)
        if cfg is None:
            raise _CheckStop([str(p) for p in inv.problems]
                             + [f"fabric '{fabric}' is not (validly) defined in {inv.path}"])
        found = _sync_once(cfg).plan
        if found is None or found.reason is not None:
            why = found.reason if found is not None else "no plan was computed"
            raise _CheckStop([f"fabric '{fabric}': no plan: {why}"])
        if not found.has_changes:
            click.echo(f"{fabric}: in sync with Git at commit {found.commit}: nothing to do")
            sys.exit(EXIT_IN_SYNC)
        files = {"apply.yaml": apply_yaml(found), "delete.yaml": delete_yaml(found)}
        if output_dir:
            out = Path(output_dir)
            out.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                (out / name).write_text(text)
            where = {name: str(out / name) for name in files}
        else:
            # stdout stays safe to pipe into `kubectl apply -f -`: the deletions are shown commented out
            click.echo("# ==== apply.yaml ====")
            click.echo(files["apply.yaml"], nl=False)
            click.echo("# ==== delete.yaml (commented out: deleting is a separate step; --output writes the file) ====")
            click.echo("".join(f"# {line}\n" for line in files["delete.yaml"].splitlines()), nl=False)
            where = {name: name for name in files}
    except _CheckStop as stop:
        for line in stop.lines:
            click.echo(f"error: {visible(line)}", err=True)
        sys.exit(EXIT_UNKNOWN)
    except Exception as exc:  # any failure is an error (2), never a plan, never a traceback
        click.echo(f"error: fabric {fabric!r}: {_one_line(exc)}", err=True)
        sys.exit(EXIT_UNKNOWN)
    click.echo(f"# {fabric}: plan {found.version} at Git commit {found.commit}: {len(found.apply)} to apply, "
               f"{len(found.delete)} to delete, {len(found.held)} held back")
    for held in found.held:
        click.echo(visible(f"# held back: {held.kind} {held.name}: {held.reason}"
                           + (f" (Git: {held.source})" if held.source else "")))
    for note in found.notes:
        click.echo(visible(f"# note: {note}"))
    commands = kubectl_commands(found, cfg.kubernetes.kubeconfig, cfg.kubernetes.context,
                                where["apply.yaml"], where["delete.yaml"])
    if found.apply:
        click.echo("# review what applying changes, then apply:")
        click.echo("#   " + commands[0].replace(" apply -f ", " diff -f ", 1))
    click.echo("# run, deletion last and only after reviewing delete.yaml:")
    for command in commands:
        click.echo(("" if output_dir else "#   ") + visible(command))
    sys.exit(EXIT_DRIFTED)


@main.group()
def inventory() -> None:
    """Inspect the fabric inventory."""


@inventory.command("validate")
@click.option("--inventory", "inventory_file", type=click.Path(dir_okay=False))
def inventory_validate(inventory_file: str | None) -> None:
    """Validate the inventory; print every problem with the entry it belongs to. Exit 1 on problems."""
    from hedgehog_sync.domain.inventory import load_inventory

    try:
        inv = load_inventory(inventory_file)
    except InventoryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for problem in inv.problems:
        click.echo(f"error: {problem}", err=True)
    for warning in inv.environment_warnings():
        click.echo(f"warning: {warning}", err=True)
    enabled = len(inv.enabled())
    click.echo(f"{inv.path}: {len(inv.fabrics)} valid fabrics ({enabled} enabled), {len(inv.problems)} problems")
    sys.exit(1 if inv.problems else 0)


DEMO_DAGSTER_HOME = Path(".devlab") / "dagster_home"  # where `hedgehog-sync demo` (default --dir) keeps it


def _dagster_instance():
    """The Dagster instance of $DAGSTER_HOME; unset, the demo's (./.devlab/dagster_home) when it
    exists, as the README's commands are typed beside the demo; else a clear error, exit 2."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        if not (DEMO_DAGSTER_HOME / "dagster.yaml").is_file():
            click.echo(f"error: DAGSTER_HOME is not set, and no demo instance is here ({DEMO_DAGSTER_HOME}/). "
                       "Set DAGSTER_HOME to your Dagster instance's folder, the one holding dagster.yaml "
                       "(`hedgehog-sync demo` prints its own `export DAGSTER_HOME=...`), or run this in the "
                       "folder where you ran the demo.", err=True)
            sys.exit(2)
        home = str(DEMO_DAGSTER_HOME.resolve())
        click.echo(f"DAGSTER_HOME is not set: using the demo's instance {home}", err=True)
    from dagster import DagsterInstance
    from dagster._core.errors import DagsterError
    from dagster._core.instance.ref import InstanceRef

    try:
        if not Path(home).is_dir():
            raise DagsterError(f"$DAGSTER_HOME {home} is not a folder")
        return DagsterInstance.from_ref(InstanceRef.from_dir(str(Path(home).resolve())))
    except DagsterError as exc:
        click.echo(f"error: cannot open the Dagster instance in {home}: {exc}", err=True)
        sys.exit(2)


@main.command()
@click.option("--reset", is_flag=True, help="Forget the collected metrics (they start again from the next run).")
@click.option("--format", "fmt", type=click.Choice(["json", "table"]), default="table", show_default=True)
def metrics(reset: bool, fmt: str) -> None:
    """Show the scheduler metrics of the fleet's sync runs, or reset them.

    A fabric check is one fabric in one run; it fails when the fabric could not be read or compared
    (its report says unknown). Rates cover the last 100 runs. They are kept in the instance's
    database ($DAGSTER_HOME; unset: the demo's ./.devlab/dagster_home).
    """
    from hedgehog_sync.domain.metrics import window_rates
    from hedgehog_sync.state import StateStore

    with _dagster_instance() as instance:
        store = StateStore.for_instance(instance)
        if reset:
            store.reset_metrics()
            click.echo(f"metrics reset ({store.display_url})")
            return
        m = store.metrics()
    if m is None:
        click.echo(f"no sync run recorded yet ({store.display_url})")
        return
    rates = window_rates(m["recent"])
    if fmt == "json":
        shown = {k: v for k, v in m.items() if k != "recent"}
        shown.update(fabric_check_success_rate=rates.fabric_check_success_rate, clean_run_rate=rates.clean_run_rate,
                     window_runs=rates.runs, window_fabric_checks=rates.fabric_checks)
        click.echo(json.dumps(shown, indent=2))
        return
    last = m["last_run"]
    click.echo(f"runs since {m['since']}: {m['runs_total']}; fabric checks {m['fabrics_checked_total']} "
               f"(changed {m['fabrics_changed_total']}, could not be read {m['fabrics_failed_total']})")
    click.echo(f"over the last {rates.runs} runs: fabric checks read and compared "
               f"{rates.fabric_check_success_rate:.2%} ({rates.fabric_checks - rates.fabric_checks_failed} "
               f"of {rates.fabric_checks}); runs with every fabric read {rates.clean_run_rate:.2%} "
               f"({rates.clean_runs} of {rates.runs}); mean duration {m['mean_duration_s']} s, "
               f"mean queue wait {m['mean_queue_wait_s']} s")
    click.echo(f"last run {last['run_id']} at {last['finished_at']}: {last['checked']} fabrics checked, "
               f"{last['changed']} changed, {last['failed']} could not be read, in {last['duration_s']} s "
               f"(queued {last['queue_wait_s']} s)")


def _check_fabric_name(instance, fabric: str) -> None:
    """A typo must not pause nothing silently: only fabrics with a partition can be paused."""
    from hedgehog_sync.defs.partitions import FABRICS_PARTITION

    known = instance.get_dynamic_partitions(FABRICS_PARTITION)
    if fabric not in known:
        click.echo(f"error: no fabric '{fabric}' on this instance (fabrics: "
                   f"{', '.join(known[:20]) or 'none yet'}{' ...' if len(known) > 20 else ''})", err=True)
        sys.exit(2)


@main.command()
@click.option("--fabric", help="Pause only this fabric (default: all automatic syncing).")
@click.option("--reason", default="", help="Why, shown in every skipped tick (e.g. 'switch upgrade, CHG-1234').")
@click.option("--status", "show_status", is_flag=True, help="Show what is paused; change nothing.")
def pause(fabric: str | None, reason: str, show_status: bool) -> None:
    """Pause automatic syncing: the every-minute schedule and the fast-path sensor together.

    With --fabric, only that fabric (its inventory entry and history untouched). Kept on the Dagster
    instance ($DAGSTER_HOME), so every process of a deployment sees it. Undo with `hedgehog-sync resume`.
    A run launched by hand still runs.
    """
    import getpass

    from hedgehog_sync.defs.pause import set_pause

    with _dagster_instance() as instance:
        if show_status:
            _print_pause_status(instance)
            return
        if fabric:
            _check_fabric_name(instance, fabric)
        try:
            by = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
            by = f"uid {os.getuid()}"
        done = set_pause(instance, fabric, by=by, reason=reason)
        what = f"fabric {fabric}" if fabric else "all automatic syncing (schedule and fast path)"
        click.echo(f"{what}: {done.describe()}")
        click.echo(f"resume with: hedgehog-sync resume{f' --fabric {fabric}' if fabric else ''}")


@main.command()
@click.option("--fabric", help="Resume only this fabric (default: the pause of all automatic syncing).")
def resume(fabric: str | None) -> None:
    """Lift a pause set with `hedgehog-sync pause`; the next schedule tick syncs what is due."""
    from hedgehog_sync.defs.pause import clear_pause, fabric_pauses, schedule_stopped

    with _dagster_instance() as instance:
        try:  # any valid name: a fabric paused, then dropped from the inventory, can still be resumed
            lifted = clear_pause(instance, fabric)
        except ValueError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        what = f"fabric {fabric}" if fabric else "all automatic syncing"
        click.echo(f"{what}: resumed (it was {lifted.describe()})" if lifted else f"{what}: was not paused")
        if not fabric:
            from hedgehog_sync.defs.partitions import FABRICS_PARTITION

            held = fabric_pauses(instance, instance.get_dynamic_partitions(FABRICS_PARTITION))
            if held:
                click.echo(f"still paused: {len(held)} fabric(s): {', '.join(sorted(held)[:20])} "
                           "(`hedgehog-sync resume --fabric NAME`)")
        if schedule_stopped(instance, "fleet_sync_every_minute"):
            click.echo("note: the schedule fleet_sync_every_minute is stopped (in the UI or with `dagster "
                       "schedule stop`); nothing syncs automatically until it is started again there")


def _print_pause_status(instance) -> None:
    from hedgehog_sync.defs.partitions import FABRICS_PARTITION
    from hedgehog_sync.defs.pause import fabric_pauses, fleet_pause, schedule_stopped

    fleet = fleet_pause(instance)
    click.echo(f"all automatic syncing: {fleet.describe() if fleet else 'running'}")
    stopped = schedule_stopped(instance, "fleet_sync_every_minute")
    click.echo("schedule fleet_sync_every_minute: " + ("stopped (the fast path holds too)" if stopped else "running"))
    held = fabric_pauses(instance, instance.get_dynamic_partitions(FABRICS_PARTITION))
    click.echo(f"paused fabrics: {len(held)}")
    for name, p in held.items():
        click.echo(f"  {name}: {p.describe()}")


@main.command()
def pools() -> None:
    """Set the `git` (4) and `kubernetes` (3) pool limits on the instance where none is set, and show them."""
    from hedgehog_sync.defs.pools import ensure_pool_limits, pool_limits

    with _dagster_instance() as instance:
        set_now = ensure_pool_limits(instance)
        for pool, limit in pool_limits(instance).items():
            click.echo(f"{pool}: {limit}" + (" (set now)" if pool in set_now else ""))


@main.command()
@click.option("--dir", "root", type=click.Path(file_okay=False), default=".devlab", show_default=True,
              help="Folder for the demo's Git repositories, kubeconfigs, cluster state and DAGSTER_HOME.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address of the Dagster UI.")
@click.option("--port", default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option("--apiserver-port", default=0, show_default=True, help="Port of the local API server (0: any free).")
@click.option("--churn", is_flag=True,
              help="Keep the history interesting: every --churn-every seconds change fab-east live or in "
                   "Git, so its drift appears and clears (a VLAN edit, a VPC added to Git, then removed).")
@click.option("--churn-every", type=click.FloatRange(min=5), default=120, show_default=True,
              help="Seconds between churn steps; the first comes after one interval.")
def demo(root: str, host: str, port: int, apiserver_port: int, churn: bool, churn_every: float) -> None:
    """Run the demo fleet: local Git and API server, and `dagster dev` with the daemon."""
    from hedgehog_sync.devlab.demo import run_demo

    sys.exit(run_demo(Path(root), host=host, port=port, apiserver_port=apiserver_port,
                      churn_every=churn_every if churn else None))


@main.command()
@click.option("--fabric", required=True, help="The fabric (its partition key) to check again now.")
@click.option("--url", envvar="HEDGEHOG_SYNC_DAGSTER_URL", default="http://127.0.0.1:3000", show_default=True,
              help="The instance's Dagster UI (webserver); also $HEDGEHOG_SYNC_DAGSTER_URL.")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Wait for the run to end, then print the fabric's status.")
@click.option("--timeout", type=click.FloatRange(min=1), default=600, show_default=True,
              help="Seconds to wait for the run.")
def recheck(fabric: str, url: str, wait: bool, timeout: float) -> None:
    """Re-check one fabric now: launch the run the UI's Materialize button launches for it.

    The request goes to the Dagster webserver's GraphQL API, as the UI's does: the run is queued on
    that instance and its daemon starts it like any other, in the pools, with the same settings.
    Exit status: 0 when the run succeeded (the fabric's report is recorded, whatever it says),
    2 when it failed, could not be launched or did not end within --timeout.
    """
    import time
    import urllib.error
    import urllib.request

    from hedgehog_sync.domain.inventory import PARTITION_KEY
    from hedgehog_sync.domain.redaction import redact

    if not PARTITION_KEY.match(fabric):
        click.echo(f"error: '{fabric}' is not a fabric name (a DNS label)", err=True)
        sys.exit(EXIT_UNKNOWN)
    base = url.rstrip("/")

    def graphql(query: str, **variables: object) -> dict:
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(f"{base}/graphql", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as resp:
                answer = json.loads(resp.read(10_000_000))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            click.echo(f"error: no Dagster webserver answered at {base} ({redact(str(exc))}); start the UI "
                       "(`hedgehog-sync demo`, `dagster dev` or dagster-webserver) or pass --url", err=True)
            sys.exit(EXIT_UNKNOWN)
        if answer.get("errors"):
            click.echo(f"error: {base} refused the request: {redact(json.dumps(answer['errors']))[:500]}", err=True)
            sys.exit(EXIT_UNKNOWN)
        return answer["data"]

    assets = ["git_state", "k8s_state", "drift_report"]  # one graph: Materialize on any of them runs all three
    nodes = graphql("""query ($keys: [AssetKeyInput!]) { assetNodes(assetKeys: $keys) {
        assetKey { path } partitionKeys repository { name location { name } }
        assetChecksOrError { ... on AssetChecks { checks { name jobNames } } } } }""",
                    keys=[{"path": [a]} for a in assets])["assetNodes"]
    drift = next((n for n in nodes if n["assetKey"]["path"] == ["drift_report"]), None)
    if drift is None:
        click.echo(f"error: {base} serves no drift_report asset: is it the hedgehog-sync code location?", err=True)
        sys.exit(EXIT_UNKNOWN)
    if fabric not in (drift["partitionKeys"] or []):
        click.echo(f"error: fabric '{fabric}' has no partition on this instance (yet): the fabric_discovery "
                   "sensor adds each fabric of the inventory", err=True)
        sys.exit(EXIT_UNKNOWN)
    job = "__ASSET_JOB"  # the implicit asset job, as the UI launches it
    checks = [{"assetKey": n["assetKey"], "name": c["name"]} for n in nodes
              for c in (n.get("assetChecksOrError") or {}).get("checks") or [] if job in c["jobNames"]]
    launched = graphql("""mutation ($executionParams: ExecutionParams!) {
        launchPipelineExecution(executionParams: $executionParams) {
          __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message } } }""",
                       executionParams={
                           "mode": "default", "runConfigData": "{}",
                           "executionMetadata": {"tags": [{"key": "dagster/partition", "value": fabric},
                                                          {"key": "dagster/retry_strategy", "value": "ALL_STEPS"}]},
                           "selector": {"repositoryLocationName": drift["repository"]["location"]["name"],
                                        "repositoryName": drift["repository"]["name"], "pipelineName": job,
                                        "assetSelection": [{"path": [a]} for a in assets],
                                        "assetCheckSelection": checks}})["launchPipelineExecution"]
    if launched["__typename"] != "LaunchRunSuccess":
        click.echo(f"error: the run was not launched: {launched['__typename']}: "
                   f"{redact(str(launched.get('message', '')))[:500]}", err=True)
        sys.exit(EXIT_UNKNOWN)
    run_id = launched["run"]["runId"]
    click.echo(f"{fabric}: re-check launched, run {run_id}: {base}/runs/{run_id}")
    if not wait:
        return
    deadline = time.monotonic() + timeout
    status = "QUEUED"
    while status not in ("SUCCESS", "FAILURE", "CANCELED"):
        if time.monotonic() > deadline:
            click.echo(f"error: run {run_id} still {status} after {timeout:g} s; it goes on: {base}/runs/{run_id}",
                       err=True)
            sys.exit(EXIT_UNKNOWN)
        time.sleep(1)
        status = graphql("query ($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                         id=run_id)["runOrError"].get("status", "UNKNOWN")
    if status != "SUCCESS":
        click.echo(f"error: run {run_id} ended {status}: {base}/runs/{run_id}", err=True)
        sys.exit(EXIT_UNKNOWN)
    found = graphql("""query ($p: [String!]) { assetOrError(assetKey: {path: ["drift_report"]}) {
        ... on Asset { assetMaterializations(partitions: $p, limit: 1) { runId
          metadataEntries { label ... on TextMetadataEntry { text } } } } } }""", p=[fabric])["assetOrError"]
    latest = ((found or {}).get("assetMaterializations") or [{}])[0]
    status_of = {m["label"]: m.get("text") for m in latest.get("metadataEntries") or []}.get("status", "recorded")
    click.echo(f"{fabric}: {status_of} (run {run_id} succeeded)")


@main.group()
def state() -> None:
    """The fleet's state in the instance's database (docs/state.md)."""


@state.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
def state_import(directory: str) -> None:
    """Import a state directory written by a release before the database store (reports, health,
    versions, parses, fleet rows, metrics), into the instance of $DAGSTER_HOME. Fabrics that already
    have state in the database are left as they are; the directory is left in place."""
    from hedgehog_sync.state import StateStore

    with _dagster_instance() as instance:
        store = StateStore.for_instance(instance)
        summary = store.import_state_dir(directory)
    click.echo(f"imported {directory} into {store.display_url}: {json.dumps(summary.to_dict())}")


@main.group()
def devlab() -> None:
    """The local sandbox: a Kubernetes-compatible API server for fabrics."""


@devlab.command("apiserver", context_settings={"ignore_unknown_options": True, "help_option_names": []})
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def devlab_apiserver(args: tuple[str, ...]) -> None:
    """Serve fabrics' live state over the Kubernetes REST protocol (see --help)."""
    from hedgehog_sync.devlab.apiserver import main as apiserver_main

    sys.exit(apiserver_main(list(args)))


@main.command()
@click.option("--port", type=click.IntRange(0, 65535), default=9464, show_default=True,
              help="Port of /metrics (9464: the usual exporter port; 0 picks a free one).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 in a pod, so Prometheus can scrape it).")
def exporter(port: int, host: str) -> None:
    """Serve the fleet's Prometheus metrics on /metrics, read at each scrape from the state store and
    the Dagster instance ($DAGSTER_HOME): no run, nothing written."""
    import signal
    import threading

    from dagster import DagsterInstance
    from prometheus_client import start_http_server

    from hedgehog_sync.defs.resources import FleetResource
    from hedgehog_sync.exporter import registry_for

    with DagsterInstance.get() as instance:
        server, thread = start_http_server(port, addr=host, registry=registry_for(instance, FleetResource()))
        click.echo(f"hedgehog-sync exporter: serving http://{host}:{server.server_port}/metrics", err=True)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.wait(1.0):
            pass
        server.shutdown()
        thread.join(5)


if __name__ == "__main__":  # pragma: no cover
    main()
