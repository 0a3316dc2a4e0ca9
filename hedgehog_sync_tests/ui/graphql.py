"""A small client for the Dagster webserver's GraphQL API (the one the UI itself uses)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

LOCATION, REPOSITORY = "hedgehog_sync", "__repository__"
SCHEDULE = "fleet_sync_every_minute"
SCHEDULE_SELECTOR = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "scheduleName": SCHEDULE}

ASSET_NODES = """
{ assetNodes { assetKey { path } groupName kinds isPartitioned description partitionKeys
    dependencyKeys { path } dependedByKeys { path }
    partitionDefinition { name type }
    owners { ... on TeamAssetOwner { team } ... on UserAssetOwner { email } } } }
"""

SCHEDULE_STATE = """
query ($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule { id name cronSchedule scheduleState { id selectorId status } }
    ... on PythonError { message } } }
"""

START_SCHEDULE = """
mutation ($selector: ScheduleSelector!) {
  startSchedule(scheduleSelector: $selector) {
    __typename ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }
"""

RESET_SCHEDULE = """
mutation ($selector: ScheduleSelector!) {
  resetSchedule(scheduleSelector: $selector) {
    __typename ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }
"""

STOP_SCHEDULE = """
mutation ($id: String!) {
  stopRunningSchedule(id: $id) {
    __typename ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }
"""

MATERIALIZATIONS = """
query ($path: [String!]!, $partitions: [String!], $limit: Int) {
  assetOrError(assetKey: {path: $path}) {
    ... on Asset { assetMaterializations(partitions: $partitions, limit: $limit) {
      partition runId timestamp tags { key value }
      metadataEntries { label __typename
        ... on TextMetadataEntry { text } ... on IntMetadataEntry { intValue }
        ... on FloatMetadataEntry { floatValue } ... on BoolMetadataEntry { boolValue }
        ... on JsonMetadataEntry { jsonString } ... on MarkdownMetadataEntry { mdStr }
        ... on TableMetadataEntry { table { records schema { columns { name type } } } } } } } } }
"""

CHECK_EXECUTIONS = """
query ($check: String!, $partition: String, $limit: Int!) {
  assetCheckExecutions(assetKey: {path: ["drift_report"]}, checkName: $check, partition: $partition, limit: $limit) {
    status partition runId evaluation { description severity metadataEntries { label
      ... on MarkdownMetadataEntry { mdStr } ... on TextMetadataEntry { text } } } } }
"""

RUNS = """
query ($filter: RunsFilter, $limit: Int) {
  runsOrError(filter: $filter, limit: $limit) { __typename
    ... on Runs { results { runId jobName status creationTime tags { key value } } }
    ... on PythonError { message } } }
"""

BACKFILLS = """
query ($limit: Int) {
  partitionBackfillsOrError(limit: $limit) { __typename
    ... on PartitionBackfills { results { id status timestamp numPartitions partitionNames } } } }
"""


CHECK_PARTITION_STATUSES = """
{ assetNodes(assetKeys: [{path: ["drift_report"]}]) { assetChecksOrError { ... on AssetChecks { checks { name
    partitionDefinition { name }
    partitionStatuses { ... on AssetCheckDefaultPartitionStatuses {
      succeededPartitions failedPartitions inProgressPartitions skippedPartitions executionFailedPartitions } } } } } } }
"""


class GraphQLError(AssertionError):
    pass


class DagsterGraphQL:
    def __init__(self, base_url: str):
        self.url = f"{base_url}/graphql"

    def __call__(self, query: str, **variables: Any) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as resp:
            answer = json.loads(resp.read())
        if answer.get("errors"):
            raise GraphQLError(json.dumps(answer["errors"])[:2000])
        return answer["data"]

    def schedule_state(self) -> dict[str, Any]:
        found = self(SCHEDULE_STATE, selector=SCHEDULE_SELECTOR)["scheduleOrError"]
        assert found["__typename"] == "Schedule", found
        return found["scheduleState"]

    def materializations(self, asset: str, partition: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """Newest first, each with its metadata as {label: plain value}."""
        found = self(MATERIALIZATIONS, path=[asset], partitions=[partition] if partition else None, limit=limit)
        events = (found["assetOrError"] or {}).get("assetMaterializations") or []
        return [{**e, "metadata": {m["label"]: metadata_value(m) for m in e["metadataEntries"]}} for e in events]

    def check_executions(self, check: str, partition: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        return self(CHECK_EXECUTIONS, check=check, partition=partition, limit=limit)["assetCheckExecutions"]

    def runs(self, limit: int = 50, **run_filter: Any) -> list[dict[str, Any]]:
        """Newest first, each with its tags as a dict."""
        found = self(RUNS, filter=run_filter or None, limit=limit)["runsOrError"]
        assert found["__typename"] == "Runs", found
        return [{**r, "tags": {t["key"]: t["value"] for t in r["tags"]}} for r in found["results"]]

    def backfills(self, limit: int = 10) -> list[dict[str, Any]]:
        return self(BACKFILLS, limit=limit)["partitionBackfillsOrError"]["results"]


def partition_statuses(client: DagsterGraphQL) -> dict[str, dict[str, Any]]:
    """Per check on drift_report: its partitions definition and the fabrics in each status, as the UI shows them."""
    (node,) = client(CHECK_PARTITION_STATUSES)["assetNodes"]
    return {c["name"]: {"partitions": (c["partitionDefinition"] or {}).get("name"), **(c["partitionStatuses"] or {})}
            for c in node["assetChecksOrError"]["checks"]}


def metadata_value(entry: dict[str, Any]) -> Any:
    kind = entry["__typename"]
    if kind == "JsonMetadataEntry":
        return json.loads(entry["jsonString"])
    if kind == "TableMetadataEntry":
        return {"columns": entry["table"]["schema"]["columns"],
                "records": [json.loads(r) for r in entry["table"]["records"]]}
    for field in ("text", "intValue", "floatValue", "boolValue", "mdStr"):
        if field in entry:
            return entry[field]
    return entry
