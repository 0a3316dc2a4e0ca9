"""domain/inventory: kills the mutants that survived the domain tests (issue 19). The inventory is what
the operator writes, and its checks guard the git URLs, the tokens and what reaches git: every message a
person reads is pinned here whole (the file, the entry, the field, and how to fix it). Expected strings
are written from docs/contracts.md#the-inventory-file and the validators' intent."""

import json
import os
import re

import pytest

from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.inventory import (
    MAX_INVENTORY_BYTES, GitSettings, Inventory, InventoryProblem, inventory_path, load_inventory,
    max_inventory_bytes, parse_inventory, token_env_prefix, token_env_problem,
)

EMPTY = "must not be empty"
DASH = "must not start with '-' (it would be read as a git option)"
TRANSPORT = "transport helpers such as ext:: and fd:: are refused"
CREDENTIALS = "must not carry credentials; put the token in an env var named by token_env"
QUERY = ("must not carry a query string or fragment (credentials there would be sent and shown); put the token "
         "in an env var named by token_env")
SSH_OPTION = "host and user must not start with '-' (ssh would read them as options)"
LOCAL = "git.url is a local path or file:// URL; set git.allow_local: true to permit it (demo and tests only)"
CLEAR_TEXT = ("git.token_env is set but git.url is plain http://: the token would travel in clear text; use "
              "https:// (plain http is only allowed to a loopback host with allow_local: true)")


