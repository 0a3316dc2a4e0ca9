"""The inventory file is YAML an operator writes: whatever it holds (a value its tag cannot hold, nesting
that libyaml would recurse into without end, aliases, odd tags), parse_inventory returns an Inventory or
raises InventoryError naming the file. Found by hand before this test: `!!int x` escaped as a ValueError,
and 200,000 levels of "[" ended the process with SIGSEGV inside libyaml's composer."""

import yaml
from hypothesis import given
from hypothesis import strategies as st

from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.inventory import Inventory, parse_inventory
from hedgehog_sync_tests.fuzz.conftest import fuzz_settings

TAGS = ["", "", "!!int ", "!!float ", "!!bool ", "!!null ", "!!str ", "!!timestamp ", "!!binary ", "!!set ",
        "!!omap ", "!!pairs ", "!!map ", "!!seq ", "!!merge ", "!!python/name:os.system ", "!local ", "!<tag:x> "]
VALUES = ["x", "1", "-1", "0x1f", "0o7", "0b2", "1_0", "1e999", "-.inf", ".nan", "2020-13-45", "2020-01-01",
          "2001-12-14t21:59:43.10-05:00", "''", "[]", "{}", "[1, x]", "{a: 1}", "~", "&a 1", "*a", "<<: *a",
          "? a", "!!", "|\n  text", "'it''s'", '"\\x00"', "[a, [b, {c: d}]]", "{[1]: 2}", "-"]
scalars = st.builds(lambda tag, value: tag + value, st.sampled_from(TAGS), st.sampled_from(VALUES))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3).map(lambda items: "[" + ", ".join(items) + "]"),
    st.lists(st.tuples(st.sampled_from(["name", "git", "url", "a", "1", "? k"]), inner), max_size=3).map(
        lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"),
), max_leaves=6)
NESTING = [("[", "]"), ("{a: ", "}"), ("- ", "")]  # flow sequences, flow mappings, compact block sequences
deep = st.tuples(st.sampled_from(NESTING), st.integers(0, 100_000)).map(
    lambda drawn: drawn[0][0] * drawn[1] + "x" + drawn[0][1] * drawn[1])
documents = st.one_of(
    values.map(lambda v: f"fabrics: {v}\n"),
    st.lists(values, max_size=3).map(lambda vs: "fabrics:\n" + "".join(f"  - {v}\n" for v in vs)),
    st.lists(values, max_size=3).map(lambda vs: "fabrics:\n  - name: fab-a\n    git: " + (vs[0] if vs else "x")
                                     + "\n" + "".join(f"notifications: {v}\n" for v in vs[1:2])),
    deep.map(lambda d: f"fabrics: {d}\n"),
    st.text(max_size=200),
)


@fuzz_settings
@given(text=documents)
def test_any_inventory_text_is_an_inventory_or_an_inventory_error(text):
    try:
        result = parse_inventory(text, "fleet/fabrics.yaml")
    except InventoryError as exc:
        assert str(exc).startswith("fleet/fabrics.yaml"), exc
        return
    assert isinstance(result, Inventory)


def test_nesting_libyaml_would_recurse_into_is_refused_by_depth_with_its_line():
    for text in ("fabrics: " + "[" * 200_000 + "]" * 200_000, "fabrics:\n  - " + "- " * 200_000 + "x\n"):
        try:
            parse_inventory(text, "f.yaml")
        except InventoryError as exc:
            assert str(exc).startswith("f.yaml: YAML nested deeper than 64 levels at line "), exc
        else:
            raise AssertionError("200,000 levels were accepted")


def test_the_depth_limit_is_the_parsers_and_the_pure_loaders_too(monkeypatch):
    from hedgehog_sync.domain import inventory

    for loader in (getattr(yaml, "CSafeLoader", yaml.SafeLoader), yaml.SafeLoader):
        monkeypatch.setattr(inventory, "_SAFE_LOADER", loader)
        ok = "fabrics: [" + "[" * 62 + "]" * 62 + "]\n"  # 64 levels with the top mapping
        assert parse_inventory(ok, "f.yaml").problems  # read: an entry that is a list is a problem of its own
        too_deep = "fabrics: [" + "[" * 63 + "]" * 63 + "]\n"
        try:
            parse_inventory(too_deep, "f.yaml")
        except InventoryError as exc:
            assert str(exc) == ("f.yaml: YAML nested deeper than 64 levels at line 1; an inventory needs "
                                "five at most"), exc
        else:
            raise AssertionError("65 levels were accepted")


def test_a_value_its_tag_cannot_hold_is_an_inventory_error():
    for text in ("fabrics: !!int x\n", "fabrics: [!!float x]\n", "fabrics: [!!timestamp 2020-13-45]\n",
                 "fabrics: [{name: !!int 0x}]\n"):
        try:
            parse_inventory(text, "f.yaml")
        except InventoryError as exc:
            assert str(exc) == ("f.yaml: a YAML value does not fit its tag (ValueError); fix the value or remove "
                                "the tag"), (text, exc)
        else:
            raise AssertionError(f"{text!r} was accepted")
