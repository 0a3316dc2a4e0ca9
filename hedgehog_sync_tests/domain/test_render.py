"""The report as text: what a person reads first, links to both sides, and nothing from Git that renders."""

import re

import pytest

from hedgehog_sync.domain.render import (
    SourceLinks, desired_location, fleet_markdown, git_file_url, report_markdown,
)

COMMIT = "9f1c" + "0" * 36


def report(status="drifted", resources=(), errors=(), message="fab-x: move VLANs", **extra):
    return {"fabric": "fab-x", "status": status, "generated_at": "2026-11-28T12:00:00Z",
            "git": {"commit": COMMIT, "ref": "main", "resources": 10, "message": message, "author": "Ada"},
            "cluster": {"resources": 12, "server": "https://fab-x:6443"},
            "summary": {"in_sync": 8, "modified": 1, "missing": 1, "extra": 1}, "score": 0.4,
            "severity": "critical", "drift_since": "2026-11-28T11:00:00Z", "resources": list(resources),
            "errors": list(errors), "warnings": [], **extra}


MODIFIED = {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "namespace": "default", "name": "vpc-1",
            "state": "modified", "severity": "high", "source": "vpcs/vpc-1.yaml#1",
            "changes": [{"op": "replace", "path": "/spec/subnets/default/vlan", "desired": 1001, "actual": 1002}]}
EXTRA = {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "namespace": "default", "name": "rogue",
         "state": "extra", "severity": "critical", "changes": []}
MISSING = {"apiVersion": "wiring.githedgehog.com/v1beta1", "kind": "Switch", "namespace": "default",
           "name": "leaf-9", "state": "missing", "severity": "critical", "source": "wiring/switches.yaml#3",
           "changes": []}


@pytest.mark.parametrize("url, path, expected", [
    ("https://github.com/netops/fabrics.git", "fab/vpcs/a.yaml",
     f"https://github.com/netops/fabrics/blob/{COMMIT}/fab/vpcs/a.yaml"),
    ("https://gitlab.example.com/netops/fabrics", "vpcs/a b.yaml",
     f"https://gitlab.example.com/netops/fabrics/-/blob/{COMMIT}/vpcs/a%20b.yaml"),
    ("https://git.example.com/netops/fabrics.git", "vpcs/a.yaml", None),  # unknown host: no guessed link
    ("git@github.com:netops/fabrics.git", "vpcs/a.yaml", None),
    ("file:///srv/git/fab", "vpcs/a.yaml", None),
    (None, "vpcs/a.yaml", None),
])
def test_git_file_links_only_where_the_host_is_known(url, path, expected):
    assert git_file_url(url, COMMIT, path) == expected


def test_each_resource_points_at_its_file_in_git():
    links = SourceLinks(git_url="https://github.com/netops/fabrics.git", git_path="fabrics/fab-x")
    assert desired_location(MODIFIED, COMMIT, links) == (
        f"[`vpcs/vpc-1.yaml#1`](https://github.com/netops/fabrics/blob/{COMMIT}/fabrics/fab-x/vpcs/vpc-1.yaml)")
    assert desired_location(MODIFIED, COMMIT, None) == "`vpcs/vpc-1.yaml#1`"
    assert desired_location(EXTRA, COMMIT, links) == "—"  # only the cluster has it


def test_the_headline_says_the_status_and_the_worst_drift_comes_first():
    md = report_markdown(report(resources=[MODIFIED, EXTRA, MISSING]),
                         links=SourceLinks(kube_context="fab-x-admin"))
    lines = md.splitlines()
    assert lines[0] == "### ⚠ drifted · fab-x: 3 resources differ from Git"
    assert "severity ****critical****" not in lines[2] and "**critical**" in lines[2]
    assert "drifted since 2026-11-28T11:00:00Z" in lines[2]
    assert md.index("Switch `leaf-9`") < md.index("VPC `rogue`") < md.index("VPC `vpc-1`")
    assert f"Git `{COMMIT[:12]}` on `main`: *fab-x: move VLANs* by Ada" in md
    assert "`kubectl --context fab-x-admin get <kind>/<name>`" in md
    assert "| VPC `rogue` (extra) | in the cluster, not in Git | — |" in md
    assert "replace `/spec/subnets/default/vlan`: 1001 → 1002" in md


def test_an_unknown_report_lists_what_to_fix_before_what_it_found():
    error = {"source": "vpcs/broken.yaml", "level": "error", "message": "YAML syntax error at line 7"}
    md = report_markdown(report(status="unknown", resources=[MODIFIED], errors=[error]))
    assert md.startswith("### ⊘ unknown · fab-x: could not check everything")
    assert md.index("YAML syntax error") < md.index("VPC `vpc-1`")


def test_text_from_git_cannot_inject_markdown():
    md = report_markdown(report(message="fix | <img src=x onerror=alert(1)> [click](http://evil) **now**"))
    line = next(x for x in md.splitlines() if x.startswith("**Desired**"))
    unescaped = re.findall(r"(?<!\\)[<>|\[\]]", line.split(": ", 1)[1])
    assert unescaped == [], line  # no tag, link or table cell can start inside the message
    assert "\\<img" in line and "\\[click\\]" in line


def test_one_drifted_resource_reads_as_one():
    md = report_markdown(report(resources=[MODIFIED], summary={"in_sync": 9, "modified": 1, "missing": 0, "extra": 0}))
    assert md.splitlines()[0] == "### ⚠ drifted · fab-x: 1 resource differs from Git"


def test_in_sync_says_so_in_one_line():
    md = report_markdown(report(status="in_sync", severity="none", drift_since=None,
                                summary={"in_sync": 10, "modified": 0, "missing": 0, "extra": 0}))
    assert md.splitlines()[0] == "### ✔ in sync · fab-x: 10 resources match Git"
    assert "| severity |" not in md  # no drift table


def test_the_fleet_glance_counts_states_and_lists_trouble_first():
    rows = [{"fabric": "fab-a", "status": "in_sync", "severity": "none", "health": 0.98, "priority": "medium"},
            {"fabric": "fab-b", "status": "drifted", "severity": "critical", "health": 0.7, "priority": "high",
             "drift_since": "2026-11-28T11:00:00Z"},
            {"fabric": "fab-c", "status": "unknown", "severity": "none", "health": 0.4, "priority": "low",
             "isolated": True, "fresh": False}]
    md = fleet_markdown(rows)
    assert md.splitlines()[0] == "### Fleet: 3 fabrics · 1 drifted, 1 unknown, 1 in sync"
    assert "isolated: `fab-c`" in md and "report older than 3 cycles: `fab-c`" in md
    body = md[md.index("| fabric |"):]
    assert body.index("fab-c") < body.index("fab-b") < body.index("fab-a")
