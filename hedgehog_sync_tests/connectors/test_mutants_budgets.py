"""Issue 19: the connectors' budgets, token policy and redaction, at their exact boundaries.

A budget lets its limit through and refuses limit + 1; every refusal names the budget, its value and the
setting that raises it, and no error text carries a token. Real files, real git settings, the real
kubernetes client's loaders: no mocks. Expected texts are written from the module docstrings' tables.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from datetime import datetime
from pathlib import Path

import pytest
from kubernetes import client as k8s_client
from kubernetes.config.config_exception import ConfigException
from kubernetes.config.kube_config import ConfigNode

from hedgehog_sync.connectors import git as gitc
from hedgehog_sync.connectors import kubernetes as kc
from hedgehog_sync.domain.errors import BudgetExceededError, ClusterConfigError, ClusterTimeoutError, GitUrlRefused
from hedgehog_sync.domain.inventory import GitSettings
from hedgehog_sync.domain.redaction import redact

MiB = 1024 * 1024


def fresh_secret(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(12)}"


def chain_text(exc: BaseException) -> str:
    out, seen = [], exc
    while seen is not None:
        out += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    return "\n".join(out)


# --- git: budgets ---------------------------------------------------------------------------------


def test_git_budget_defaults_are_the_documented_ones():
    assert gitc.GitBudgets() == gitc.GitBudgets(max_bytes=64 * MiB, max_files=10_000, max_documents=100_000,
                                                max_fetch_bytes=1024 * MiB)


GIT_ENVS = {"max_bytes": "HEDGEHOG_SYNC_GIT_MAX_BYTES", "max_files": "HEDGEHOG_SYNC_GIT_MAX_FILES",
            "max_documents": "HEDGEHOG_SYNC_GIT_MAX_DOCUMENTS", "max_fetch_bytes": "HEDGEHOG_SYNC_GIT_MAX_FETCH_BYTES"}


@pytest.mark.parametrize("name", sorted(GIT_ENVS))
@pytest.mark.parametrize("raw,taken", [("7", 7), ("1", 1), ("0", None), ("-3", None), ("many", None), ("", None),
                                       ("2.5", None)], ids=["seven", "one", "zero", "negative", "word", "empty", "float"])
def test_git_budgets_from_env(monkeypatch, name, raw, taken):
    for env in GIT_ENVS.values():
        monkeypatch.delenv(env, raising=False)
    monkeypatch.setenv(GIT_ENVS[name], raw)
    budgets = gitc.GitBudgets.from_env()
    default = getattr(gitc.GitBudgets(), name)
    assert getattr(budgets, name) == (default if taken is None else taken)
    others = {n: getattr(budgets, n) for n in GIT_ENVS if n != name}
    assert others == {n: getattr(gitc.GitBudgets(), n) for n in GIT_ENVS if n != name}


def test_a_git_budget_error_names_the_budget_its_value_and_how_to_raise_it():
    error = gitc._budget("fabric east: https://git.example.com/f.git", "max_files", 10, "candidate YAML files",
                         "more than 10")
    assert isinstance(error, BudgetExceededError) and error.budget == "git.max_files"
    assert str(error) == ("fabric east: https://git.example.com/f.git: more than 10 candidate YAML files, over the "
                          "budget git.max_files = 10; split the fabric's files or raise the budget with "
                          "HEDGEHOG_SYNC_GIT_MAX_FILES")
    other = gitc._budget("w", "max_bytes", 5, "bytes of YAML", "6", fix="make them smaller")
    assert str(other) == ("w: 6 bytes of YAML, over the budget git.max_bytes = 5; make them smaller or raise the "
                          "budget with HEDGEHOG_SYNC_GIT_MAX_BYTES") and other.budget == "git.max_bytes"


@pytest.mark.parametrize("data,documents", [
    (b"", 1), (b"a: 1\n", 1), (b"a: 1\n---\nb: 2\n", 2), (b"---\na: 1\n", 2), (b"a: 1\n---", 2),
    (b"a: 1\n--- x\n", 2), (b"a: 1\n---\tx\n", 2), (b"a: 1\n---\r\nb\n", 2), (b"a: 1\n----\n", 1),
    (b"a: ---\n", 1), (b"a: 1\r---\nb\r---\n", 3), (b"a\xc2\x85---\n", 2), (b"a\xe2\x80\xa8---\n", 2),
    (b"a\xe2\x80\xa9---\n", 2), (b"---\n---\n---\n", 4),
], ids=["empty", "one", "two", "leading", "at-end", "space", "tab", "crlf", "four-dashes", "inline", "cr", "nel",
        "line-separator", "paragraph-separator", "three"])
def test_max_documents_is_an_upper_bound_counting_document_starts(data, documents):
    assert gitc._max_documents(data) == documents


def make_pack_dir(tmp_path: Path, *sizes: int) -> Path:
    pack = tmp_path / "clone" / "objects" / "pack"
    pack.mkdir(parents=True)
    for i, size in enumerate(sizes):
        (pack / f"tmp_pack_{i}").write_bytes(b"x" * size)
    (pack / "pack-kept.pack").write_bytes(b"x" * 1000)
    return tmp_path / "clone"


def cache_with(tmp_path: Path, **budgets: int) -> gitc.GitRepoCache:
    return gitc.GitRepoCache(tmp_path / "cache", budgets=gitc.GitBudgets(**budgets))


def test_a_fetch_cut_at_its_budget_is_refused_naming_it_without_credentials(tmp_path):
    d = make_pack_dir(tmp_path, 99, 100)
    settings = GitSettings.model_construct(url="https://user:pw-sekrit@git.example.com/f.git?x=1", ref="main",
                                           path="", token_env=None, allow_local=False)
    with pytest.raises(BudgetExceededError) as caught:
        cache_with(tmp_path, max_fetch_bytes=100)._check_fetch_budget("east", d, settings)
    assert str(caught.value) == (
        "fabric east: https://git.example.com/f.git: more than 100 bytes fetched, over the budget "
        "git.max_fetch_bytes = 100; move old history out of the repository or raise the budget with "
        "HEDGEHOG_SYNC_GIT_MAX_FETCH_BYTES")
    assert caught.value.budget == "git.max_fetch_bytes"
    assert sorted(p.name for p in (d / "objects" / "pack").iterdir()) == ["pack-kept.pack"]  # cut packs removed


def test_a_fetch_below_its_budget_failed_for_another_reason(tmp_path):
    d = make_pack_dir(tmp_path, 99, 50)
    settings = GitSettings(url="https://git.example.com/f.git")
    assert cache_with(tmp_path, max_fetch_bytes=100)._check_fetch_budget("east", d, settings) is None
    assert sorted(p.name for p in (d / "objects" / "pack").iterdir()) == ["pack-kept.pack"]
    empty = tmp_path / "empty"
    (empty / "objects" / "pack").mkdir(parents=True)
    assert cache_with(tmp_path, max_fetch_bytes=1)._check_fetch_budget("east", empty, settings) is None


def test_a_cut_pack_that_cannot_be_removed_still_counts(tmp_path):
    d = make_pack_dir(tmp_path)
    (d / "objects" / "pack" / "tmp_pack_dir").mkdir()  # a folder: its size is read, unlinking it fails
    (d / "objects" / "pack" / "tmp_pack_big").write_bytes(b"x" * 64)
    with pytest.raises(BudgetExceededError, match="max_fetch_bytes = 8;"):
        cache_with(tmp_path, max_fetch_bytes=8)._check_fetch_budget("east", d, GitSettings(url="https://h/f.git"))
    assert not (d / "objects" / "pack" / "tmp_pack_big").exists()


# --- git: the token policy --------------------------------------------------------------------------


def raw_settings(**kw):
    values = dict(url="https://git.example.com/f.git", ref="main", path="", token_env=None, allow_local=False)
    values.update(kw)
    return GitSettings.model_construct(**values)


def test_the_token_policy_refuses_what_the_inventory_refuses():
    with pytest.raises(GitUrlRefused) as caught:
        gitc._check_token_policy("east", raw_settings(token_env="HOME"))
    assert str(caught.value).startswith("fabric east: git.token_env 'HOME' is refused: git tokens may only come "
                                        "from environment variables whose names start with ")
    with pytest.raises(GitUrlRefused) as caught:
        gitc._check_token_policy("east", raw_settings(url="http://git.example.com/f.git",
                                                      token_env="HEDGEHOG_SYNC_EAST_GIT_TOKEN"))
    assert str(caught.value) == (
        "fabric east: git.token_env is set but git.url is plain http://: the token would travel in clear text; "
        "use https:// (plain http is only allowed to a loopback host with allow_local: true)")


@pytest.mark.parametrize("settings", [
    raw_settings(), raw_settings(token_env="HEDGEHOG_SYNC_EAST_GIT_TOKEN"),
    raw_settings(url="http://127.0.0.1:8080/f.git", token_env="HEDGEHOG_SYNC_EAST_GIT_TOKEN", allow_local=True),
    raw_settings(url="http://git.example.com/f.git"),
], ids=["no-token", "https-token", "loopback-http", "http-without-token"])
def test_the_token_policy_lets_good_settings_through(settings):
    assert gitc._check_token_policy("east", settings) is None


@pytest.mark.parametrize("url,token,allow_local,expected", [
    ("https://git.example.com/f.git", "t0ken", False, "https"),
    ("HTTPS://git.example.com/f.git", "t0ken", False, "https"),
    ("http://127.0.0.1/f.git", "t0ken", True, "http"),
    ("git@git.example.com:f.git", "t0ken", False, "https"),
    ("https://git.example.com/f.git", None, False, "https:http:ssh:git"),
    ("https://git.example.com/f.git", "", False, "https:http:ssh:git"),
    ("file:///srv/f.git", None, True, "https:http:ssh:git:file"),
], ids=["https", "upper-case", "http-loopback", "scp-like", "no-token", "empty-token", "local"])
def test_git_may_only_use_the_urls_own_scheme_when_it_carries_a_token(url, token, allow_local, expected):
    assert gitc._allowed_protocols(raw_settings(url=url, allow_local=allow_local), token) == expected


# --- kubernetes: budgets ----------------------------------------------------------------------------

K8S_ENV = {key: b.env for key, b in kc.BUDGETS.items()}


@pytest.fixture
def clean_env(monkeypatch):
    for env in K8S_ENV.values():
        monkeypatch.delenv(env, raising=False)
    return monkeypatch


@pytest.mark.parametrize("raw,taken", [("12", 12.0), ("0.5", 0.5), ("0", None), ("-1", None), ("nan", None),
                                       ("inf", None), ("lots", None), ("", None)],
                         ids=["twelve", "half", "zero", "negative", "nan", "inf", "word", "empty"])
def test_budget_value_takes_a_positive_finite_env_value_else_the_default(clean_env, raw, taken):
    clean_env.setenv("HEDGEHOG_SYNC_KUBERNETES_MAX_OBJECTS", raw)
    value = kc.budget_value("max_objects")
    assert value == (100_000 if taken is None else taken)
    assert kc.budget_value("max_objects", 3) == 3 and kc.budget_value("max_objects", 0) == 0


def test_budget_value_without_env_is_the_default(clean_env):
    assert kc.budget_value("max_depth") == 64 and kc.budget_value("request_deadline_seconds") == 30.0


def test_read_budgets_from_env_overrides_first_then_env_then_defaults(clean_env):
    assert kc.ReadBudgets.from_env() == kc.ReadBudgets(30.0, 300.0, 32 * MiB, 128 * MiB, 1000, 100_000, 64)
    clean_env.setenv("HEDGEHOG_SYNC_KUBERNETES_MAX_DEPTH", "9.7")
    clean_env.setenv("HEDGEHOG_SYNC_KUBERNETES_FABRIC_DEADLINE_SECONDS", "2.5")
    budgets = kc.ReadBudgets.from_env(max_objects=5, request_deadline_seconds=7, max_depth=None)
    assert budgets == kc.ReadBudgets(request_deadline_seconds=7.0, fabric_deadline_seconds=2.5,
                                     max_response_bytes=32 * MiB, max_fabric_bytes=128 * MiB, max_pages_per_kind=1000,
                                     max_objects=5, max_depth=9)
    assert type(budgets.request_deadline_seconds) is float and type(budgets.max_depth) is int
    assert type(budgets.max_objects) is int and type(budgets.fabric_deadline_seconds) is float


def test_budget_errors_name_the_budget_its_value_unit_and_env():
    error = kc._budget_error("max_response_bytes", 10, "https://k: listing vpcs", "one answer sent more than 10 bytes")
    assert type(error) is BudgetExceededError and error.budget == "kubernetes.max_response_bytes"
    assert str(error) == ("https://k: listing vpcs: one answer sent more than 10 bytes, over the budget "
                          "kubernetes.max_response_bytes = 10 bytes; raise it with "
                          "HEDGEHOG_SYNC_KUBERNETES_MAX_RESPONSE_BYTES if this fabric really needs more")
    late = kc._deadline_error("fabric_deadline_seconds", 2.5, "https://k: listing vpcs", "ran out of time")
    assert type(late) is ClusterTimeoutError and late.budget == "kubernetes.fabric_deadline_seconds"
    assert str(late) == ("https://k: listing vpcs: ran out of time, over the budget "
                         "kubernetes.fabric_deadline_seconds = 2.5 s; raise it with "
                         "HEDGEHOG_SYNC_KUBERNETES_FABRIC_DEADLINE_SECONDS if this fabric really needs more")


def reading(max_response_bytes=10, max_fabric_bytes=25):
    budgets = kc.ReadBudgets(max_response_bytes=max_response_bytes, max_fabric_bytes=max_fabric_bytes)
    return kc._FabricRead("https://k", budgets, time.monotonic() + 60)


def test_response_and_fabric_byte_budgets_pass_their_limit_and_refuse_one_more():
    r = reading()
    assert kc._check_sizes(10, 10, 10, r, "w", "sent") is None
    with pytest.raises(BudgetExceededError) as caught:
        kc._check_sizes(11, 10, 100, r, "w", "announced")
    assert caught.value.budget == "kubernetes.max_response_bytes"
    assert str(caught.value).startswith("w: one answer announced more than 10 bytes, over the budget "
                                        "kubernetes.max_response_bytes = 10 bytes;")
    assert kc._check_sizes(7, 10, 7, r, "w", "sent") is None
    with pytest.raises(BudgetExceededError) as caught:
        kc._check_sizes(8, 10, 7, r, "w", "sent")
    assert caught.value.budget == "kubernetes.max_fabric_bytes"
    assert str(caught.value).startswith("w: the fabric's answers sent more than 25 bytes, over the budget "
                                        "kubernetes.max_fabric_bytes = 25 bytes;")


def nested(levels: int, in_list: bool = False):
    value: object = "leaf"
    for _ in range(levels):
        value = [value] if in_list else {"k": value}
    return value


@pytest.mark.parametrize("in_list", [False, True], ids=["objects", "lists"])
def test_nesting_at_the_depth_budget_passes_and_one_level_more_is_refused(in_list):
    assert kc._deeper_than(nested(3, in_list), 3) is False
    assert kc._deeper_than(nested(4, in_list), 3) is True
    assert kc._deeper_than(nested(1, in_list), 1) is False and kc._deeper_than(nested(2, in_list), 1) is True
    assert kc._deeper_than({"a": 1, "b": [1, 2], "c": {"d": [{"e": {}}]}}, 5) is False  # five levels
    assert kc._deeper_than({"a": 1, "b": [1, 2], "c": {"d": [{"e": {}}]}}, 4) is True
    assert kc._deeper_than({"x": [], "y": {"z": [[]]}}, 4) is False  # the deep branch is not the first
    assert kc._deeper_than({"x": [], "y": {"z": [[]]}}, 3) is True
    assert kc._deeper_than([{"z": [[]]}, []], 3) is True and kc._deeper_than("text", 1) is False


# --- kubernetes: capped files and tokens --------------------------------------------------------------


def test_a_capped_file_of_exactly_its_budget_is_read_and_one_byte_more_is_refused(clean_env, tmp_path):
    clean_env.setenv("HEDGEHOG_SYNC_KUBERNETES_MAX_TOKEN_FILE_BYTES", "70000")  # more than one 64 KiB read
    exact, over = tmp_path / "exact", tmp_path / "over"
    exact.write_bytes(b"a" * 70000)
    over.write_bytes(b"a" * 70001)
    assert kc.read_capped_file(str(exact), "max_token_file_bytes", "token file") == b"a" * 70000
    with pytest.raises(ClusterConfigError) as caught:
        kc.read_capped_file(str(over), "max_token_file_bytes", "token file x")
    assert str(caught.value) == ("token file x: holds more than 70000 bytes, over the budget "
                                 "kubernetes.max_token_file_bytes = 70000 bytes; raise it with "
                                 "HEDGEHOG_SYNC_KUBERNETES_MAX_TOKEN_FILE_BYTES if this fabric really needs more")
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert kc.read_capped_file(str(empty), "max_token_file_bytes", "t") == b""


def test_a_capped_file_that_is_missing_a_folder_or_a_fifo_is_a_clear_error(clean_env, tmp_path):
    with pytest.raises(ClusterConfigError) as caught:
        kc.read_capped_file(str(tmp_path / "nope"), "max_kubeconfig_bytes", "kubeconfig k")
    assert str(caught.value) == "kubeconfig k could not be read: no such file or directory"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        with pytest.raises(ClusterConfigError) as caught:
            kc.read_capped_file(str(path), "max_kubeconfig_bytes", "kubeconfig k")
        assert str(caught.value) == "kubeconfig k is not a regular file (a FIFO, device or folder); refused unread"


def test_a_token_is_trimmed_registered_and_refused_if_it_cannot_be_a_header():
    token = fresh_secret("tok")
    assert kc._checked_token(f"  {token}\n", "user u") == token
    assert redact(f"said {token}") == "said ***"
    assert kc._checked_token("", "user u") == ""
    ok = fresh_secret("a") + " ~" + chr(0x20) + fresh_secret("b")  # space and tilde are header text
    assert kc._checked_token(ok, "w") == ok
    for bad in (chr(0x1F), chr(0x7F), "\n", "\x00"):
        inner = fresh_secret("c") + bad + fresh_secret("d")
        with pytest.raises(ClusterConfigError) as caught:
            kc._checked_token(inner, "user u")
        assert str(caught.value) == ("user u: the token holds a line break or control character inside it; "
                                     "it cannot be sent as an HTTP header")
        assert inner.split(bad)[0] not in chain_text(caught.value)
    with pytest.raises(ClusterConfigError) as caught:
        kc._checked_token(12345678, "user u")
    assert str(caught.value) == "user u: the token is not a string"


def test_token_text_must_be_utf8_and_never_carries_its_bytes():
    token = fresh_secret("utf")
    assert kc._token_text(f"{token}\n".encode(), "file f") == token
    with pytest.raises(ClusterConfigError) as caught:
        kc._token_text(token.encode() + b"\xff\xfe", "file f")
    assert str(caught.value) == "file f is not UTF-8 text"
    assert caught.value.__context__ is None and token not in chain_text(caught.value)
    with pytest.raises(ClusterConfigError, match="line break or control character"):
        kc._token_text(b"abc\x01defgh", "file f")


def loader(tmp_path: Path, token: bytes) -> kc._InClusterLoader:
    path = tmp_path / "token"
    path.write_bytes(token)
    cert = tmp_path / "ca.crt"
    cert.write_text("x")
    return kc._InClusterLoader(str(path), str(cert), environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1",
                                                             "KUBERNETES_SERVICE_PORT": "443"})


def test_the_in_cluster_token_file_is_read_under_its_budget_trimmed_and_registered(clean_env, tmp_path):
    token = fresh_secret("sa")
    ldr = loader(tmp_path, f"{token}\n".encode())
    before = datetime.now()
    ldr._read_token_file()
    assert ldr.token == f"Bearer {token}" and redact(token) == "***"
    assert before < ldr.token_expires_at <= datetime.now() + ldr._token_refresh_period
    assert ldr.token_expires_at - before >= ldr._token_refresh_period - (datetime.now() - before)

    bad = fresh_secret("bad")
    with pytest.raises(ClusterConfigError) as caught:
        loader(tmp_path, bad.encode() + b"\x07x")._read_token_file()
    assert str(caught.value).startswith(f"in-cluster token file {tmp_path / 'token'}: the token holds a line break")
    with pytest.raises(ConfigException, match="^Token file exists but empty.$"):
        loader(tmp_path, b" \n")._read_token_file()
    clean_env.setenv("HEDGEHOG_SYNC_KUBERNETES_MAX_TOKEN_FILE_BYTES", "8")
    loader(tmp_path, b"12345678")._read_token_file()
    with pytest.raises(ClusterConfigError) as caught:
        loader(tmp_path, b"123456789")._read_token_file()
    assert str(caught.value).startswith(f"in-cluster token file {tmp_path / 'token'}: holds more than 8 bytes, over "
                                        "the budget kubernetes.max_token_file_bytes = 8 bytes;")


# --- kubernetes: kubeconfig files under their budget -----------------------------------------------


KUBECONFIG = ("apiVersion: v1\nkind: Config\nclusters: [{name: c1, cluster: {server: 'https://k1'}}]\n"
              "users: [{name: u1, user: {token: abcdefgh}}]\ncontexts: [{name: x1, context: {cluster: c1, user: u1}}]\n"
              "current-context: x1\n")


def test_kubeconfig_files_are_merged_each_under_its_byte_budget(clean_env, tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(KUBECONFIG)
    second.write_text(KUBECONFIG.replace("1", "2"))
    merged = kc._CappedKubeConfigMerger(f"{first}{os.pathsep}{second}")
    config = merged.config
    assert [c["name"] for c in config["clusters"]] == ["c1", "c2"]
    assert [u["name"] for u in config["users"]] == ["u1", "u2"]
    assert [c["name"] for c in config["contexts"]] == ["x1", "x2"]
    assert config["current-context"] == "x2" and config["kind"] == "Config"
    assert sorted(merged.config_files) == [str(first), str(second)]
    assert merged.config_files[str(first)]["current-context"] == "x1"

    size = len(KUBECONFIG.replace("1", "2"))
    clean_env.setenv("HEDGEHOG_SYNC_KUBERNETES_MAX_KUBECONFIG_BYTES", str(size))
    kc._CappedKubeConfigMerger(str(second))
    clean_env.setenv("HEDGEHOG_SYNC_KUBERNETES_MAX_KUBECONFIG_BYTES", str(size - 1))
    with pytest.raises(ClusterConfigError) as caught:
        kc._CappedKubeConfigMerger(str(second))
    assert str(caught.value).startswith(f"kubeconfig {second}: holds more than {size - 1} bytes, over the budget "
                                        "kubernetes.max_kubeconfig_bytes")


def test_a_kubeconfig_without_current_context_or_sections_merges_empty(clean_env, tmp_path):
    bare = tmp_path / "bare.yaml"
    bare.write_text("kind: Config\nclusters: null\n")
    config = kc._CappedKubeConfigMerger(str(bare)).config
    assert [config.value[k] for k in ("clusters", "users", "contexts")] == [[], [], []]
    assert "current-context" not in config.value


@pytest.mark.parametrize("text,problem", [
    ("- a\n- b\n", "holds no configuration"), ("", "holds no configuration"),
    ("clusters: {name: c}\n", "clusters is not a list of named entries"),
    ("users: [{user: {}}]\n", "users is not a list of named entries"),
    ("contexts: [name]\n", "contexts is not a list of named entries"),
    ("clusters: [{name: a}]\nusers: [7]\n", "users is not a list of named entries"),
], ids=["list", "empty", "mapping", "nameless", "text-entry", "second-section"])
def test_a_kubeconfig_of_the_wrong_shape_is_refused_naming_what(clean_env, tmp_path, text, problem):
    path = tmp_path / "k.yaml"
    path.write_text(text)
    with pytest.raises(ClusterConfigError) as caught:
        kc._CappedKubeConfigMerger(str(path))
    sep = " " if problem == "holds no configuration" else ": "
    assert str(caught.value) == f"kubeconfig {path}{sep}{problem}"


# --- kubernetes: credentials registered for redaction -------------------------------------------------


def test_every_credential_of_every_user_is_registered():
    values = {k: fresh_secret(k) for k in ("token", "password", "id", "refresh", "access", "client")}
    key = fresh_secret("private-key")
    users = [
        {"name": "a", "user": {"token": values["token"], "password": values["password"],
                               "client-key-data": base64.b64encode(key.encode()).decode()}},
        ConfigNode("k", {"name": "b", "user": {"auth-provider": {"config": {
            "id-token": values["id"], "refresh-token": values["refresh"], "access-token": values["access"],
            "client-secret": values["client"], "client-id": "visible-client-id"}}}}),
        {"name": "c", "user": "not a mapping"}, {"name": "d"}, "not an entry",
        {"name": "e", "user": {"token": 12345678, "auth-provider": "x"}},
        {"name": "f", "user": {"auth-provider": {"config": "not a mapping"}}},
    ]
    kc._register_credentials(ConfigNode("k", {"users": users}))
    for value in values.values():
        assert redact(f"x {value} y") == "x *** y", value
    assert redact(key) == "***"
    assert redact("visible-client-id") == "visible-client-id"


def test_client_key_data_that_is_not_base64_is_still_registered_as_written():
    data = fresh_secret("not-base64!")
    kc._register_credentials(ConfigNode("k", {"users": [{"name": "a", "user": {"client-key-data": data}}]}))
    assert redact(data) == "***"
    kc._register_credentials(ConfigNode("k", {"users": None}))  # nothing to register


def test_a_users_token_is_trimmed_or_read_from_its_token_file(clean_env, tmp_path):
    token = fresh_secret("inline")
    user = {"token": f"{token}\n"}
    kc._normalize_user_token(user, None, "where")
    assert user == {"token": token}
    from_file = fresh_secret("file")
    (tmp_path / "t").write_text(f"{from_file}\n")
    (tmp_path / "sub").mkdir()
    user = {"tokenFile": "t"}
    kc._normalize_user_token(user, str(tmp_path / "kubeconfig"), "kubeconfig k, user 'u'")
    assert user == {"token": from_file} and redact(from_file) == "***"
    user = {"tokenFile": "../t"}
    kc._normalize_user_token(user, str(tmp_path / "sub" / "kubeconfig"), "w")
    assert user == {"token": from_file}
    user = {"token": "", "tokenFile": str(tmp_path / "t")}
    kc._normalize_user_token(user, None, "w")
    assert user == {"token": from_file}
    nothing = {"username": "u"}
    kc._normalize_user_token(nothing, None, "w")
    assert nothing == {"username": "u"}


def test_a_token_file_that_is_no_path_empty_or_over_budget_is_refused(clean_env, tmp_path):
    with pytest.raises(ClusterConfigError) as caught:
        kc._normalize_user_token({"tokenFile": 7}, None, "kubeconfig k, user 'u'")
    assert str(caught.value) == "kubeconfig k, user 'u': tokenFile is not a path"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ClusterConfigError) as caught:
        kc._normalize_user_token({"tokenFile": "empty"}, str(tmp_path / "k"), "w")
    assert str(caught.value) == f"w: tokenFile {tmp_path / 'empty'} is empty"
    clean_env.setenv("HEDGEHOG_SYNC_KUBERNETES_MAX_TOKEN_FILE_BYTES", "6")
    (tmp_path / "six").write_text("123456")
    (tmp_path / "seven").write_text("1234567")
    user = {"tokenFile": "six"}
    kc._normalize_user_token(user, str(tmp_path / "k"), "w")
    assert user == {"token": "123456"}
    with pytest.raises(ClusterConfigError) as caught:
        kc._normalize_user_token({"tokenFile": "seven"}, str(tmp_path / "k"), "w")
    assert str(caught.value).startswith(f"w: tokenFile {tmp_path / 'seven'}: holds more than 6 bytes")


def configuration(host: str, authorization: str | None) -> k8s_client.Configuration:
    c = k8s_client.Configuration()
    c.host = host
    if authorization is not None:
        c.api_key["authorization"] = authorization
    return c


def test_the_credential_is_registered_and_never_sent_in_clear():
    token = fresh_secret("bearer")
    kc._check_authorization(configuration("https://k.example.com", f"Bearer {token}"), "w")
    assert redact(token) == "***"
    basic = fresh_secret("basic")
    kc._check_authorization(configuration("http://127.0.0.1:6443", basic), "w")  # no scheme word: all of it
    assert redact(basic) == "***"
    kc._check_authorization(configuration("http://localhost:6443", "Bearer " + fresh_secret("l")), "w")
    kc._check_authorization(configuration("http://k.example.com", None), "w")  # nothing to send
    kc._check_authorization(configuration("http://k.example.com", ""), "w")
    with pytest.raises(ClusterConfigError) as caught:
        kc._check_authorization(configuration("http://user:pw@k.example.com:8080/x?y=1", "Bearer "
                                              + fresh_secret("clear")), "kubeconfig k, current context")
    assert str(caught.value) == ("kubeconfig k, current context: server http://k.example.com:8080/x is plain http:// "
                                 "and not loopback; a credential is never sent in clear (use https://)")
    for bad in ("\n", "\x1f", "\x7f"):
        secret = fresh_secret("ctl")
        with pytest.raises(ClusterConfigError) as caught:
            kc._check_authorization(configuration("https://k", f"Bearer {secret}{bad}x"), "w")
        assert str(caught.value) == ("w: the credential holds a line break or control character; "
                                     "it cannot be sent as an HTTP header")
        assert redact(f"{secret}{bad}x") == "***"  # registered before it was refused
    kc._check_authorization(configuration("https://k", "Bearer " + fresh_secret("ok") + "~ x"), "w")


def test_a_client_key_that_is_not_utf8_is_registered_as_decoded_with_replacement():
    key = fresh_secret("raw-key")
    data = base64.b64encode(b"\xff\xfe" + key.encode()).decode()
    kc._register_credentials(ConfigNode("k", {"users": [{"name": "a", "user": {"client-key-data": data}}]}))
    assert redact(f"\ufffd\ufffd{key}") == "***"


def test_only_the_word_before_the_first_space_is_the_scheme():
    secret = fresh_secret("spaced") + " tail-part"
    kc._check_authorization(configuration("https://k", f"Bearer {secret}"), "w")
    assert redact(secret) == "***"


# --- kubernetes: survivors of the mutation run (issue 19) --------------------------------------------


def test_a_blank_bearer_token_registers_nothing_not_the_word_bearer():
    """An exec plugin that prints a blank token leaves the authorization value "Bearer " plus blanks.

    The credential is what follows the first space, and blanks trimmed are nothing to register; taking the
    word before it instead would make "Bearer" a secret and mask that word in every log line an operator
    reads (register_secret keeps any value of six characters or more).
    """
    for blank in (" ", "   "):
        kc._check_authorization(configuration("https://k.example.com", "Bearer" + blank), "w")
        assert redact("Authorization: Bearer <token>") == "Authorization: Bearer <token>"


def test_a_relative_token_file_without_a_kubeconfig_path_is_read_from_the_working_folder(clean_env, tmp_path):
    """A user whose kubeconfig file is unknown resolves a relative tokenFile against the working folder,
    as the kubernetes client does, never against some other folder."""
    token = fresh_secret("cwd")
    (tmp_path / "token").write_text(f"{token}\n")
    clean_env.chdir(tmp_path)
    user = {"tokenFile": "token"}
    kc._normalize_user_token(user, None, "w")
    assert user == {"token": token} and redact(token) == "***"


def test_a_token_file_that_is_not_utf8_is_named_in_the_error(clean_env, tmp_path):
    """The refusal of a token file that is not text names the kubeconfig, user and file, so the operator
    knows which file to fix, and carries none of its bytes."""
    token = fresh_secret("latin")
    (tmp_path / "bad").write_bytes(token.encode() + b"\xff\xfe")
    with pytest.raises(ClusterConfigError) as caught:
        kc._normalize_user_token({"tokenFile": "bad"}, str(tmp_path / "k"), "kubeconfig k, user 'u'")
    assert str(caught.value) == f"kubeconfig k, user 'u': tokenFile {tmp_path / 'bad'} is not UTF-8 text"
    assert token not in chain_text(caught.value)
    (tmp_path / "ctl").write_bytes(b"abc\x01defgh")
    with pytest.raises(ClusterConfigError) as caught:
        kc._normalize_user_token({"tokenFile": "ctl"}, str(tmp_path / "k"), "w")
    assert str(caught.value) == (f"w: tokenFile {tmp_path / 'ctl'}: the token holds a line break or control "
                                 "character inside it; it cannot be sent as an HTTP header")


def test_users_after_one_without_a_user_section_still_have_their_credentials_registered():
    """A kubeconfig entry with no usable `user:` section is skipped, not the end of the list: every later
    user's credentials are still masked in all output."""
    later = {k: fresh_secret(k) for k in ("after-token", "after-password")}
    users = [{"name": "c", "user": "not a mapping"}, {"name": "d"}, "not an entry",
             {"name": "e", "user": {"token": later["after-token"]}},
             ConfigNode("k", {"name": "f", "user": None}),
             {"name": "g", "user": {"password": later["after-password"]}}]
    kc._register_credentials(ConfigNode("k", {"users": users}))
    for value in later.values():
        assert redact(f"x {value} y") == "x *** y", value
