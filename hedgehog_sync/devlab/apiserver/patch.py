"""JSON merge patch (RFC 7386) and JSON patch (RFC 6902), as the API server applies them."""

from __future__ import annotations

import copy
from typing import Any

from hedgehog_sync.domain.model import Obj


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch: `null` deletes a key, objects merge, everything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(document: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch (add, remove, replace, move, copy, test); raises ValueError on a bad op."""
    if not isinstance(operations, list):
        raise ValueError("a JSON patch must be a list of operations")
    doc = copy.deepcopy(document)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise ValueError(f"invalid JSON patch operation {op!r}")
        kind, path = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _pointer_add(doc, path, copy.deepcopy(_operand(op)))
        elif kind == "remove":
            doc, _ = _pointer_remove(doc, path)
        elif kind == "replace":
            doc, _ = _pointer_remove(doc, path)
            doc = _pointer_add(doc, path, copy.deepcopy(_operand(op)))
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            if kind == "move":
                doc, value = _pointer_remove(doc, source)
            else:
                value = copy.deepcopy(_pointer_get(doc, source))
            doc = _pointer_add(doc, path, value)
        elif kind == "test":
            if _pointer_get(doc, path) != _operand(op):
                raise ValueError(f"test operation failed at {op['path']}")
        else:
            raise ValueError(f"unknown JSON patch operation {kind!r}")
    return doc


def _operand(op: Obj) -> Any:
    if "value" not in op:
        raise ValueError(f"operation {op['op']} at {op['path']} has no value")
    return op["value"]


def _pointer(text: Any) -> list[str]:
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise ValueError(f"invalid JSON pointer {text!r}")
    return [part.replace("~1", "/").replace("~0", "~") for part in text.split("/")[1:]]


def _index(container: list, token: str, for_add: bool) -> int:
    if for_add and token == "-":
        return len(container)
    if not token.isdigit():
        raise ValueError(f"invalid list index {token!r}")
    index = int(token)
    if index > len(container) or (not for_add and index == len(container)):
        raise ValueError(f"list index {index} out of range")
    return index


def _pointer_get(doc: Any, path: list[str]) -> Any:
    for token in path:
        if isinstance(doc, dict) and token in doc:
            doc = doc[token]
        elif isinstance(doc, list):
            doc = doc[_index(doc, token, for_add=False)]
        else:
            raise ValueError(f"path /{'/'.join(path)} does not exist")
    return doc


def _pointer_add(doc: Any, path: list[str], value: Any) -> Any:
    if not path:
        return value
    parent = _pointer_get(doc, path[:-1])
    if isinstance(parent, dict):
        parent[path[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, path[-1], for_add=True), value)
    else:
        raise ValueError(f"cannot add below a scalar at /{'/'.join(path)}")
    return doc


def _pointer_remove(doc: Any, path: list[str]) -> tuple[Any, Any]:
    if not path:
        return None, doc
    parent = _pointer_get(doc, path[:-1])
    if isinstance(parent, dict) and path[-1] in parent:
        return doc, parent.pop(path[-1])
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, path[-1], for_add=False))
    raise ValueError(f"path /{'/'.join(path)} does not exist")
