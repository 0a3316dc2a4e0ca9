"""Kubernetes Status bodies and the API errors the devlab answers with."""

from __future__ import annotations

from http import HTTPStatus

from hedgehog_sync.domain.kinds import ResourceKind
from hedgehog_sync.domain.model import Obj

from hedgehog_sync.devlab.apiserver.constants import _STATUS_REASONS


def status_body(
    code: int, reason: str | None = None, message: str | None = None, details: Obj | None = None
) -> Obj:
    """A Kubernetes `Status` object, as the API server answers failures."""
    body: Obj = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message if message is not None else _phrase(code),
        "reason": reason if reason is not None else _STATUS_REASONS.get(code, ""),
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


def _phrase(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Error"


class ApiError(Exception):
    """A request the devlab API server refuses, with the Kubernetes Status it answers."""

    def __init__(self, code: int, reason: str, message: str, details: Obj | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> Obj:
        return status_body(self.code, self.reason, self.message, self.details)


def _accepted(*media_types: str) -> str:
    return "the body of the request was in an unknown format - accepted media types include: " + ", ".join(
        media_types
    )


def _resource_label(kind: ResourceKind) -> str:
    return f"{kind.plural}.{kind.group}"


def _details(kind: ResourceKind, name: str) -> Obj:
    return {"name": name, "group": kind.group, "kind": kind.plural}


def _not_found(kind: ResourceKind, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{_resource_label(kind)} "{name}" not found', _details(kind, name))


def _no_such_resource() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource")


def _invalid(kind: ResourceKind, name: str, problem: str) -> ApiError:
    return ApiError(
        422, "Invalid", f'{kind.kind}.{kind.group} "{name}" is invalid: {problem}', _details(kind, name)
    )


def _conflict(kind: ResourceKind, name: str) -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_resource_label(kind)} "{name}": the object has been modified; '
        "please apply your changes to the latest version and try again",
        _details(kind, name),
    )
