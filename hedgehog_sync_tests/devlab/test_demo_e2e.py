"""The README's first command. Its end-to-end run (`hedgehog-sync demo` starts `dagster dev` with webserver
and daemon, and with no clicks every demo fabric gets a drift_report) shares one demo process with the UI
tests: hedgehog_sync_tests/ui/test_operator_ui.py::test_demo_syncs_every_fabric_with_no_clicks.
What is left here is quick: the command offers what the README promises."""

import subprocess
import sys
from pathlib import Path

CLI = str(Path(sys.executable).with_name("hedgehog-sync"))


def test_the_demo_command_offers_what_the_readme_uses():
    out = subprocess.run([CLI, "demo", "--help"], capture_output=True, text=True, check=True).stdout
    for option in ("--dir", "--port", "--apiserver-port", "--churn", "--churn-every"):
        assert option in out, option
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert readme.startswith("# hedgehog-sync") and ".venv/bin/hedgehog-sync demo --churn\n" in readme


def test_churn_intervals_below_five_seconds_are_refused():
    done = subprocess.run([CLI, "demo", "--churn", "--churn-every", "1", "--dir", "/nonexistent/never-created"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "--churn-every" in done.stderr
    assert not Path("/nonexistent/never-created").exists()


def _commands(banner: list[str]) -> tuple[dict[str, str], list[str]]:
    """The exported variables and the commands of the banner's paste-ready lines."""
    import shlex

    pasted = [line.strip() for line in banner if line.startswith("  ")]
    exports = dict(word.split("=", 1) for word in shlex.split(pasted[0])[1:])
    assert shlex.split(pasted[0])[0] == "export"
    return exports, [line.split("  #")[0].strip() for line in pasted[1:]]


def test_the_demos_printed_commands_work_when_pasted(demo_fleet):
    """What the demo prints (UI URL, DAGSTER_HOME, hedgehog-sync and kubectl commands), each printed
    command run as pasted into a shell, against the demo fleet and its instance."""
    import os
    import shlex

    from hedgehog_sync.devlab.demo import DRIFTED_FABRIC, dagster_env, demo_banner, kubectl_problem

    fleet, handle = demo_fleet
    env = dagster_env(fleet)
    note = kubectl_problem(fleet, handle.url)
    banner = demo_banner(fleet, handle.url, "http://127.0.0.1:3000", env["DAGSTER_HOME"], note)
    text = "\n".join(banner)
    assert "Dagster UI http://127.0.0.1:3000" in text and f"DAGSTER_HOME {env['DAGSTER_HOME']}" in text
    exports, commands = _commands(banner)
    assert exports == {"DAGSTER_HOME": env["DAGSTER_HOME"], "HEDGEHOG_SYNC_INVENTORY": str(fleet.inventory)}
    shell_env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "HEDGEHOG_SYNC_INVENTORY")}
    shell_env.update(exports)
    outcomes = {}
    recheck = [c for c in commands if " recheck " in c]
    assert len(recheck) == 1 and "--url http://127.0.0.1:3000" in recheck[0]
    for command in commands:
        argv = shlex.split(command)
        if argv[1:2] == ["recheck"]:  # it asks the running UI for a run: checked here for its options only
            argv = [argv[0], "recheck", "--help"]
            assert all(f"{o} " in subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout
                       for o in ("--fabric", "--url")), command
            continue
        done = subprocess.run(argv, env=shell_env, cwd="/", capture_output=True, text=True, timeout=120)
        outcomes[argv[0] if argv[0] == "kubectl" else " ".join(argv[1:])] = done
        assert "Traceback" not in done.stderr, (command, done.stderr)
    assert outcomes[f"check --fabric {DRIFTED_FABRIC}"].returncode == 1  # drifted
    assert "rogue-vpc" in outcomes[f"check --fabric {DRIFTED_FABRIC}"].stdout
    assert "no sync run recorded yet" in outcomes["metrics"].stdout
    assert "paused by" in outcomes["pause --reason maintenance"].stdout
    assert "all automatic syncing: paused by" in outcomes["pause --status"].stdout
    assert "resumed" in outcomes["resume"].stdout
    kubectl = [c for c in commands if c.startswith("kubectl ")]
    if note is None:  # printed only because it worked: it must list the drifted fabric's VPCs
        done = outcomes["kubectl"]
        assert done.returncode == 0 and "vpc-01" in done.stdout
    else:
        assert not kubectl and f"no kubectl command: {note}" in text
        assert fleet.store.token(DRIFTED_FABRIC) not in text


