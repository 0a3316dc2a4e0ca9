"""Secrets (docs/reliability.md): tokens and Secret-like values never reach anything recorded.

The fleet is run through failures that tempt a leak (a refused git token, a refused bearer token,
a token pasted into a git URL, drift on a password field), then every byte the Dagster instance
and hedgehog-sync stored is searched for the secret values: the SQLite event log and run storage,
captured compute logs, report and state files, git caches, run events, exception text, and what
the process printed and logged.
"""

from __future__ import annotations

import copy
import json
import secrets
from pathlib import Path

import yaml
from dagster._serdes import serialize_value

from hedgehog_sync.devlab.demo import DEMO_FABRICS, DRIFTED_FABRIC
from hedgehog_sync_tests.reliability.conftest import FAULTED, error_classes

DRIFTED_VPCS = rf"/fabrics/{DRIFTED_FABRIC}/apis/vpc\.githedgehog\.com/v1beta1/namespaces/default/vpcs$"


def _vpc_file(lab) -> tuple[Path, list[dict], dict]:
    work = Path(lab.work_repo().working_tree_dir)
    for path in sorted(work.rglob("*.yaml")):
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        vpc = next((d for d in docs if d.get("kind") == "VPC"), None)
        if vpc is not None:
            return path, docs, vpc
    raise AssertionError("no VPC in the demo repository")


def test_no_token_or_secret_value_reaches_anything_recorded(lab, capfd, caplog):
    git_secret, live_secret = "git-side-" + secrets.token_hex(8), "live-side-" + secrets.token_hex(8)
    url_token = "ghp_" + secrets.token_hex(16)
    wrong_token = "ghs_wrong_" + secrets.token_hex(12)
    bearer_tokens = [lab.fleet.store.token(f) for f in DEMO_FABRICS]
    values = {"git token": lab.git_token, "wrong git token": wrong_token, "token in a URL": url_token,
              "Secret-like value in Git": git_secret, "Secret-like value live": live_secret,
              **{f"bearer token {i}": t for i, t in enumerate(bearer_tokens)}}
    assert all(values.values())

    # 1. Drift on a password-like field: Git and the cluster disagree on it.
    path, docs, vpc = _vpc_file(lab)
    vpc["spec"]["bgpPassword"] = git_secret
    rel = str(path.relative_to(lab.work_repo().working_tree_dir))
    lab.commit({rel: yaml.safe_dump_all(docs)}, "vpc with a password")
    live = copy.deepcopy(lab.fleet.store.get(FAULTED, "vpc.githedgehog.com", "vpcs", vpc["metadata"]["name"]))
    live["spec"]["bgpPassword"] = live_secret
    lab.fleet.store.put(FAULTED, live, manager="kubectl-edit")
    lab.sync()
    report = lab.report(FAULTED)
    (changed,) = [r for r in report["resources"] if r["name"] == vpc["metadata"]["name"]]
    (change,) = [c for c in changed["changes"] if c["path"] == "/spec/bgpPassword"]
    assert (change["desired"], change["actual"]) == ("***", "***")

    # 2. A refused git token, a refused bearer token, a token pasted into a git URL.
    lab.monkeypatch.setenv("HEDGEHOG_SYNC_RELIABILITY_WRONG_TOKEN", wrong_token)
    doc = lab.inventory()
    for entry in doc["fabrics"]:
        if entry["name"] == FAULTED:
            entry["git"]["token_env"] = "HEDGEHOG_SYNC_RELIABILITY_WRONG_TOKEN"
    doc["fabrics"].append({"name": "fab-pasted", "git": {"url": f"https://{url_token}@git.example.com/f.git"}})
    lab.fleet.inventory.write_text(yaml.safe_dump(doc, sort_keys=False))
    lab.apiserver.faults.add(path=DRIFTED_VPCS, status=401)
    result = lab.sync()
    assert result.success  # unread fabrics are results (unknown), not a failed run
    assert error_classes(lab.report(FAULTED)) == ["GitAuthError"]
    assert error_classes(lab.report(DRIFTED_FABRIC)) == ["ClusterAuthError"]

    # 3. Search everything recorded.
    haystacks: dict[str, bytes] = {}
    for root in lab.state_paths():
        for file in root.rglob("*"):
            if file.is_file():
                haystacks[str(file)] = file.read_bytes()
    for run in lab.results:
        haystacks[f"run {run.run_id} events"] = serialize_value(
            list(lab.instance.all_logs(run.run_id))).encode()
        record = lab.instance.get_run_by_id(run.run_id)
        haystacks[f"run {run.run_id} record"] = serialize_value(record).encode()
        for event in run.all_events:
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:
                haystacks[f"run {run.run_id} error"] = error.to_string().encode()
    for fabric in DEMO_FABRICS:
        haystacks[f"report {fabric}"] = json.dumps(lab.store.latest_report(fabric)).encode()
    out, err = capfd.readouterr()
    haystacks["stdout"], haystacks["stderr"] = out.encode(), err.encode()
    haystacks["python logging"] = caplog.text.encode()
    assert len(haystacks) > 10 and any(b"GitAuthError" in h for h in haystacks.values())
    # The desired state itself (the Git scratch clone and its parses in the state database, private
    # 0600 / 0700) holds what Git holds; a Secret-like value may be there, masked everywhere it is shown.
    state_copies = ("hedgehog_sync.db", "/hedgehog-sync-git-")
    leaks = [(name, what) for what, value in values.items() for name, hay in haystacks.items()
             if value.encode() in hay
             and not (what.startswith("Secret-like") and any(c in name for c in state_copies))]
    assert leaks == []
    # The copies of what Git holds are their owner's only: the state file, and the scratch clones
    # inside a private (0700) directory.
    for name in haystacks:
        if "hedgehog_sync.db" in name:
            assert Path(name).stat().st_mode & 0o077 == 0, f"{name} is readable by others"
    scratch = lab.state_paths()[-1]
    assert scratch.name.startswith("hedgehog-sync-git-") and scratch.stat().st_mode & 0o077 == 0