def plain_id(value) -> str:
    """A test id mutmut can hand back to pytest: letters, digits, '.', '_' and '-' only."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", str(value))[:30] or "empty"


def one(git: dict, path: str = "inv.yaml", **entry):
    return parse_inventory(json.dumps({"fabrics": [{"name": "fab-a", "git": git, **entry}]}), path)


def problems(inv) -> list[str]:
    return [str(p) for p in inv.problems]


@pytest.mark.parametrize("url,why", [
    ("", EMPTY), ("   ", EMPTY),
    ("-oops", DASH), ("-u@h:r", DASH), ("  -x", DASH),
    ("ext::sh -c x", TRANSPORT), ("EXT::sh", TRANSPORT), ("fd::17", TRANSPORT), ("FD::3", TRANSPORT),
    ("host::x/y", TRANSPORT),
    ("https://u:p@h/r.git", CREDENTIALS), ("https://tok@h/r.git", CREDENTIALS), ("HTTP://tok@h/r.git", CREDENTIALS),
    ("ssh://u:p@h/r.git", CREDENTIALS), ("SSH://u:p@h/r.git", CREDENTIALS),
    ("https://h/r.git?private_token=x", QUERY), ("https://h/r.git#frag", QUERY), ("HTTPS://h/r.git?x=1", QUERY),
    ("ssh://-oProxyCommand=x/r", SSH_OPTION), ("ssh://u@-h/r", SSH_OPTION), ("ssh://[-h]/r", SSH_OPTION),
    ("SSH://-h/r", SSH_OPTION), ("u@-h:r", SSH_OPTION), ("-h:r", DASH),
    ("/srv/r.git", LOCAL), ("file:///srv/r.git", LOCAL), ("FILE:///srv/r.git", LOCAL), ("repo", LOCAL),
], ids=plain_id)
def test_a_refused_git_url_names_the_file_the_entry_and_why(url, why):
    inv = one({"url": url})
    assert inv.fabrics == []
    field = "" if why == LOCAL else "field 'git.url' "
    assert problems(inv) == [f"inv.yaml: fabrics[1] (fab-a): {field}{why}"]


@pytest.mark.parametrize("url,kept", [
    ("ssh://git@h/r.git", "ssh://git@h/r.git"), ("git@h:r.git", "git@h:r.git"), ("http://h/r.git", "http://h/r.git"),
    ("HTTPS://h/r.git", "HTTPS://h/r.git"), ("  https://h/r.git \n", "https://h/r.git"),
    ("https://h/a-b/r.git", "https://h/a-b/r.git"), ("ssh://git@h:22/r-x.git", "ssh://git@h:22/r-x.git"),
    ("https://h/a::b", "https://h/a::b"), ("git@h:team/a-b.git", "git@h:team/a-b.git"),
    # scp-style addresses whose host or user holds a '-' (not at its start) are ordinary
    ("git@my-host:r.git", "git@my-host:r.git"), ("git@git-server.example.com:team/repo.git",
                                                  "git@git-server.example.com:team/repo.git"),
    ("deploy-bot@h:r.git", "deploy-bot@h:r.git"),
], ids=plain_id)
def test_an_accepted_git_url_is_kept_trimmed(url, kept):
    inv = one({"url": url})
    assert problems(inv) == [] and inv.fabrics[0].git.url == kept


@pytest.mark.parametrize("ref", ["", "-x", "a b", "a~1", "a^", "a:b", "a?", "a*", "a[", "a\\b", "a..b"], ids=plain_id)
def test_a_ref_git_would_misread_is_refused(ref):
    assert problems(one({"url": "https://h/r.git", "ref": ref})) == [
        "inv.yaml: fabrics[1] (fab-a): field 'git.ref' is not a valid branch, tag or commit name"]


@pytest.mark.parametrize("ref", ["main", "v1.2.0", "release/2026-12", "a.b", "0123abc"])
def test_ordinary_refs_pass(ref):
    assert one({"url": "https://h/r.git", "ref": ref}).fabrics[0].git.ref == ref


@pytest.mark.parametrize("path,kept", [(" /fabrics/east/ ", "fabrics/east"), ("", ""), ("a..b/c", "a..b/c"),
                                       ("/", "")], ids=plain_id)
def test_a_path_is_trimmed(path, kept):
    assert one({"url": "https://h/r.git", "path": path}).fabrics[0].git.path == kept


@pytest.mark.parametrize("path", ["..", "a/../b", "/../x", "x/.."])
def test_a_path_may_not_leave_the_repository(path):
    assert problems(one({"url": "https://h/r.git", "path": path})) == [
        "inv.yaml: fabrics[1] (fab-a): field 'git.path' must stay inside the repository (no '..')"]


@pytest.mark.parametrize("name", ["ghp_abc-123", "1TOKEN", "A B", "HEDGEHOG_SYNC_X-1", "", "HEDGEHOG_SYNC_X\n"],
                         ids=plain_id)
def test_token_env_must_be_a_variable_name(name, monkeypatch):
    monkeypatch.delenv("HEDGEHOG_SYNC_TOKEN_ENV_PREFIX", raising=False)
    assert problems(one({"url": "https://h/r.git", "token_env": name})) == [
        "inv.yaml: fabrics[1] (fab-a): field 'git.token_env' must be the NAME of an environment variable, "
        "not the token itself"]


def test_token_env_outside_the_prefix_is_refused_with_a_rename_to_suggest(monkeypatch):
    monkeypatch.delenv("HEDGEHOG_SYNC_TOKEN_ENV_PREFIX", raising=False)
    assert problems(one({"url": "https://h/r.git", "token_env": "PGPASSWORD"})) == [
        "inv.yaml: fabrics[1] (fab-a): field 'git.token_env' 'PGPASSWORD' is refused: git tokens may only come "
        "from environment variables whose names start with HEDGEHOG_SYNC_ (rename it, for example to "
        "HEDGEHOG_SYNC_PGPASSWORD, or set HEDGEHOG_SYNC_TOKEN_ENV_PREFIX)"]
    assert token_env_problem("HEDGEHOG_SYNC_") == (
        "git.token_env 'HEDGEHOG_SYNC_' is refused: git tokens may only come from environment variables whose "
        "names start with HEDGEHOG_SYNC_ (rename it, for example to HEDGEHOG_SYNC_GIT_TOKEN, or set "
        "HEDGEHOG_SYNC_TOKEN_ENV_PREFIX)")


@pytest.mark.parametrize("name", ["HEDGEHOG_SYNC_INVENTORY", "HEDGEHOG_SYNC_INVENTORY_MAX_BYTES", "HEDGEHOG_SYNC_STATE_DIR",
                                  "HEDGEHOG_SYNC_ALERT_WEBHOOK_URL", "HEDGEHOG_SYNC_TOKEN_ENV_PREFIX",
                                  "HEDGEHOG_SYNC_GIT_TIMEOUT", "HEDGEHOG_SYNC_KUBERNETES_MAX_BYTES",
                                  "HEDGEHOG_SYNC_FUZZ_SEED"])
def test_token_env_may_not_name_one_of_hedgehog_syncs_own_settings(name, monkeypatch):
    monkeypatch.delenv("HEDGEHOG_SYNC_TOKEN_ENV_PREFIX", raising=False)
    assert problems(one({"url": "https://h/r.git", "token_env": name})) == [
        f"inv.yaml: fabrics[1] (fab-a): field 'git.token_env' '{name}' is refused: it is one of hedgehog-sync's "
        "own settings, not a token; name a variable such as HEDGEHOG_SYNC_<FABRIC>_GIT_TOKEN"]


@pytest.mark.parametrize("name", ["HEDGEHOG_SYNC_EAST_GIT_TOKEN", "HEDGEHOG_SYNC_T", "HEDGEHOG_SYNC_GITHUB",
                                  "HEDGEHOG_SYNC_X_INVENTORY"])
def test_token_env_under_the_prefix_passes(name, monkeypatch):
    monkeypatch.delenv("HEDGEHOG_SYNC_TOKEN_ENV_PREFIX", raising=False)
    assert token_env_problem(name) is None
    assert one({"url": "https://h/r.git", "token_env": name}).fabrics[0].git.token_env == name


def test_a_configured_prefix_replaces_the_default_and_lifts_the_own_settings_rule(monkeypatch):
    monkeypatch.setenv("HEDGEHOG_SYNC_TOKEN_ENV_PREFIX", "  GITOPS_ ")
    assert token_env_prefix() == "GITOPS_"
    assert token_env_problem("GITOPS_EAST") is None
    assert token_env_problem("GITOPS_INVENTORY") is None  # the own-settings rule guards the default prefix only
    assert token_env_problem("HEDGEHOG_SYNC_EAST") == (
        "git.token_env 'HEDGEHOG_SYNC_EAST' is refused: git tokens may only come from environment variables "
        "whose names start with GITOPS_ (rename it, for example to GITOPS_HEDGEHOG_SYNC_EAST, or set "
        "HEDGEHOG_SYNC_TOKEN_ENV_PREFIX)")
    monkeypatch.setenv("HEDGEHOG_SYNC_TOKEN_ENV_PREFIX", "HEDGEHOG_SYNC_")
    assert token_env_problem("HEDGEHOG_SYNC_INVENTORY") is not None
    monkeypatch.setenv("HEDGEHOG_SYNC_TOKEN_ENV_PREFIX", "   ")
    assert token_env_prefix() == "HEDGEHOG_SYNC_"
    monkeypatch.delenv("HEDGEHOG_SYNC_TOKEN_ENV_PREFIX")
    assert token_env_prefix() == "HEDGEHOG_SYNC_"


@pytest.mark.parametrize("url,allow_local,ok", [
    ("http://git.example.com/r.git", False, False),
    ("HTTP://git.example.com/r.git", False, False),
    ("http://git.example.com/r.git", True, False),
    ("http://127.0.0.1:8080/r.git", False, False),
    ("http://127.0.0.1:8080/r.git", True, True),
    ("http://127.9.9.9/r.git", True, True),
    ("http://localhost/r.git", True, True),
    ("http://localhost:3000/r.git", True, True),
    ("http://[::1]/r.git", True, True),
    ("http://[::ffff:10.0.0.1]/r.git", True, False),
    ("http://10.0.0.1/r.git", True, False),
    ("http://localhost.example.com/r.git", True, False),
    ("http://[bad/r.git", True, False),  # urlsplit refuses it: not loopback
    ("https://git.example.com/r.git", False, True),
], ids=["remote", "remote-upper", "remote-allow-local", "loopback-no-consent", "loopback", "loopback-127-9",
        "localhost", "localhost-port", "ipv6-loopback", "ipv6-mapped", "private", "localhost-lookalike",
        "unparsable", "https"])
def test_a_token_travels_over_plain_http_only_to_loopback_with_allow_local(url, allow_local, ok):
    inv = one({"url": url, "token_env": "HEDGEHOG_SYNC_T", "allow_local": allow_local})
    if ok:
        assert problems(inv) == [] and inv.fabrics
    else:
        assert problems(inv) == [f"inv.yaml: fabrics[1] (fab-a): field 'git' {CLEAR_TEXT}"]
    # without a token nothing can leak
    assert one({"url": url, "allow_local": allow_local}).fabrics or url == "http://[bad/r.git"


@pytest.mark.parametrize("url,local", [
    ("file:///srv/r", True), ("FILE:///srv/r", True), ("/srv/r", True), ("../r", True), ("r", True),
    ("git@h:r.git", False), ("deploy.bot@git.example.com:team/r", False), ("https://h/r", False),
    ("ssh://git@h/r", False), ("a b@h:r", True),
], ids=plain_id)
def test_is_local(url, local):
    assert GitSettings(url=url, allow_local=True).is_local() is local


def test_namespace_other_than_default_is_refused():
    inv = one({"url": "https://h/r.git"}, kubernetes={"namespace": "fab"})
    assert problems(inv) == ["inv.yaml: fabrics[1] (fab-a): field 'kubernetes.namespace' "
                             "Hedgehog only serves namespace 'default'"]
    cfg = one({"url": "https://h/r.git"}, kubernetes={"namespace": "default", "context": "c"}).fabrics[0]
    assert (cfg.kubernetes.namespace, cfg.kubernetes.context, cfg.kubernetes.kubeconfig) == ("default", "c", None)


def test_defaults_of_an_entry():
    (cfg,) = one({"url": "https://h/r.git"}).fabrics
    assert (cfg.enabled, cfg.priority, cfg.git.ref, cfg.git.path, cfg.git.token_env, cfg.git.allow_local) == (
        True, "medium", "main", "", None, False)
    assert cfg.ignore == () and cfg.kubernetes.namespace == "default"


def test_an_ignore_entry_defaults_to_any_kind_and_group_and_needs_a_pointer():
    (cfg,) = one({"url": "https://h/r.git"}, ignore=[{"pointer": "/spec/x"}]).fabrics
    (rule,) = cfg.rules.ignore
    assert (rule.kind, rule.pointer, rule.group) == ("*", "/spec/x", "*")
    inv = one({"url": "https://h/r.git"}, ignore=[{"pointer": "spec"}])
    assert len(inv.problems) == 1 and str(inv.problems[0]).startswith(
        "inv.yaml: fabrics[1] (fab-a): field 'ignore.0.pointer' String should match pattern")


@pytest.mark.parametrize("name", ["Fab", "-a", "a-", "a_b", "x" * 64, "", "fab\n"], ids=plain_id)
def test_a_name_that_is_no_dns_label_is_refused_saying_what_is(name):
    inv = parse_inventory(json.dumps({"fabrics": [{"name": name, "git": {"url": "https://h/r.git"}}]}), "inv.yaml")
    who = f" ({name})" if name else ""
    assert problems(inv) == [f"inv.yaml: fabrics[1]{who}: field 'name' must be a DNS label: lowercase letters, "
                             "digits and '-', 1-63 characters, starting and ending with a letter or digit"]


@pytest.mark.parametrize("name", ["a", "0", "a-b", "x" * 63, "fab-east-1"])
def test_dns_labels_pass(name):
    assert [f.name for f in parse_inventory(json.dumps(
        {"fabrics": [{"name": name, "git": {"url": "https://h/r.git"}}]}), "i.yaml").fabrics] == [name]


def test_unknown_missing_and_wrongly_typed_fields_are_named():
    text = json.dumps({"fabrics": [
        {"name": "a", "git": {"url": "https://h/r.git", "reff": "main"}},
        {"name": "b"},
        {"git": {"url": "https://h/r.git"}},
        {"name": "d", "priority": "urgent", "git": {"url": "https://h/r.git"}},
        {"name": 7, "git": {"url": "https://h/r.git"}},
        "just text",
        {"name": "g", "git": {"url": "https://h/r.git"}},
    ]})
    inv = parse_inventory(text, "/etc/hs/fabrics.yaml")
    assert problems(inv) == [
        "/etc/hs/fabrics.yaml: fabrics[1] (a): unknown field 'git.reff' (check the spelling; unknown keys are refused)",
        "/etc/hs/fabrics.yaml: fabrics[2] (b): missing required field 'git'",
        "/etc/hs/fabrics.yaml: fabrics[3]: missing required field 'name'",
        "/etc/hs/fabrics.yaml: fabrics[4] (d): field 'priority' Input should be 'critical', 'high', 'medium', "
        "'low' or 'maintenance'",
        "/etc/hs/fabrics.yaml: fabrics[5]: field 'name' Input should be a valid string",
        "/etc/hs/fabrics.yaml: fabrics[6]: entry is not a mapping",
    ]
    assert [f.name for f in inv.fabrics] == ["g"] and inv.index == {"g": 7}


def test_problem_text_for_the_file_an_entry_and_a_named_entry():
    assert str(InventoryProblem("f.yaml", None, None, "m")) == "f.yaml: m"
    assert str(InventoryProblem("f.yaml", None, "x", "m")) == "f.yaml: m"
    assert str(InventoryProblem("f.yaml", 3, None, "m")) == "f.yaml: fabrics[3]: m"
    assert str(InventoryProblem("f.yaml", 3, "", "m")) == "f.yaml: fabrics[3]: m"
    assert str(InventoryProblem("f.yaml", 3, "x", "m")) == "f.yaml: fabrics[3] (x): m"


def test_every_copy_of_a_duplicated_name_is_ignored_and_each_later_one_named():
    text = json.dumps({"fabrics": [
        {"name": "a", "git": {"url": "https://h/1.git"}}, {"name": "b", "git": {"url": "https://h/2.git"}},
        {"name": "a", "git": {"url": "https://h/3.git"}}, {"name": "c", "git": {"url": "https://h/4.git"}},
        {"name": "a", "git": {"url": "https://h/5.git"}},
    ]})
    inv = parse_inventory(text, "f.yaml")
    assert problems(inv) == [
        "f.yaml: fabrics[3] (a): duplicate name: fabrics[1] already uses 'a'; both entries are ignored until one "
        "is renamed",
        "f.yaml: fabrics[5] (a): duplicate name: fabrics[1] already uses 'a'; both entries are ignored until one "
        "is renamed",
    ]
    assert [f.name for f in inv.fabrics] == ["b", "c"] and inv.index == {"b": 2, "c": 4}
    assert list(inv.by_name()) == ["b", "c"] and inv.by_name()["c"].git.url == "https://h/4.git"


def test_top_level_keys_other_than_fabrics_and_notifications_are_reported():
    text = "fabrics: []\nnotifications: {routes: []}\nfabric: []\nowner: me\n"
    inv = parse_inventory(text, "f.yaml")
    assert problems(inv) == [
        "f.yaml: unknown top-level key 'fabric' (only 'fabrics' and 'notifications' are allowed)",
        "f.yaml: unknown top-level key 'owner' (only 'fabrics' and 'notifications' are allowed)"]
    assert inv.notifications == {"routes": []} and inv.fabrics == [] and inv.index == {}
    assert parse_inventory("fabrics: []\n", "f.yaml").notifications is None


def test_enabled_and_index():
    text = json.dumps({"fabrics": [{"name": "a", "enabled": False, "git": {"url": "https://h/1.git"}},
                                   {"name": "b", "git": {"url": "https://h/2.git"}}]})
    inv = parse_inventory(text, "f.yaml")
    assert [f.name for f in inv.enabled()] == ["b"] and inv.index == {"a": 1, "b": 2}


@pytest.mark.parametrize("text,message", [
    ("fabrics: [", "f.yaml: not valid YAML at line 2; fix the syntax"),
    ("a: 1\nb: [\n", "f.yaml: not valid YAML at line 3; fix the syntax"),
    ("a: 1\n  b: 2\n", "f.yaml: not valid YAML at line 2; fix the syntax"),
    ("a: *nope\n", "f.yaml: not valid YAML at line 1; fix the syntax"),
    ("", "f.yaml: expected a mapping with a 'fabrics:' list at the top"),
    ("- a\n", "f.yaml: expected a mapping with a 'fabrics:' list at the top"),
    ("fabrics: {a: 1}\n", "f.yaml: expected a mapping with a 'fabrics:' list at the top"),
    ("fabrics:\n", "f.yaml: expected a mapping with a 'fabrics:' list at the top"),
    ("fabric: []\n", "f.yaml: expected a mapping with a 'fabrics:' list at the top"),
], ids=["unclosed", "unclosed-line-3", "bad-indent", "unknown-alias", "empty", "list", "fabrics-mapping",
        "fabrics-null", "no-fabrics"])
def test_an_unusable_file_raises_one_error_naming_it(text, message):
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "f.yaml")
    assert str(caught.value) == message


def test_an_alias_bomb_is_refused_before_anything_is_built():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 7):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    text = "fabrics: []\n" + "\n".join(lines) + "\n"
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "f.yaml")
    assert str(caught.value) == ("f.yaml: YAML aliases expand to more than 1000000 nodes (an alias bomb?); write "
                                 "the entries out")
    # a few aliases are fine
    ok = parse_inventory("x: &g {url: 'https://h/r.git'}\nfabrics: [{name: a, git: *g}, {name: b, git: *g}]\n",
                         "f.yaml")
    assert [f.name for f in ok.fabrics] == ["a", "b"]


def test_environment_warnings_name_the_entry_and_the_variable():
    text = json.dumps({"fabrics": [
        {"name": "a", "git": {"url": "https://h/1.git"}},
        {"name": "b", "git": {"url": "https://h/2.git", "token_env": "HEDGEHOG_SYNC_B"}},
        {"name": "c", "git": {"url": "https://h/3.git", "token_env": "HEDGEHOG_SYNC_C"}},
    ]})
    inv = parse_inventory(text, "f.yaml")
    assert [str(w) for w in inv.environment_warnings({"HEDGEHOG_SYNC_C": " \t"})] == [
        "f.yaml: fabrics[2] (b): git.token_env HEDGEHOG_SYNC_B is not set (or empty) here: git will be asked "
        "without a token; set it where the fabric is synced",
        "f.yaml: fabrics[3] (c): git.token_env HEDGEHOG_SYNC_C is not set (or empty) here: git will be asked "
        "without a token; set it where the fabric is synced"]
    assert inv.environment_warnings({"HEDGEHOG_SYNC_B": "t", "HEDGEHOG_SYNC_C": "u"}) == []


def test_environment_warnings_read_the_process_environment_by_default(monkeypatch):
    inv = parse_inventory(json.dumps({"fabrics": [
        {"name": "b", "git": {"url": "https://h/2.git", "token_env": "HEDGEHOG_SYNC_MUTANTS_B"}}]}), "f.yaml")
    monkeypatch.setenv("HEDGEHOG_SYNC_MUTANTS_B", "tok")
    assert inv.environment_warnings() == []
    monkeypatch.delenv("HEDGEHOG_SYNC_MUTANTS_B")
    assert len(inv.environment_warnings()) == 1


def test_an_inventory_built_by_hand_warns_without_an_index():
    cfg = one({"url": "https://h/r.git", "token_env": "HEDGEHOG_SYNC_T"}).fabrics[0]
    assert [str(w) for w in Inventory("x.yaml", [cfg]).environment_warnings({})] == [
        "x.yaml: git.token_env HEDGEHOG_SYNC_T is not set (or empty) here: git will be asked without a token; "
        "set it where the fabric is synced"]


def test_inventory_path_explicit_then_environment_then_default(monkeypatch):
    monkeypatch.delenv("HEDGEHOG_SYNC_INVENTORY", raising=False)
    assert inventory_path() == "fabrics.yaml"
    assert inventory_path("x.yaml") == "x.yaml"
    monkeypatch.setenv("HEDGEHOG_SYNC_INVENTORY", "/etc/hs.yaml")
    assert inventory_path() == "/etc/hs.yaml"
    assert inventory_path("x.yaml") == "x.yaml"
    monkeypatch.setenv("HEDGEHOG_SYNC_INVENTORY", "")
    assert inventory_path() == "fabrics.yaml"


@pytest.mark.parametrize("value,cap", [(None, 4 * 1024 * 1024), ("", 4194304), ("abc", 4194304), ("0", 4194304),
                                       ("-5", 4194304), ("1", 1), ("100", 100), ("1.5", 4194304)])
def test_the_size_cap_setting(value, cap, monkeypatch):
    assert MAX_INVENTORY_BYTES == 4194304
    if value is None:
        monkeypatch.delenv("HEDGEHOG_SYNC_INVENTORY_MAX_BYTES", raising=False)
    else:
        monkeypatch.setenv("HEDGEHOG_SYNC_INVENTORY_MAX_BYTES", value)
    assert max_inventory_bytes() == cap


def test_a_file_exactly_at_the_cap_loads_and_one_byte_more_is_refused(tmp_path, monkeypatch):
    body = 'fabrics: [{name: a, git: {url: "https://h/r.git"}}]\n'
    monkeypatch.setenv("HEDGEHOG_SYNC_INVENTORY_MAX_BYTES", str(len(body)))
    path = tmp_path / "f.yaml"
    path.write_text(body)
    inv = load_inventory(str(path))
    assert inv.path == str(path) and [f.name for f in inv.fabrics] == ["a"]
    path.write_text(body + "\n")
    with pytest.raises(InventoryError) as caught:
        load_inventory(str(path))
    assert str(caught.value) == (f"{path}: inventory is over the {len(body)} byte limit; split the fleet or raise "
                                 "HEDGEHOG_SYNC_INVENTORY_MAX_BYTES")


def test_a_file_larger_than_one_read_is_read_whole(tmp_path, monkeypatch):
    monkeypatch.delenv("HEDGEHOG_SYNC_INVENTORY_MAX_BYTES", raising=False)
    entries = [{"name": f"f-{i}", "git": {"url": f"https://h/{i}.git", "path": "p" * 150_000}} for i in range(8)]
    path = tmp_path / "big.yaml"
    path.write_text(json.dumps({"fabrics": entries}))
    assert os.path.getsize(path) > 1 << 20
    monkeypatch.setenv("HEDGEHOG_SYNC_INVENTORY_MAX_BYTES", str(os.path.getsize(path)))
    inv = load_inventory(str(path))
    assert len(inv.fabrics) == 8 and inv.fabrics[-1].name == "f-7"


def test_a_file_over_the_cap_by_far_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HEDGEHOG_SYNC_INVENTORY_MAX_BYTES", "10")
    path = tmp_path / "f.yaml"
    path.write_text("fabrics: []\n" * 1000)
    with pytest.raises(InventoryError, match=r"inventory is over the 10 byte limit"):
        load_inventory(str(path))


def test_unreadable_inventories_are_named_with_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("HEDGEHOG_SYNC_INVENTORY_MAX_BYTES", raising=False)
    missing = tmp_path / "nope.yaml"
    with pytest.raises(InventoryError) as caught:
        load_inventory(str(missing))
    assert str(caught.value) == (f"{missing}: inventory file not found; create it or set HEDGEHOG_SYNC_INVENTORY "
                                 "to its path")
    with pytest.raises(InventoryError) as caught:
        load_inventory(str(tmp_path))
    assert str(caught.value) in (f"{tmp_path}: is a folder; name the inventory file",
                                 f"{tmp_path}: not a regular file (a device, pipe or socket); the inventory must "
                                 "be a YAML file")
    fifo = tmp_path / "inv.fifo"
    os.mkfifo(fifo)
    with pytest.raises(InventoryError) as caught:
        load_inventory(str(fifo))
    assert str(caught.value) == (f"{fifo}: not a regular file (a device, pipe or socket); the inventory must be a "
                                 "YAML file")
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(loop)
    with pytest.raises(InventoryError) as caught:
        load_inventory(str(loop))
    assert str(caught.value) == f"{loop}: cannot be opened (Too many levels of symbolic links); check its permissions"
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"fabrics: [\xff]\n")
    with pytest.raises(InventoryError) as caught:
        load_inventory(str(binary))
    assert str(caught.value) == f"{binary}: not UTF-8 text; the inventory must be a YAML file"


def test_the_inventory_is_read_from_the_environment_when_not_named(tmp_path, monkeypatch):
    path = tmp_path / "env.yaml"
    path.write_text('fabrics: [{name: e, git: {url: "https://h/r.git"}}]\n')
    monkeypatch.setenv("HEDGEHOG_SYNC_INVENTORY", str(path))
    monkeypatch.delenv("HEDGEHOG_SYNC_INVENTORY_MAX_BYTES", raising=False)
    inv = load_inventory()
    assert inv.path == str(path) and [f.name for f in inv.fabrics] == ["e"]


@pytest.mark.parametrize("key", ["__root__", "__ROOT__", "XX__root__XX", "root"], ids=plain_id)
def test_an_unknown_key_is_named_back_as_written(key):
    """An unknown key, at the entry or inside git:, is named back exactly as the operator wrote it (with
    its path), so the misspelt key can be found in the file; a key named like pydantic 1's `__root__` marker,
    or resembling it, is not dropped from the name (it was: "unknown field ''"; found by mutation testing)."""
    inv = one({"url": "https://h/r.git", key: 1}, **{key: 2})
    assert inv.fabrics == []
    assert problems(inv) == [
        f"inv.yaml: fabrics[1] (fab-a): unknown field 'git.{key}' (check the spelling; unknown keys are refused)",
        f"inv.yaml: fabrics[1] (fab-a): unknown field '{key}' (check the spelling; unknown keys are refused)",
    ]
