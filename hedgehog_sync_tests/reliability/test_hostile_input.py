"""Hostile and odd input (docs/reliability.md): each gives a clear error and leaves other fabrics alone.

Files are committed to the faulted fabric's repository and fetched over the loopback git server,
so they reach the parser the way a push to a real GitOps repository would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance, materialize

from hedgehog_sync.connectors.git import GitRepoCache, scratch_dir
from hedgehog_sync.connectors.kubernetes import api_client_for
from hedgehog_sync.defs.alerts import AlertSink
from hedgehog_sync.defs.assets import fabric_sync
from hedgehog_sync.domain.errors import ClusterConfigError, GitUrlRefused, InventoryError
from hedgehog_sync.domain.inventory import GitSettings, load_inventory, parse_inventory
from hedgehog_sync.state import StateStore
from hedgehog_sync_tests.reliability.conftest import (
    FAULTED, _comparable, assert_contained, assert_nothing_lost, assert_recovered,
)

VPC_HEAD = "apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {name: hostile}\nspec: "


def alias_bomb() -> str:
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i in range(1, 12):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        text += f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]\n"
    return text


HOSTILE_FILES = {
    # name: (path in the repository, content, the finding's message must contain)
    "alias bomb": ("vpcs/bomb.yaml", alias_bomb(), "alias"),
    "100,000 documents": ("vpcs/many.yaml", "---\na: 1\n" * 100_000, "more than"),
    "deeply nested flow": ("vpcs/deep.yaml", VPC_HEAD + "{a: " * 5_000 + "1" + "}" * 5_000 + "\n", "nested deeper"),
    "deeply nested block": ("vpcs/deep-block.yaml", "- " * 100_000 + "x\n", "nested deeper"),
    "binary file": ("vpcs/blob.yaml", bytes(range(256)) * 64, "binary"),
    "not UTF-8": ("vpcs/latin.yaml", b"kind: VPC\nname: caf\xe9\n", "UTF-8"),
}


@pytest.mark.parametrize("case", list(HOSTILE_FILES))
def test_hostile_file_is_a_finding_of_its_fabric_only(lab, case):
    path, content, message = HOSTILE_FILES[case]
    before = lab.snapshot()
    lab.commit({path: content}, f"hostile: {case}")
    assert lab.sync().success  # content is the fabric's problem, never the run's
    report = assert_contained(lab, before, error_class=None)
    findings = [e for e in report["errors"] if e["source"] == path]
    assert len(findings) == 1 and message in findings[0]["message"], report["errors"]
    assert len(findings[0]["message"]) < 300  # a clear sentence, not a dump of the input
    lab.commit({path: None}, "remove it")
    assert_recovered(lab, before)


def test_a_100_mb_file_is_refused_unread(lab):
    lab.monkeypatch.setenv("HEDGEHOG_SYNC_GIT_TIMEOUT_SECONDS", "120")  # git still packs and sends it
    before = lab.snapshot()
    work = Path(lab.work_repo().working_tree_dir)
    big = work / "vpcs" / "huge.yaml"
    with open(big, "wb") as f:  # compressible, so the loopback transfer stays small
        for _ in range(100):
            f.write(b"# " + b"x" * (1024 * 1024 - 3) + b"\n")
    repo = lab.work_repo()
    repo.git.add("vpcs/huge.yaml")
    repo.git.commit("-m", "a 100 MB file")
    lab.publish()
    assert lab.sync().success
    report = assert_contained(lab, before, error_class=None)
    (finding,) = [e for e in report["errors"] if e["source"] == "vpcs/huge.yaml"]
    assert "104857600 bytes, over the limit" in finding["message"]


def test_symlink_out_of_the_repository_is_ignored_with_a_warning(lab, tmp_path):
    secret = tmp_path / "outside.yaml"
    secret.write_text(VPC_HEAD + "{subnets: {}}\n")
    before = lab.snapshot()
    work = Path(lab.work_repo().working_tree_dir)
    (work / "vpcs" / "link.yaml").symlink_to(secret)
    (work / "vpcs" / "passwd.yaml").symlink_to("/etc/passwd")
    repo = lab.work_repo()
    repo.git.add("vpcs/link.yaml", "vpcs/passwd.yaml")
    repo.git.commit("-m", "symlinks out of the repository")
    lab.publish()
    assert lab.sync().success
    report = lab.report()
    assert report["status"] == "in_sync"  # nothing of the link's target was read
    warned = sorted(w["source"] for w in report["warnings"] if "symbolic link" in w["message"])
    assert warned == ["vpcs/link.yaml", "vpcs/passwd.yaml"]
    assert "hostile" not in str(report) and "root:" not in str(report)
    assert_nothing_lost(before, lab.snapshot())


# --- partition keys ---------------------------------------------------------------------------
BAD_KEYS = ["../etc", "a/b", "a|b", "a,b", "fab east", "fäb", "FAB", "-fab", "fab-", "", "a" * 64, "fab\n"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_partition_keys_are_refused_by_name_and_build_no_path(tmp_path, key):
    text = yaml.safe_dump({"fabrics": [
        {"name": key, "git": {"url": "https://git.example.com/x.git"}},
        {"name": "fab-ok", "git": {"url": "https://git.example.com/x.git"}},
    ]})
    inv = parse_inventory(text, "fabrics.yaml")
    assert [f.name for f in inv.fabrics] == ["fab-ok"]
    (problem,) = inv.problems
    assert problem.entry == 1 and "DNS label" in problem.message
    for build in (lambda: StateStore(f"sqlite:///{tmp_path / 'state.db'}").save_report(key, {"status": "in_sync"}),
                  lambda: GitRepoCache(tmp_path / "g").repo_dir(key)):
        with pytest.raises(ValueError, match="invalid fabric name"):
            build()
    assert not any(tmp_path.rglob("*")) or all(p.is_dir() for p in tmp_path.rglob("*"))


def test_a_run_for_a_partition_key_outside_the_inventory_touches_nothing(lab):
    keys = ["../../escape", "a,b", "fab east", "fäb"]
    added = [k for k in keys if _try_add_partition(lab.instance, k)]
    before = lab.snapshot()
    scratch = scratch_dir()  # this process's Git clones (the runs are in-process)
    files_before = sorted(str(p) for p in scratch.rglob("*"))
    fabrics_before = lab.store.fabrics()
    for key in added:
        result = materialize([fabric_sync], partition_key=key, instance=lab.instance, raise_on_error=False,
                             resources={"fleet": lab.resource, "alerts": AlertSink()})
        assert result.success
        assert any(f"fabric {key} is not (validly) in" in m for m in lab.run_messages(result))
    assert not (scratch.parent / "escape").exists() and not (scratch / "a,b").exists()
    assert sorted(str(p) for p in scratch.rglob("*")) == files_before
    assert lab.store.fabrics() == fabrics_before  # no state row for a key outside the inventory
    assert_nothing_lost(before, lab.snapshot())
    for key in added:
        lab.instance.delete_dynamic_partition("fabrics", key)


def _try_add_partition(instance: DagsterInstance, key: str) -> bool:
    try:
        instance.add_dynamic_partitions("fabrics", [key])
        return True
    except Exception:  # Dagster refuses some keys itself: that is fine too
        return False


# --- git URLs ---------------------------------------------------------------------------------
REFUSED_URLS = [
    "ext::sh -c touch% /tmp/pwned",
    "fd::17",
    "-uhttps://git.example.com/x.git",
    "--upload-pack=touch /tmp/pwned",
    "ssh://-oProxyCommand=touch%20/tmp/pwned/x",
    "ssh://git@-oProxyCommand=touch%20/tmp/pwned/x",
    "https://ghp_tokenInTheUserName@github.com/netops/fabrics.git",
    "https://user:secret@github.com/netops/fabrics.git",
]


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_dangerous_git_urls_are_refused_before_git_runs(tmp_path, url, monkeypatch):
    marker = tmp_path / "pwned"
    url = url.replace("/tmp/pwned", str(marker))
    inv = parse_inventory(yaml.safe_dump({"fabrics": [{"name": "fab-x", "git": {"url": url}}]}), "fabrics.yaml")
    assert inv.fabrics == [] and len(inv.problems) == 1
    message = inv.problems[0].message
    assert "git.url" in message
    assert "secret" not in message and "ghp_" not in message  # the refusal never echoes the URL
    # The connector refuses it too, should a caller skip the inventory's validation.
    with pytest.raises(GitUrlRefused):
        GitRepoCache(tmp_path / "cache").read("fab-x", GitSettings.model_construct(
            url=url, ref="main", path="", token_env=None, allow_local=False))
    assert not marker.exists()


def test_a_ref_that_looks_like_an_option_is_refused(tmp_path):
    inv = parse_inventory(yaml.safe_dump({"fabrics": [
        {"name": "fab-x", "git": {"url": "https://git.example.com/x.git", "ref": "--upload-pack=touch x"}}]}),
        "fabrics.yaml")
    assert inv.fabrics == [] and "git.ref" in inv.problems[0].message


# --- kubeconfigs with plugins -----------------------------------------------------------------
def test_kubeconfig_with_an_exec_plugin_is_refused_and_never_run(lab, tmp_path):
    marker = tmp_path / "plugin-ran"
    kubeconfig = lab.fleet.root / "kube" / f"{FAULTED}.kubeconfig"
    doc = yaml.safe_load(kubeconfig.read_text())
    for user in doc["users"]:
        user["user"] = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": "sh",
                                 "args": ["-c", f"touch {marker}; echo '{{}}'"]}}
    kubeconfig.write_text(yaml.safe_dump(doc))
    before = lab.snapshot()
    assert lab.sync().success  # the fabric's fault is its result, not the run's
    report = assert_contained(lab, before, error_class="ClusterConfigError", side="cluster")
    assert "exec plugin" in report["errors"][0]["message"] and "allow_exec" in report["errors"][0]["message"]
    assert lab.latest_metadata()["attempts"] == 1  # permanent: not retried
    assert not marker.exists()
    with pytest.raises(ClusterConfigError):
        api_client_for(str(kubeconfig), FAULTED)
    assert not marker.exists()


# --- inventories that are not YAML ------------------------------------------------------------
NOT_YAML = {
    "binary": b"\x00\x01\x02\xff" * 100,
    "latin-1": "fabrics:\n  - name: caf\xe9\n".encode("latin-1"),
    "syntax error": b"fabrics: [\n  - name: fab-east\n",
    "a list": b"- fab-east\n- fab-west\n",
    "json of something else": b'{"clusters": 3}',
    "an alias bomb": alias_bomb().encode(),
}


@pytest.mark.parametrize("case", list(NOT_YAML))
def test_an_inventory_that_is_not_usable_is_a_clear_inventory_error(tmp_path, case):
    path = tmp_path / "fabrics.yaml"
    path.write_bytes(NOT_YAML[case])
    with pytest.raises(InventoryError) as caught:
        load_inventory(str(path))
    assert str(path) in str(caught.value) and len(str(caught.value)) < 300
    assert "\\x" not in str(caught.value) and "lol" not in str(caught.value)  # never echoes the content


class PermanentErrorRetried(AssertionError):
    """A permanent error was retried by Dagster's step retry policy."""


def test_an_unusable_inventory_fails_the_run_clearly_keeps_every_report_and_is_not_retried(lab):
    before = lab.snapshot()
    lab.fleet.inventory.write_bytes(NOT_YAML["binary"])
    result = lab.sync()
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "InventoryError" in failure.event_specific_data.error.to_string()
    assert "not UTF-8" in failure.event_specific_data.error.to_string()
    after = lab.snapshot()
    assert {f: _comparable(r) for f, r in after.latest.items()} == \
        {f: _comparable(r) for f, r in before.latest.items()}
    assert_nothing_lost(before, after)
    retried = [e for e in result.all_events if e.event_type_value in ("STEP_UP_FOR_RETRY", "STEP_RESTARTED")]
    if retried:
        raise PermanentErrorRetried(f"{len(retried)} retry events for a permanent InventoryError")
