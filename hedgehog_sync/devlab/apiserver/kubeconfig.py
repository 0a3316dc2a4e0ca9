"""Kubeconfigs for devlab fabrics, and minimal Hedgehog objects."""

from __future__ import annotations

import base64
import copy
import os
from collections.abc import Mapping
from pathlib import Path

import yaml

from hedgehog_sync.domain.kinds import KINDS
from hedgehog_sync.domain.model import Obj

from hedgehog_sync.devlab.apiserver.constants import NAMESPACE
from hedgehog_sync.devlab.apiserver.tls import IssuedCertificate


def write_kubeconfig(
    path: str | os.PathLike[str],
    server_url: str,
    token: str,
    context_name: str,
    namespace: str = NAMESPACE,
    *,
    ca_pem: bytes | None = None,
    client_certificate: IssuedCertificate | None = None,
) -> Path:
    """Write a kubeconfig (mode 0600) with one context whose user authenticates with a bearer token.

    `ca_pem` is the CA an https:// server's certificate is checked against (`certificate-authority-data`);
    `client_certificate`, if given, is presented too (`client-certificate-data`, `client-key-data`).
    """
    cluster: Obj = {"server": server_url}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode("ascii")
    user: Obj = {"token": token}
    if client_certificate is not None:
        user["client-certificate-data"] = base64.b64encode(client_certificate.cert_pem).decode("ascii")
        user["client-key-data"] = base64.b64encode(client_certificate.key_pem).decode("ascii")
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context_name, "cluster": cluster}],
        "users": [{"name": f"{context_name}-user", "user": user}],
        "contexts": [
            {
                "name": context_name,
                "context": {"cluster": context_name, "user": f"{context_name}-user", "namespace": namespace},
            }
        ],
        "current-context": context_name,
        "preferences": {},
    }
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        yaml.safe_dump(config, out, sort_keys=False)
    os.chmod(target, 0o600)  # an existing file keeps its old mode through O_CREAT
    return target


def new_object(
    kind: str,
    name: str,
    spec: Obj | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    namespace: str = NAMESPACE,
) -> Obj:
    """A minimal Hedgehog object of a known kind, e.g. new_object("VPC", "vpc-1", {...})."""
    known = next((k for k in KINDS if k.kind == kind), None)
    if known is None:
        raise ValueError(f"{kind!r} is not a Hedgehog kind")
    metadata: Obj = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    if annotations:
        metadata["annotations"] = dict(annotations)
    return {
        "apiVersion": known.api_version,
        "kind": kind,
        "metadata": metadata,
        "spec": copy.deepcopy(spec or {}),
    }
