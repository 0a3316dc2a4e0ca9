"""Fuzzing the cluster reader (issue 12, item 6): a loopback API server whose answers Hypothesis draws.

Status, headers (content and transfer encodings, Content-Length that lies, chunked framing, a
connection kept alive or not), body sizes up to twice the response budget, truncation, bodies that
are not JSON, JSON of odd shapes (items not a list, metadata a string, names that are numbers,
huge numbers, NaN, deep nesting), continue tokens (fresh, repeating, not a string, many pages),
delays and trickled bodies, and a server that echoes our Authorization header back in its reason
phrase, headers and body. The official client reads it through api_client_for with small budgets.

Every example must end with a LiveState or a HedgehogSyncError (never another exception), within
the fabric deadline plus a margin, with the bearer token in no error or finding text.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from hedgehog_sync.connectors.kubernetes import ReadBudgets, api_client_for, read_live
from hedgehog_sync.devlab.apiserver import write_kubeconfig
from hedgehog_sync.domain.errors import HedgehogSyncError
from hedgehog_sync.domain.kinds import KINDS
from hedgehog_sync.domain.model import LiveState
from hedgehog_sync_tests.fuzz.conftest import fuzz_settings
from hedgehog_sync_tests.leaks import assert_no_leak
from hedgehog_sync_tests.reliability.test_cluster_budgets import HostileServer, Request

TOKEN = f"fuzzed-bearer-{secrets.token_hex(16)}"
FABRIC = "fab-fuzz"
KIND_PAIR = [next(k for k in KINDS if k.kind == name) for name in ("VPC", "Switch")]
BUDGETS = ReadBudgets(request_deadline_seconds=1.0, fabric_deadline_seconds=2.5, max_response_bytes=64 * 1024,
                      max_fabric_bytes=256 * 1024, max_pages_per_kind=5, max_objects=40)
MARGIN_S = 3.0
MAX_DELAY_S = 0.3

_json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) \
    | st.text(max_size=20)
_json = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
_name = st.from_regex(r"[a-z][a-z0-9-]{0,15}", fullmatch=True)
_good_item = st.builds(lambda name, spec: {"metadata": {"name": name, "labels": {"a": "b"}}, "spec": spec},
                       _name, st.dictionaries(st.text(max_size=8), _json, max_size=3))
_odd_item = st.one_of(
    _json,
    st.builds(lambda m: {"metadata": m}, _json),
    st.builds(lambda n: {"metadata": {"name": n}}, _json),
    st.builds(lambda n, a: {"metadata": {"name": n, "annotations": a}}, _name, _json),
    st.builds(lambda n, k: {"apiVersion": k, "kind": k, "metadata": {"name": n}}, _name, _json),
)


@dataclass
class Answer:
    """How the server answers every request of one example."""

    status: int
    encoding: str | None
    framing: str  # length | chunked | close | length-short | length-long
    keep_alive: bool
    body: str  # list | odd | not-json | big | truncated | nan | huge-number | deep
    items: list[Any]
    odd: Any
    garbage: bytes
    big_bytes: int
    depth: int
    pages: int
    tokens: str  # none | fresh | repeat | not-a-string
    delay: float
    trickle: bool
    echo: bool
    chunk_sizes: list[int] = field(default_factory=lambda: [7])


answers = st.builds(
    Answer,
    status=st.sampled_from([200] * 30 + [201, 204, 302, 401, 403, 404, 410, 418, 429, 500, 503]),
    encoding=st.sampled_from([None] * 25 + ["gzip", "deflate", "br", "identity", "x-gzip, identity"]),
    framing=st.sampled_from(["length"] * 4 + ["chunked"] * 4 + ["close"] * 2 + ["length-short", "length-long"]),
    keep_alive=st.booleans(),
    body=st.sampled_from(["list"] * 14 + ["big"] * 3 + ["odd", "not-json", "truncated", "nan", "huge-number", "deep"]),
    items=st.lists(st.one_of(_good_item, _odd_item), max_size=6)
    | st.lists(_good_item, max_size=6) | st.lists(_good_item, max_size=6),
    odd=_json,
    garbage=st.binary(max_size=300),
    big_bytes=st.sampled_from([1_000, 30_000, 60_000, BUDGETS.max_response_bytes, 70_000, 2 * BUDGETS.max_response_bytes])
    | st.integers(1, 2 * BUDGETS.max_response_bytes),
    depth=st.integers(1, 50_000),
    pages=st.integers(1, 8),
    tokens=st.sampled_from(["none", "fresh", "fresh", "repeat", "not-a-string"]),
    delay=st.floats(0, MAX_DELAY_S),
    trickle=st.integers(0, 9).map(lambda n: n == 0),  # now and then, a body at a trickle
    echo=st.booleans(),
    chunk_sizes=st.lists(st.integers(1, 5000), min_size=1, max_size=5),
)


def _body(answer: Answer, page: int, auth: str) -> bytes:
    metadata: dict[str, Any] = {"resourceVersion": "1"}
    if page + 1 < answer.pages:
        metadata["continue"] = {"none": None, "fresh": f"p{page + 1}", "repeat": "p1",
                                "not-a-string": {"page": page}}[answer.tokens]
    items = answer.items
    if answer.echo:
        items = items + [{"metadata": {"name": "echo", "annotations": {"seen": "yes"}}}]
    doc = {"apiVersion": "v1", "kind": "List", "metadata": metadata, "items": items}
    if answer.body == "list":
        return json.dumps(doc).encode()
    if answer.body == "odd":
        return json.dumps(answer.odd if not isinstance(answer.odd, dict) else {**answer.odd, "items": answer.odd})\
            .encode()
    if answer.body == "not-json":
        return answer.garbage + (auth.encode() if answer.echo else b"")
    if answer.body == "big":
        one = b'{"metadata": {"name": "big"}, "spec": {"pad": "' + b"x" * 200 + b'"}},'
        return b'{"metadata": ' + json.dumps(metadata).encode() + b', "items": [' \
            + one * (answer.big_bytes // len(one)) + b'{"metadata": {"name": "end"}}]}'
    if answer.body == "truncated":
        text = json.dumps(doc).encode()
        return text[: len(text) // 2]
    if answer.body == "nan":
        return b'{"items": [{"metadata": {"name": "n"}, "spec": {"v": NaN, "w": -Infinity}}]}'
    if answer.body == "huge-number":
        return b'{"items": [{"metadata": {"name": "h"}, "spec": {"v": 1e99999, "w": ' + b"9" * 5000 + b"}}]}"
    depth = answer.depth
    return b'{"items": [{"metadata": {"name": "d"}, "spec": ' + b"[" * depth + b"]" * depth + b"}]}"


class FuzzedServer:
    """A HostileServer whose every answer follows the current example's Answer."""

    def __init__(self) -> None:
        self.answer: Answer | None = None
        self.server = HostileServer(self._handle)

    def _handle(self, request: Request, conn: socket.socket, stopped: threading.Event) -> None:
        answer = self.answer
        assert answer is not None
        auth = request.headers.get("authorization", "")
        stopped.wait(answer.delay)
        token = request.query.get("continue", "p0")
        page = int(token[1:]) if token[1:].isdigit() else 0
        body = _body(answer, page, auth)
        reason = auth if answer.echo else "OK"
        headers = [f"HTTP/1.1 {answer.status} {reason}", "Content-Type: application/json"]
        if answer.echo:
            headers.append(f"X-Echo: {auth}")
        if answer.encoding:
            headers.append(f"Content-Encoding: {answer.encoding}")
        if not answer.keep_alive or answer.framing == "close":
            headers.append("Connection: close")
        if answer.framing == "length":
            headers.append(f"Content-Length: {len(body)}")
        elif answer.framing == "length-short":
            headers.append(f"Content-Length: {max(0, len(body) - 5)}")
        elif answer.framing == "length-long":
            headers.append(f"Content-Length: {len(body) + 100}")
        elif answer.framing == "chunked":
            headers.append("Transfer-Encoding: chunked")
            out, start, sizes = b"", 0, answer.chunk_sizes
            while start < len(body):
                size = sizes[start % len(sizes)]
                piece = body[start:start + size]
                out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
                start += size
            body = out + b"0\r\n\r\n"
        conn.sendall(("\r\n".join(headers) + "\r\n\r\n").encode())
        if answer.trickle:
            ends = time.monotonic() + 2 * BUDGETS.request_deadline_seconds
            for start in range(0, len(body), 64):
                if stopped.is_set() or time.monotonic() > ends:
                    return
                conn.sendall(body[start:start + 64])
                stopped.wait(0.05)
        else:
            conn.sendall(body)


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory):
    server = FuzzedServer()
    kubeconfig = write_kubeconfig(tmp_path_factory.mktemp("fuzz") / "k.kubeconfig", server.server.url, TOKEN, FABRIC)
    with api_client_for(str(kubeconfig), FABRIC) as client:
        yield server, client
    server.server.stop()


