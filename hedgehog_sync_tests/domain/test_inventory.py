import os

import pytest

from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.inventory import load_inventory, parse_inventory

GOOD = """
fabrics:
  - name: fab-east
    priority: high
    git: {url: "https://git.example.com/netops/fabrics.git", path: fabrics/fab-east, token_env: HEDGEHOG_SYNC_FAB_EAST_TOKEN}
    kubernetes: {kubeconfig: /etc/hedgehog-sync/fab-east.kubeconfig, context: fab-east}
  - name: fab-west
    enabled: false
    git: {url: "git@git.example.com:netops/west.git", ref: v1.2.0}
"""


def test_good_inventory_with_defaults():
    inv = parse_inventory(GOOD, "fabrics.yaml")
    assert inv.problems == []
    east, west = inv.fabrics
    assert (east.name, east.priority, east.git.ref, east.git.path) == ("fab-east", "high", "main", "fabrics/fab-east")
    assert (west.enabled, west.priority, west.kubernetes.namespace) == (False, "medium", "default")
    assert [f.name for f in inv.enabled()] == ["fab-east"]


BAD_ENTRIES = """
fabrics:
  - name: ok-1
    git: {url: "https://h/r.git"}
  - name: Bad_Key
    git: {url: "https://h/r.git"}
  - name: typo
    git: {url: "https://h/r.git", reff: main}
  - name: dup
    git: {url: "https://h/a.git"}
  - name: dup
    git: {url: "https://h/b.git"}
  - name: ok-2
    git: {url: "https://h/r.git"}
"""


def test_bad_entries_are_named_and_the_rest_load():
    inv = parse_inventory(BAD_ENTRIES, "/etc/fabrics.yaml")
    assert [f.name for f in inv.fabrics] == ["ok-1", "ok-2"]
    text = [str(p) for p in inv.problems]
    assert any(t.startswith("/etc/fabrics.yaml: fabrics[2] (Bad_Key): field 'name'") and "DNS label" in t for t in text)
    assert any(t.startswith("/etc/fabrics.yaml: fabrics[3] (typo): unknown field 'git.reff'") for t in text)
    assert any(t.startswith("/etc/fabrics.yaml: fabrics[5] (dup): duplicate name: fabrics[4]") for t in text)


@pytest.mark.parametrize("name", ["..", "a/b", "a|b", "a,b", "a b", "fäb", "-a", "a-", "A", "x" * 64, ""])
def test_partition_key_rule(name):
    inv = parse_inventory(f'fabrics: [{{name: "{name}", git: {{url: "https://h/r.git"}}}}]', "f.yaml")
    assert inv.fabrics == [] and "name" in str(inv.problems[0])


@pytest.mark.parametrize("url,why", [
    ("ext::sh -c touch% /tmp/pwned", "transport"),
    ("fd::17", "transport"),
    ("-uhelp", "start with '-'"),
    ("--upload-pack=touch /tmp/x", "start with '-'"),
    ("https://user:secret@git.example.com/r.git", "credentials"),
    ("/srv/git/repo", "allow_local"),
    ("file:///srv/git/repo", "allow_local"),
])
def test_refused_git_urls(url, why):
    inv = parse_inventory(f'fabrics: [{{name: f, git: {{url: "{url}"}}}}]', "f.yaml")
    assert inv.fabrics == []
    assert why in str(inv.problems[0])
    assert "secret" not in str(inv.problems[0]) or why != "credentials"


def test_local_git_allowed_with_consent_and_token_env_must_be_a_name():
    inv = parse_inventory('fabrics: [{name: f, git: {url: "file:///srv/r", allow_local: true}}]', "f.yaml")
    assert inv.fabrics and not inv.problems
    inv = parse_inventory('fabrics: [{name: f, git: {url: "https://h/r", token_env: "ghp_abc-123"}}]', "f.yaml")
    assert "NAME of an environment variable" in str(inv.problems[0])


def test_top_level_typo_is_reported_but_fabrics_still_load():
    inv = parse_inventory(GOOD + "fabric: []\n", "f.yaml")
    assert len(inv.fabrics) == 2
    assert "unknown top-level key 'fabric'" in str(inv.problems[0])


@pytest.mark.parametrize("text", ["fabrics: [", "- just a list", "fabrics: {a: 1}"])
def test_unusable_file_raises_inventory_error_naming_the_file(text):
    with pytest.raises(InventoryError, match="inv.yaml"):
        parse_inventory(text, "inv.yaml")


def test_missing_file_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HEDGEHOG_SYNC_INVENTORY", str(tmp_path / "nope.yaml"))
    with pytest.raises(InventoryError, match="HEDGEHOG_SYNC_INVENTORY"):
        load_inventory()


def test_user_ignore_rules_become_normalize_rules():
    inv = parse_inventory("""
fabrics:
  - name: f
    git: {url: "https://h/r.git"}
    ignore:
      - {kind: VPC, pointer: /spec/subnets/*/dhcp}
""", "f.yaml")
    rules = inv.fabrics[0].rules
    assert rules.pointers_for("vpc.githedgehog.com", "VPC")[-1] == "/spec/subnets/*/dhcp"
    assert "/spec/subnets/*/dhcp" not in rules.pointers_for("vpc.githedgehog.com", "VPCAttachment")


