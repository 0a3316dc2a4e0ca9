"""Where each fabric's latest report, last good report and recorded data versions are kept."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from hedgehog_sync.domain.inventory import PARTITION_KEY
from hedgehog_sync.domain.recovery import FabricHealthRecord
from hedgehog_sync.domain.report import UNKNOWN


class ReportStore:
    """One folder per fabric; every write is atomic (temp file + rename), so a crash loses nothing."""

    def __init__(self, root: str | os.PathLike[str]):
        self.root = Path(root)

    def _dir(self, fabric: str) -> Path:
        if not PARTITION_KEY.match(fabric):  # never build a path from an unchecked key
            raise ValueError(f"invalid fabric name {fabric!r}")
        return self.root / fabric

    def _read(self, fabric: str, name: str) -> Any | None:
        try:
            return json.loads((self._dir(fabric) / name).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def _write(self, fabric: str, name: str, value: Any) -> None:
        d = self._dir(fabric)
        d.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=d, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(value, f, sort_keys=False, separators=(",", ":"), default=str)
            os.replace(tmp, d / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def latest_report(self, fabric: str) -> dict[str, Any] | None:
        return self._read(fabric, "report.json")

    def last_good_report(self, fabric: str) -> dict[str, Any] | None:
        """The newest report whose status was not unknown: what an outage must never erase."""
        return self._read(fabric, "report.good.json")

    def save_report(self, fabric: str, report: dict[str, Any]) -> None:
        self._write(fabric, "report.json", report)
        if report.get("status") != UNKNOWN:
            self._write(fabric, "report.good.json", report)

    def versions(self, fabric: str) -> dict[str, str]:
        return self._read(fabric, "versions.json") or {}

    def save_versions(self, fabric: str, versions: dict[str, str]) -> None:
        self._write(fabric, "versions.json", versions)

    def parsed_files(self, fabric: str) -> Any | None:
        """What the last read of the fabric's Git parsed, by file (see cycle.PersistentParses)."""
        return self._read(fabric, "parsed.json")

    def save_parsed_files(self, fabric: str, doc: Any) -> None:
        self._write(fabric, "parsed.json", doc)

    def health(self, fabric: str) -> FabricHealthRecord:
        data = self._read(fabric, "health.json")
        return FabricHealthRecord.from_dict(data) if data else FabricHealthRecord()

    def save_health(self, fabric: str, record: FabricHealthRecord) -> None:
        self._write(fabric, "health.json", record.to_dict())

    def fabrics(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and PARTITION_KEY.match(p.name))


class MetricsStore:
    """The fleet's scheduler metrics in one JSON file; concurrent runs update it under a lock."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def load(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def update(self, change: Callable[[dict[str, Any] | None], dict[str, Any]]) -> dict[str, Any]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            new = change(self.load())
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".metrics.")
            with os.fdopen(fd, "w") as f:
                json.dump(new, f)
            os.replace(tmp, self.path)
            return new

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)