def _texts(error: BaseException) -> list[str]:
    out, seen = [], error
    while seen is not None:
        out += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return out


@fuzz_settings
@given(answer=answers)
def test_every_drawn_answer_ends_in_a_state_or_a_clear_error_in_budget_without_the_token(fuzzed, answer):
    server, client = fuzzed
    server.answer = answer
    started = time.monotonic()
    outcome: LiveState | HedgehogSyncError
    try:
        outcome = read_live(client, kinds=KIND_PAIR, page_size=3, budgets=BUDGETS)
    except HedgehogSyncError as exc:
        outcome = exc
    elapsed = time.monotonic() - started
    event(type(outcome).__name__ + (f" ({outcome.budget})" if getattr(outcome, "budget", "") else ""))
    assert elapsed < BUDGETS.fabric_deadline_seconds + MARGIN_S, (elapsed, answer)
    if isinstance(outcome, LiveState):
        texts = [f.message for f in outcome.findings]
        assert all(isinstance(o, dict) and isinstance(o.get("metadata"), dict) for o in outcome.objects)
        assert len(outcome.objects) <= BUDGETS.max_objects
    else:
        texts = _texts(outcome)
        assert len(str(outcome)) < 600, str(outcome)
    assert_no_leak(TOKEN, texts=texts)


