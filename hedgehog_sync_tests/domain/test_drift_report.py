"""DriftReport has one JSON form: reading a report and writing it back gives the same JSON, for
reports the real builder makes from generated drift and for reports drawn directly (every optional
key present or absent, keys a newer version may add)."""

from __future__ import annotations

import copy
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hedgehog_sync.domain.drift_report import ABSENT, DriftReport, ReportFormatError, ResourceEntry
from hedgehog_sync.domain.model import DesiredState, Finding, LiveState
from hedgehog_sync.domain.report import ReadFailure, ReportBounds, build_drift_report, build_report, report_json
from hedgehog_sync.domain.vocabulary import FABRIC_STATUSES, SEVERITIES, STATES
from hedgehog_sync_tests.domain.test_properties import _json, arbitrary_objects, realistic_objects

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=timezone.utc)


def round_trips(report: dict[str, Any]) -> None:
    again = DriftReport.from_json(report).to_json()
    assert again == report
    assert report_json(again) == report_json(report)  # the text too: same keys in the same order
    assert json.dumps(again) == json.dumps(report)


# --- reports the builder makes from generated drift -----------------------------------------------------

_small_bounds = st.builds(ReportBounds, value_bytes=st.sampled_from([16, 64, 4096]),
                          preview_chars=st.sampled_from([4, 256]),
                          changes_per_resource=st.sampled_from([1, 2, 50]), resources=st.sampled_from([1, 3, 500]),
                          resources_bytes=st.sampled_from([300, 2000, 512 * 1024]), findings=st.sampled_from([1, 100]),
                          text_chars=st.sampled_from([5, 1000]), name_chars=st.sampled_from([3, 300]))
_finding = st.builds(Finding, source=st.sampled_from(["vpcs.yaml", "cluster:vpcs", "a" * 40]),
                     message=st.text(max_size=20), level=st.sampled_from(["error", "warning"]),
                     document=st.one_of(st.none(), st.integers(1, 9)))


def _named(obj: dict[str, Any], name: str) -> dict[str, Any]:
    obj = copy.deepcopy(obj)
    obj.setdefault("metadata", {})["name"] = name
    return obj


@st.composite
def fabric_sides(draw) -> tuple[DesiredState | None, LiveState | None]:
    objects = [_named(draw(st.one_of(realistic_objects(), arbitrary_objects())), f"r{i}")
               for i in range(draw(st.integers(0, 5)))]
    live_objects = []
    for obj in objects:
        fate = draw(st.sampled_from(["same", "changed", "gone"]))
        if fate == "same":
            live_objects.append(copy.deepcopy(obj))
        elif fate == "changed":
            changed = copy.deepcopy(obj)
            changed["spec"] = draw(_json)
            changed["metadata"]["labels"] = {"team": draw(st.text(max_size=3))}
            live_objects.append(changed)
    live_objects += [_named(draw(arbitrary_objects()), f"x{i}") for i in range(draw(st.integers(0, 2)))]
    desired = DesiredState(commit="9f1c" * 10, ref="main", objects=objects,
                           sources=[(f"dir/{i}.yaml", 1) for i in range(len(objects))],
                           findings=draw(st.lists(_finding, max_size=3)),
                           commit_message=draw(st.text(max_size=12)), commit_author=draw(st.text(max_size=8)))
    live = LiveState(server=draw(st.sampled_from(["https://fab.example:6443", "https://u:p@fab.example/?q#f"])),
                     objects=live_objects, findings=draw(st.lists(_finding, max_size=2)),
                     complete=draw(st.booleans()))
    return (desired if draw(st.integers(0, 5)) else None), (live if draw(st.integers(0, 5)) else None)


@SETTINGS
@given(first=fabric_sides(), second=fabric_sides(), bounds=st.one_of(st.just(ReportBounds()), _small_bounds),
       git_failure=st.booleans(), url=st.sampled_from([None, "https://tok@git.example/x.git?a#b"]))
def test_a_built_report_reads_back_to_the_same_json(first, second, bounds, git_failure, url) -> None:
    previous = build_report("fab-p", *first, now=NOW - timedelta(minutes=5), ref="main", bounds=bounds)
    round_trips(previous)
    typed = build_drift_report("fab-p", *second, now=NOW, ref="main", previous=previous, bounds=bounds,
                               git_failure=ReadFailure("refused", "GitAuthError") if git_failure else None,
                               git_url=url)
    report = build_report("fab-p", *second, now=NOW, ref="main", previous=previous, bounds=bounds,
                          git_failure=ReadFailure("refused", "GitAuthError") if git_failure else None, git_url=url)
    assert typed.to_json() == report  # the dict builder is the typed one, written out
    round_trips(report)
    # A previous report given typed or as JSON makes the same report.
    assert build_report("fab-p", *second, now=NOW, ref="main", previous=DriftReport.from_json(previous),
                        bounds=bounds, git_url=url) == build_report("fab-p", *second, now=NOW, ref="main",
                                                                     previous=previous, bounds=bounds, git_url=url)


