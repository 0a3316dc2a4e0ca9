"""Label and field selectors, as the API server reads them."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from hedgehog_sync.domain.model import Obj


def label_selector(expression: str) -> Callable[[Mapping[str, str]], bool]:
    """A predicate for an equality-based label selector (`a=b,c!=d,e,!f`); set-based ones are refused."""
    if "(" in expression:
        raise ValueError("set-based label selectors are not supported by the devlab API server")
    terms = [_selector_term(text.strip()) for text in expression.split(",") if text.strip()]
    return lambda labels: all(_term_holds(term, labels) for term in terms)


def _selector_term(text: str) -> tuple[str, str, str | None]:
    """(key, operator, value) of one selector term; operators are =, !=, exists and !exists."""
    if "!=" in text:
        key, value = text.split("!=", 1)
        return key.strip(), "!=", value.strip()
    if "=" in text:
        key, value = text.replace("==", "=").split("=", 1)
        return key.strip(), "=", value.strip()
    if text.startswith("!"):
        return text[1:].strip(), "!exists", None
    return text, "exists", None


def field_selector(expression: str) -> Callable[[Obj], bool]:
    """A predicate for a field selector on what custom resources support: metadata.name and metadata.namespace."""
    terms = []
    for text in (t.strip() for t in expression.split(",")):
        if not text:
            continue
        key, operator, value = _selector_term(text)
        if operator not in ("=", "!=") or key not in ("metadata.name", "metadata.namespace"):
            raise ValueError(f'"{key}" is not a known field selector: only "metadata.name", "metadata.namespace"')
        terms.append((key.split(".", 1)[1], operator, value))
    return lambda obj: all(
        (str((obj.get("metadata") or {}).get(key, "")) == value) == (operator == "=")
        for key, operator, value in terms
    )


def _term_holds(term: tuple[str, str, str | None], labels: Mapping[str, str]) -> bool:
    key, operator, value = term
    if operator == "=":
        return labels.get(key) == value
    if operator == "!=":
        return labels.get(key) != value
    return (key in labels) == (operator == "exists")
