"""A drift report as text a person reads in five seconds: markdown for the UI, a table for terminals."""

from __future__ import annotations

import json
from typing import Any

from hedgehog_sync.domain.diff import SEVERITY_RANK

STATUS_BADGE = {"in_sync": "✅ in sync", "drifted": "⚠️ drifted", "unknown": "❓ unknown"}


def _value(v: Any, width: int = 40) -> str:
    text = json.dumps(v, sort_keys=True, default=str) if not isinstance(v, str) else v
    text = text.replace("|", "\\|").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def worst_first(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(resources, key=lambda r: (-SEVERITY_RANK.get(r["severity"], 0), r["kind"], r["name"]))


def change_lines(resource: dict[str, Any], limit: int = 3) -> list[str]:
    if resource["state"] != "modified":
        return ["in Git, not in the cluster" if resource["state"] == "missing"
                else "in the cluster, not in Git"]
    lines = []
    for c in resource["changes"][:limit]:
        lines.append(f"{c['op']} `{c['path']}`: {_value(c.get('desired'))} → {_value(c.get('actual'))}")
    if len(resource["changes"]) > limit:
        lines.append(f"… and {len(resource['changes']) - limit} more")
    return lines


def report_markdown(report: dict[str, Any], max_rows: int = 20) -> str:
    """Status line, where both sides stand, counts, then the worst drifted resources first."""
    git, cluster, summary = report["git"], report["cluster"], report["summary"]
    out = [f"### {report['fabric']}: {STATUS_BADGE.get(report['status'], report['status'])}",
           f"severity **{report['severity']}** · score **{report['score']}**"
           + (f" · drifted since {report['drift_since']}" if report.get("drift_since") else ""),
           ""]
    commit = (git.get("commit") or "")[:12] or "unread"
    desc = f"Git `{commit}` on `{git.get('ref')}`"
    if git.get("message"):
        desc += f" — {_value(git['message'], 80)}"
        if git.get("author"):
            desc += f" ({_value(git['author'], 40)})"
    out.append(desc + f" · {git.get('resources')} resources")
    out.append(f"Cluster `{cluster.get('server') or 'unread'}` · {cluster.get('resources')} resources")
    out.append("")
    out.append("| in sync | modified | missing | extra |")
    out.append("|---|---|---|---|")
    out.append(f"| {summary['in_sync']} | {summary['modified']} | {summary['missing']} | {summary['extra']} |")
    if report["resources"]:
        out += ["", "| severity | resource | state | what differs (desired → live) |", "|---|---|---|---|"]
        ordered = worst_first(report["resources"])
        for r in ordered[:max_rows]:
            out.append(f"| {r['severity']} | {r['kind']} `{r['name']}` | {r['state']} | "
                       + "<br>".join(change_lines(r)) + " |")
        if len(ordered) > max_rows:
            out.append(f"\n… {len(ordered) - max_rows} more drifted resources in the report JSON.")
    problems = report.get("errors", []) + report.get("warnings", [])
    if problems:
        out += ["", "| level | where | problem |", "|---|---|---|"]
        for e in problems[:max_rows]:
            where = e["source"] + (f" (document {e['document']})" if e.get("document") else "")
            out.append(f"| {e['level']} | `{_value(where, 60)}` | {_value(e['message'], 160)} |")
    return "\n".join(out)


def report_table(report: dict[str, Any]) -> str:
    """Plain-text table for terminals and CI logs, like `kubectl diff` but per resource."""
    s = report["summary"]
    lines = [f"fabric {report['fabric']}: {report['status']} (severity {report['severity']}, "
             f"score {report['score']})",
             f"  git {str(report['git'].get('commit') or 'unread')[:12]} ({report['git'].get('ref')}), "
             f"cluster {report['cluster'].get('server') or 'unread'}",
             f"  in_sync {s['in_sync']}  modified {s['modified']}  missing {s['missing']}  extra {s['extra']}"]
    rows = [("SEVERITY", "STATE", "KIND", "NAME", "CHANGE")]
    for r in worst_first(report["resources"]):
        for i, line in enumerate(change_lines(r, limit=50)):
            rows.append((r["severity"], r["state"], r["kind"], r["name"], line) if i == 0
                        else ("", "", "", "", line))
    if len(rows) > 1:
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines.append("")
        for row in rows:
            lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(row[:4])) + "  " + row[4])
    for e in report.get("errors", []):
        lines.append(f"error: {e['source']}: {e['message']}")
    for e in report.get("warnings", []):
        lines.append(f"warning: {e['source']}: {e['message']}")
    return "\n".join(lines)