# --- kubeconfigs ---------------------------------------------------------------------------------
_SLOTS = ("clusters", "users", "contexts", "current-context", "cluster", "server", "user", "token",
          "tokenFile", "context-user", "context-cluster", "password")


def _kubeconfig(server: str, token: str, slot: str | None, value: Any) -> dict[str, Any]:
    cluster: dict[str, Any] = {"server": server}
    user: dict[str, Any] = {"token": token}
    context: dict[str, Any] = {"cluster": "c", "user": "u"}
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [{"name": "c", "cluster": cluster}],
                           "users": [{"name": "u", "user": user}],
                           "contexts": [{"name": FABRIC, "context": context}], "current-context": FABRIC}
    if slot in ("clusters", "users", "contexts", "current-context"):
        doc[slot] = value
    elif slot == "cluster":
        doc["clusters"][0]["cluster"] = value
    elif slot == "user":
        doc["users"][0]["user"] = value
    elif slot in ("server",):
        cluster["server"] = value
    elif slot in ("token", "tokenFile", "password"):
        user[slot] = value
        if slot == "tokenFile":
            del user["token"]
    elif slot == "context-user":
        context["user"] = value
    elif slot == "context-cluster":
        context["cluster"] = value
    return doc


_token_variants = st.sampled_from(["", " ", "\n", "\r\n", "\t", "  \n\n"]).map(
    lambda pad: ("pre", pad)) | st.sampled_from(["\n", "\x00", "\x7f", "\r"]).map(lambda mid: ("mid", mid))


@fuzz_settings
@given(slot=st.none() | st.sampled_from(_SLOTS), value=_json | st.sampled_from(["token.txt", "/dev/zero", "missing"]),
       variant=_token_variants, context=st.sampled_from([FABRIC, None, "other"]), raw=st.none() | st.binary(max_size=200))
def test_any_kubeconfig_gives_a_client_or_a_clear_config_error_without_the_token(tmp_path_factory, slot, value,
                                                                                variant, context, raw):
    root = tmp_path_factory.mktemp("kubeconfig")
    where, text = variant
    token = f"{text}{TOKEN}{text}" if where == "pre" else f"{TOKEN[:10]}{text}{TOKEN[10:]}"
    (root / "token.txt").write_text(f"{token}\n")
    path = root / "k.kubeconfig"
    if raw is not None:
        path.write_bytes(raw + f"\ntoken: {TOKEN}\n".encode())
    else:
        path.write_text(yaml.safe_dump(_kubeconfig("http://127.0.0.1:9", token, slot, value)))
    started = time.monotonic()
    try:
        with api_client_for(str(path), context) as client:
            value = client.configuration.api_key.get("authorization")
            assert value is None or not any(ord(c) < 0x20 for c in value)
        texts: list[str] = []
        event("client")
    except HedgehogSyncError as exc:
        assert type(exc).__name__ == "ClusterConfigError", exc
        texts = _texts(exc)
        event("ClusterConfigError")
    assert time.monotonic() - started < 10
    for secret in (TOKEN, TOKEN[10:]):
        assert_no_leak(secret, texts=texts)
