"""The one way text leaves the process: every credential the process holds, and every URL's
credentials, taken out first.

Connectors register each secret the moment they read it (a Git token from its env var, a
Kubernetes bearer token from a kubeconfig or token file); `redact` then removes it in every shape it
could take on the way out: plain, URL-encoded, and base64 at any alignment (HTTP Basic auth, a
Kubernetes Secret), and removes user:password@ and query strings from URLs. Logs, exception text,
Dagster metadata, reports, state and anything git writes go through here.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

MASK = "***"
# Shorter values would mask ordinary words; a real credential is longer than this.
MIN_SECRET_LENGTH = 6
# Env vars whose values are credentials by name (the instance's database password, a webhook token).
_SECRET_ENV_NAME = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|API_?KEY|PRIVATE_KEY|WEBHOOK", re.I)
_URL = re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<rest>[^\s'\"<>`]+)", re.IGNORECASE)

_lock = threading.Lock()
_secrets: set[str] = set()
_forms: list[str] = []  # every shape of every registered secret, longest first


def normalize_secret(value: str) -> str:
    """A credential as the official tools use it: surrounding whitespace (a YAML block's or `echo`'s
    trailing newline) trimmed, as kubectl, client-go and git do."""
    return value.strip()


def _base64_fragments(raw: bytes) -> set[str]:
    """What any base64 text containing `raw` contains, whatever the alignment."""
    out = set()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + raw).decode()
            first, last = -(-offset // 3), (offset + len(raw)) // 3
            fragment = encoded[first * 4:last * 4]
            if len(fragment) >= 8:
                out.add(fragment)
    return out


def _shapes(secret: str) -> set[str]:
    raw = secret.encode()
    shapes = {secret, quote(secret, safe=""), quote_plus(secret)}
    shapes |= {base64.b64encode(raw).decode().rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")}
    shapes |= _base64_fragments(raw)
    return {s for s in shapes if len(s) >= MIN_SECRET_LENGTH}


def register_secret(value: str | None) -> str | None:
    """Remember a credential so no output carries it; returns it normalized (None stays None)."""
    if value is None:
        return None
    secret = normalize_secret(value)
    if len(secret) < MIN_SECRET_LENGTH:
        return secret
    with _lock:
        if secret not in _secrets:
            _secrets.add(secret)
            forms = set(_forms) | _shapes(secret)
            _forms[:] = sorted(forms, key=len, reverse=True)
    return secret


def register_secret_env() -> None:
    """Register the values of env vars named like credentials (…TOKEN, …PASSWORD, …SECRET)."""
    for name, value in os.environ.items():
        if _SECRET_ENV_NAME.search(name) and value:
            register_secret(value)


def safe_url(url: str) -> str:
    """One URL as it may be shown: no user:password@, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return "<unparseable URL>"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _url_without_credentials(match: re.Match[str]) -> str:
    rest = match.group("rest")
    authority, slash, tail = rest.partition("/")
    if "@" in authority:
        authority = f"{MASK}@{authority.rsplit('@', 1)[1]}"
    if "?" in tail or ("?" in authority and not slash):
        if slash:
            tail = tail.split("?", 1)[0] + f"?{MASK}"
        else:
            authority = authority.split("?", 1)[0] + f"?{MASK}"
    return f"{match.group('scheme')}{authority}{slash}{tail}"


def redact(text: str) -> str:
    """`text` with every registered secret (in any shape) and every URL's credentials masked."""
    if not text:
        return text
    text = _URL.sub(_url_without_credentials, text)
    with _lock:
        forms = list(_forms)
    for form in forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


register_secret_env()
