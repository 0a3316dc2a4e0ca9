"""One search for a secret in everything the product writes: texts, files, folders, Dagster storage.

A token can leave the process in more shapes than its plain text: base64 (HTTP Basic auth, a
Kubernetes Secret), URL-encoded (a query string), or inside a longer base64 string at any of three
alignments. `secret_forms` lists every shape; `assert_no_leak` looks for each of them in whatever
the test collected, files read as bytes (SQLite databases, git caches and compute logs included).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Iterable
from urllib.parse import quote, quote_plus

MIN_SECRET_LENGTH = 16  # shorter ones match by chance in binary files


def _b64_fragments(secret: bytes) -> list[bytes]:
    """What any base64 text containing `secret` must contain, for each of the three alignments."""
    out = []
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(b"\0" * offset + secret)
            first_group = -(-offset // 3)  # the first 3-byte group wholly inside the secret
            last_group = (offset + len(secret)) // 3
            fragment = encoded[first_group * 4:last_group * 4]
            if len(fragment) >= 8:
                out.append(fragment)
    return out


def secret_forms(secret: str) -> list[bytes]:
    """The secret as it could appear in output: plain, URL-encoded and base64 (any alignment)."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"use a secret of at least {MIN_SECRET_LENGTH} characters in leak tests")
    raw = secret.encode()
    forms = {raw, raw.strip(), quote(secret, safe="").encode(), quote_plus(secret).encode()}
    forms.update(_b64_fragments(raw))
    forms.update(_b64_fragments(raw.strip()))
    return sorted(forms, key=len, reverse=True)


def _files(paths: Iterable[str | os.PathLike[str]]) -> Iterable[Path]:
    for p in paths:
        p = Path(p)
        if p.is_file():
            yield p
        elif p.is_dir():
            for child in p.rglob("*"):
                if child.is_file() and not child.is_symlink():
                    yield child


def find_leaks(secret: str, texts: Iterable[str | bytes] = (),
               paths: Iterable[str | os.PathLike[str]] = ()) -> list[str]:
    """Where the secret shows, in any form: 'text #i' or a file path, with the form found."""
    forms = secret_forms(secret)
    found = []
    for i, text in enumerate(texts):
        data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
        for form in forms:
            if form in data:
                found.append(f"text #{i}: {form!r}")
                break
    for path in _files(paths):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        for form in forms:
            if form in data:
                found.append(f"{path}: {form!r}")
                break
    return found


def assert_no_leak(secret: str, texts: Iterable[str | bytes] = (),
                   paths: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Fail naming every place the secret shows. Pass DAGSTER_HOME, state and cache folders as paths:
    their SQLite files, git configs and compute logs are searched as bytes."""
    leaks = find_leaks(secret, texts, paths)
    assert not leaks, "secret leaked:\n" + "\n".join(leaks)
