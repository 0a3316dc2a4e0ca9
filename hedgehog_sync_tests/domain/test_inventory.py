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