def test_the_demo_prints_its_ui_url_dagster_home_and_commands(tmp_path):
    """The real `hedgehog-sync demo` prints the banner before it starts `dagster dev` (stopped here)."""
    import os
    import signal
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = tmp_path / "demo"
    proc = subprocess.Popen([CLI, "demo", "--dir", str(root), "--port", str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    lines = []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if "kubectl" in line:  # the banner's last line
                break
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    text = "\n".join(lines)
    home = root.resolve() / "dagster_home"
    assert f"devlab: Dagster UI http://127.0.0.1:{port}" in text, text
    assert f"devlab: DAGSTER_HOME {home}" in text
    assert f"export DAGSTER_HOME={home} HEDGEHOG_SYNC_INVENTORY={root.resolve() / 'fabrics.yaml'}" in text
    for command in ("check --fabric fab-west", f"recheck --fabric fab-west --url http://127.0.0.1:{port}", "metrics",
                    "pause --reason", "pause --status", "resume"):
        assert f"{CLI} {command}" in text, command


def test_the_readme_shows_what_the_demo_prints(monkeypatch):
    """The README's sample of the demo's banner is the banner for its example paths, line for line."""
    from hedgehog_sync.devlab import demo

    root = Path("/home/you/hedgehog-sync/.devlab")
    monkeypatch.setattr(demo, "console_script", lambda: "/home/you/hedgehog-sync/.venv/bin/hedgehog-sync")
    fleet = demo.DemoFleet(root, demo.FabricStore(), [])
    # the devlab speaks HTTPS, so kubectl reads it: the banner prints the kubectl command and the edit hint
    banner = demo.demo_banner(fleet, "https://127.0.0.1:40123", "http://127.0.0.1:3000", str(root / "dagster_home"),
                              None)
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    sample = readme.split("devlab: 3 fabrics in", 1)[1].split("```", 1)[0]
    assert ("devlab: 3 fabrics in" + sample).rstrip("\n").splitlines() == banner


def test_the_readmes_inventory_reference_documents_every_field_the_demo_uses_and_the_schema_has(tmp_path):
    """`allow_local` was used by the demo's inventory but missing from the reference: every field of the
    inventory schema, at every level, and every key the demo writes, appear in the README's example."""
    import yaml

    from hedgehog_sync.devlab.demo import build_demo_fleet
    from hedgehog_sync.domain.inventory import FabricConfig

    def keys(value, prefix=""):
        if isinstance(value, dict):
            for k, v in value.items():
                yield f"{prefix}{k}"
                yield from keys(v, f"{prefix}{k}.")
        elif isinstance(value, list):
            for v in value:
                yield from keys(v, prefix)

    def schema_keys(model, prefix=""):
        for name, field in model.model_fields.items():
            yield f"{prefix}{name}"
            inner = field.annotation
            inner = getattr(inner, "__args__", (inner,))[0] if not hasattr(inner, "model_fields") else inner
            if hasattr(inner, "model_fields"):
                yield from schema_keys(inner, f"{prefix}{name}.")

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = readme.split("Write an inventory", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    documented = set(keys(yaml.safe_load(block)["fabrics"]))
    assert "git.allow_local" in documented and "git.token_env" in documented
    assert set(schema_keys(FabricConfig)) <= documented, set(schema_keys(FabricConfig)) - documented
    demo = yaml.safe_load(build_demo_fleet(tmp_path / "devlab").inventory.read_text())
    assert set(keys(demo["fabrics"])) <= documented
    assert "HEDGEHOG_SYNC_" in block.split("token_env:", 1)[1].split("allow_local", 1)[0]  # the prefix rule
    from hedgehog_sync.domain.inventory import load_inventory

    (tmp_path / "fabrics.yaml").write_text(block)
    example = load_inventory(str(tmp_path / "fabrics.yaml"))  # the example itself is a valid inventory
    assert [f.name for f in example.fabrics] == ["fab-east"] and not example.problems, example.problems