# --- reports drawn directly --------------------------------------------------------------------------

_text = st.text(max_size=8)
_maybe_text = st.one_of(st.none(), _text)
_new_keys = st.dictionaries(st.sampled_from(["zz_new", "annotations", "x-later"]), _json, max_size=2)


def _with(out: dict[str, Any], draw, optional: dict[str, Any]) -> dict[str, Any]:
    """out plus each optional key (in the given order) present or not, then keys of a newer version."""
    for key, strategy in optional.items():
        if draw(st.booleans()):
            out[key] = draw(strategy)
    for key, value in draw(_new_keys).items():
        out.setdefault(key, value)
    return out


@st.composite
def digests(draw) -> dict[str, Any]:
    return _with({"bytes": draw(st.integers(0, 10 ** 7)), "sha256": draw(st.text("0123456789abcdef", max_size=64))},
                 draw, {})


@st.composite
def changes(draw) -> dict[str, Any]:
    out: dict[str, Any] = {"op": draw(st.sampled_from(["replace", "add", "remove"])), "path": draw(_text)}
    for side in ("desired", "actual"):
        if draw(st.booleans()):
            out[side] = draw(_json)
    out["severity"] = draw(st.sampled_from(SEVERITIES))
    return _with(out, draw, {"desired_truncated": digests(), "actual_truncated": digests()})


@st.composite
def resources(draw) -> dict[str, Any]:
    out = {"apiVersion": draw(st.sampled_from(["vpc.githedgehog.com/v1beta1", "v1", ""])), "kind": draw(_text),
           "namespace": "default", "name": draw(_text), "state": draw(st.sampled_from(STATES)),
           "severity": draw(st.sampled_from(SEVERITIES)), "changes": draw(st.lists(changes(), max_size=3))}
    return _with(out, draw, {"source": _maybe_text, "drift_since": _maybe_text, "changes_omitted": st.integers(0, 99)})


@st.composite
def findings(draw) -> dict[str, Any]:
    out = {"source": draw(_text), "level": draw(st.sampled_from(["error", "warning"])), "message": draw(_text)}
    return _with(out, draw, {"document": st.integers(1, 99), "error_class": _text})


@st.composite
def unchecked(draw) -> dict[str, Any]:
    return _with({key: draw(_maybe_text) for key in ("apiVersion", "kind", "namespace", "name", "state",
                                                      "drift_since")}, draw, {})


@st.composite
def reports(draw) -> dict[str, Any]:
    count = st.one_of(st.none(), st.integers(0, 10 ** 6))
    out: dict[str, Any] = {
        "fabric": draw(_text), "status": draw(st.sampled_from(FABRIC_STATUSES)), "generated_at": draw(_text),
        "git": _with({"commit": draw(_maybe_text), "ref": draw(_maybe_text), "resources": draw(count)}, draw,
                     {"message": _maybe_text, "author": _maybe_text, "url": _maybe_text}),
        "cluster": _with({"resources": draw(count), "server": draw(_maybe_text)}, draw, {}),
        "summary": _with({state: draw(st.integers(0, 10 ** 6)) for state in STATES}, draw, {}),
        "score": draw(st.floats(0, 1)), "severity": draw(st.sampled_from(SEVERITIES)),
        "drift_since": draw(_maybe_text), "resources": draw(st.lists(resources(), max_size=3)),
        "errors": draw(st.lists(findings(), max_size=3)),
    }
    return _with(out, draw, {"warnings": st.lists(findings(), max_size=2), "resources_omitted": st.integers(0, 9),
                             "errors_omitted": st.integers(0, 9), "warnings_omitted": st.integers(0, 9),
                             "unchecked_drift": st.lists(unchecked(), max_size=2)})


@SETTINGS
@given(report=reports())
def test_a_drawn_report_reads_back_to_the_same_json(report: dict[str, Any]) -> None:
    round_trips(report)


# --- examples -------------------------------------------------------------------------------------------

