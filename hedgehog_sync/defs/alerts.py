"""Where isolation and escalation alerts go: the run's log always, a webhook when one is configured."""

import json
import os
import urllib.error
import urllib.request
from typing import Any

from dagster import ConfigurableResource
from pydantic import Field

from hedgehog_sync.domain.redaction import redact
from hedgehog_sync.domain.recovery import Alert


class AlertSink(ConfigurableResource):
    """Log alerts, and POST them as JSON to a webhook whose URL is read from an env var at send time
    (webhook URLs often embed a secret, so the URL itself never sits in resource config)."""

    webhook_url_env: str = Field(default="HEDGEHOG_SYNC_ALERT_WEBHOOK",
                                 description="Env var holding the webhook URL; unset = log only")
    timeout_seconds: float = 5.0

    def send(self, alert: Alert, log: Any) -> None:
        line = f"ALERT {alert.kind} [{alert.severity}] {alert.message}"
        (log.error if alert.severity == "error" else log.warning)(line)
        url = os.environ.get(self.webhook_url_env)
        if not url:
            return
        body = json.dumps({"source": "hedgehog-sync", **alert.to_dict()}).encode()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_seconds) as resp:
                resp.read()
        except (urllib.error.URLError, OSError, ValueError) as exc:
            # An alerting outage must not fail the sync; say so without echoing the URL's secret.
            log.warning(f"alert webhook failed ({type(exc).__name__}): {redact(str(exc))[:200]}")
