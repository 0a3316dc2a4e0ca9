"""The fault-injecting servers themselves: what the matrix relies on them to do."""

from __future__ import annotations

import base64
import urllib.error
import urllib.request

import pytest

from hedgehog_sync.devlab.apiserver import FaultRule, FaultRules, seed_faults
from hedgehog_sync.devlab.gitrepos import commit_files, init_repo
from hedgehog_sync.devlab.gitserver import publish, start_gitserver


@pytest.fixture
def gitserver(tmp_path):
    repo = init_repo(tmp_path / "work")
    commit_files(repo, {"a.yaml": "a: 1\n"}, "one")
    publish(repo, tmp_path / "served", "fab")
    with start_gitserver(tmp_path / "served", token="t0ken") as server:
        yield server


def _refs(server, authorization: str | None) -> int:
    request = urllib.request.Request(server.url("fab") + "/info/refs?service=git-upload-pack")
    if authorization:
        request.add_header("Authorization", authorization)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert b"refs/heads/main" in answer.read()
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_git_server_wants_the_token_as_basic_password_or_bearer(gitserver):
    assert _refs(gitserver, None) == 401
    assert _refs(gitserver, "Bearer wrong") == 401
    assert _refs(gitserver, "Basic " + base64.b64encode(b"x-access-token:wrong").decode()) == 401
    assert _refs(gitserver, "Bearer t0ken") == 200
    assert _refs(gitserver, "Basic " + base64.b64encode(b"anyone:t0ken").decode()) == 200
    assert gitserver.requests_to("fab") == 5


def test_git_server_faults_apply_to_their_path_and_count(gitserver):
    fault = gitserver.faults.add(path=r"^/fab\.git/", status=503, times=1)
    assert _refs(gitserver, "Bearer t0ken") == 503
    assert _refs(gitserver, "Bearer t0ken") == 200
    assert fault.hits == 1


def test_a_probability_rule_applies_to_about_that_share_of_requests():
    seed_faults(42)
    rules = FaultRules([FaultRule(path="/x", status=503, probability=0.25)])
    applied = sum(rules.take("GET", "/x", "") is not None for _ in range(2000))
    assert 400 < applied < 600
    assert rules.take("GET", "/y", "") is None