OLD_REPORT = {  # as an earlier version wrote it: no git url, no resource source, no bounds keys
    "fabric": "fab-west", "status": "drifted", "generated_at": "2026-11-28T12:00:00Z",
    "git": {"commit": "9f1c", "ref": "main", "resources": 2, "message": "m", "author": "a"},
    "cluster": {"resources": 2, "server": "https://fab.example:6443"},
    "summary": {"in_sync": 1, "modified": 1, "missing": 0, "extra": 0},
    "score": 0.07, "severity": "high", "drift_since": "2026-11-28T11:42:00Z",
    "resources": [{"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "namespace": "default",
                   "name": "vpc-1", "state": "modified", "severity": "high",
                   "changes": [{"op": "replace", "path": "/spec/subnets/default/vlan", "desired": 1001,
                                "actual": 1002, "severity": "high"}], "drift_since": "2026-11-28T11:42:00Z"}],
    "errors": [], "warnings": [],
}


def test_a_report_of_an_earlier_version_keeps_its_absent_keys_absent() -> None:
    typed = DriftReport.from_json(OLD_REPORT)
    assert typed.git.url is ABSENT and typed.resources[0].source is ABSENT
    assert typed.differ == 1 and typed.is_drifted and not typed.critical_resources
    round_trips(OLD_REPORT)


def test_keys_of_a_newer_version_are_kept_after_the_known_ones() -> None:
    newer = {**copy.deepcopy(OLD_REPORT), "zz_new": {"a": [1]}}
    newer["git"]["signed"] = True
    again = DriftReport.from_json(newer).to_json()
    assert again == newer and list(again)[-1] == "zz_new" and again["git"]["signed"] is True


def test_the_json_shares_nothing_with_the_value() -> None:
    data = copy.deepcopy(OLD_REPORT)
    typed = DriftReport.from_json(data)
    data["resources"][0]["changes"][0]["desired"] = 7  # the source dict changes later
    written = typed.to_json()
    assert written["resources"][0]["changes"][0]["desired"] == 1001
    written["git"]["commit"] = "changed"
    assert typed.to_json()["git"]["commit"] == "9f1c"


@pytest.mark.parametrize("broken, says", [
    ([], "report must be an object"),
    ({k: v for k, v in OLD_REPORT.items() if k != "summary"}, "report lacks 'summary'"),
    ({**OLD_REPORT, "resources": {}}, "resources must be a list"),
    ({**OLD_REPORT, "resources": [{"kind": "VPC"}]}, "resources[0] lacks 'apiVersion'"),
])
def test_what_is_not_a_report_is_refused_by_name(broken, says) -> None:
    with pytest.raises(ReportFormatError, match=says.replace("[", r"\[").replace("]", r"\]")):
        DriftReport.from_json(broken)


def test_a_resource_entry_alone_round_trips() -> None:
    entry = OLD_REPORT["resources"][0]
    assert ResourceEntry.from_json(entry).to_json() == entry


def test_readers_take_the_typed_report_as_they_take_its_json() -> None:
    from hedgehog_sync.domain.check_outcomes import critical_drift_outcome, in_sync_outcome, unknown_cause
    from hedgehog_sync.domain.fleet_rows import fleet_row
    from hedgehog_sync.domain.health_record import FabricHealthRecord
    from hedgehog_sync.domain.notify import changed_resources
    from hedgehog_sync.domain.priority import schedule_for
    from hedgehog_sync.domain.recovery import CycleResult
    from hedgehog_sync.domain.render import report_markdown, report_table

    vpc = {"apiVersion": "vpc.githedgehog.com/v1beta1", "kind": "VPC", "metadata": {"name": "vpc-1"},
           "spec": {"subnets": {"default": {"subnet": "10.0.1.0/24", "vlan": 1001}}}}
    live_vpc = copy.deepcopy(vpc)
    live_vpc["spec"]["subnets"]["default"]["vlan"] = 1002
    rogue = _named(vpc, "rogue")
    typed = build_drift_report("fab-x", DesiredState("9f1c" * 10, "main", [vpc], [("vpcs.yaml", 1)]),
                               LiveState("https://fab.example:6443", [live_vpc, rogue]), now=NOW, ref="main")
    data = typed.to_json()
    assert typed.is_drifted and typed.differ == 2 and [r.name for r in typed.critical_resources] == ["rogue"]
    for read in (report_markdown, report_table, in_sync_outcome, critical_drift_outcome, unknown_cause,
                 lambda r: changed_resources(r, 5), lambda r: CycleResult.from_report(r),
                 lambda r: fleet_row(r, FabricHealthRecord(), 1.0, schedule_for("high", 1.0, False))):
        assert read(typed) == read(data)