# --- issue 12: tokens, query strings, bounded reads ----------------------------------------------------

def _one(git: str) -> "object":
    return parse_inventory(f"fabrics: [{{name: fab-a, git: {git}}}]", "f.yaml")


@pytest.mark.parametrize("token_env", ["PGPASSWORD", "DAGSTER_PG_PASSWORD", "AWS_SECRET_ACCESS_KEY", "HEDGEHOG_SYNC_",
                                       "HEDGEHOG_SYNC_ALERT_WEBHOOK_URL", "HEDGEHOG_SYNC_INVENTORY"])
def test_token_env_may_only_name_variables_set_aside_for_git_tokens(token_env):
    inv = _one(f'{{url: "https://h/r.git", token_env: {token_env}}}')
    assert inv.fabrics == []
    (problem,) = inv.problems
    assert str(problem).startswith("f.yaml: fabrics[1] (fab-a): field 'git.token_env'")
    assert f"'{token_env}' is refused" in str(problem) and "HEDGEHOG_SYNC_" in str(problem)


def test_the_token_env_prefix_is_configurable(monkeypatch):
    monkeypatch.setenv("HEDGEHOG_SYNC_TOKEN_ENV_PREFIX", "GITOPS_")
    assert _one('{url: "https://h/r.git", token_env: GITOPS_EAST}').fabrics
    assert "GITOPS_" in str(_one('{url: "https://h/r.git", token_env: HEDGEHOG_SYNC_EAST}').problems[0])


@pytest.mark.parametrize("git, ok", [
    ('{url: "http://git.example.com/r.git", token_env: HEDGEHOG_SYNC_T}', False),
    ('{url: "http://git.example.com/r.git", token_env: HEDGEHOG_SYNC_T, allow_local: true}', False),
    ('{url: "http://127.0.0.1:8080/r.git", token_env: HEDGEHOG_SYNC_T}', False),
    ('{url: "http://127.0.0.1:8080/r.git", token_env: HEDGEHOG_SYNC_T, allow_local: true}', True),
    ('{url: "http://localhost/r.git", token_env: HEDGEHOG_SYNC_T, allow_local: true}', True),
    ('{url: "http://[::1]/r.git", token_env: HEDGEHOG_SYNC_T, allow_local: true}', True),
    ('{url: "http://git.example.com/r.git"}', True),  # no token, nothing to leak
    ('{url: "https://git.example.com/r.git", token_env: HEDGEHOG_SYNC_T}', True),
])
def test_no_token_over_plain_http_except_to_loopback_with_allow_local(git, ok):
    inv = _one(git)
    assert bool(inv.fabrics) is ok, inv.problems
    if not ok:
        assert "fabrics[1] (fab-a)" in str(inv.problems[0]) and "https://" in str(inv.problems[0])


@pytest.mark.parametrize("url", ["https://git.example.com/r.git?private_token=glpat-abcdefghijklmnop",
                                 "https://git.example.com/r.git?x=1", "https://git.example.com/r.git#frag",
                                 "ssh://git@git.example.com/r.git?key=abc"])
def test_credentials_in_a_query_string_are_refused_and_never_echoed(url):
    (problem,) = _one(f'{{url: "{url}"}}').problems
    assert "query string" in str(problem) and "glpat" not in str(problem)


def test_unset_token_env_is_a_warning_naming_the_entry():
    inv = parse_inventory(GOOD, "fabrics.yaml")
    (warning,) = inv.environment_warnings({})
    assert str(warning).startswith("fabrics.yaml: fabrics[1] (fab-east): git.token_env HEDGEHOG_SYNC_FAB_EAST_TOKEN")
    assert inv.environment_warnings({"HEDGEHOG_SYNC_FAB_EAST_TOKEN": "  \n"})  # blank is unset
    assert inv.environment_warnings({"HEDGEHOG_SYNC_FAB_EAST_TOKEN": "ghp_x"}) == []


@pytest.mark.parametrize("source", ["/dev/zero", "fifo"])
def test_an_inventory_that_is_not_a_regular_file_is_refused_without_reading_it(tmp_path, source):
    path = source
    if source == "fifo":
        path = str(tmp_path / "inv.fifo")
        os.mkfifo(path)  # opening it for reading would wait for a writer forever
    with pytest.raises(InventoryError, match="not a regular file"):
        load_inventory(path)


def test_the_size_cap_counts_bytes_read_not_what_stat_says(tmp_path, monkeypatch):
    monkeypatch.setenv("HEDGEHOG_SYNC_INVENTORY_MAX_BYTES", "100")
    small = tmp_path / "ok.yaml"
    small.write_text('fabrics: [{name: a, git: {url: "https://h/r.git"}}]\n')
    assert load_inventory(str(small)).fabrics
    big = tmp_path / "big.yaml"
    big.write_text("fabrics: []\n" + "#" * 200)
    with pytest.raises(InventoryError, match="over the 100 byte limit.*HEDGEHOG_SYNC_INVENTORY_MAX_BYTES"):
        load_inventory(str(big))
    # /proc files say they are 0 bytes long: only the bytes actually read count.
    with pytest.raises(InventoryError, match="over the 100 byte limit"):
        load_inventory("/proc/self/maps")
