"""The inventory file is YAML an operator writes: whatever it holds (a value its tag cannot hold, nesting
that libyaml would recurse into without end, aliases, odd tags), parse_inventory returns an Inventory or
raises InventoryError naming the file. Found by hand before this test: `!!int x` escaped as a ValueError,
and 200,000 levels of "[" ended the process with SIGSEGV inside libyaml's composer."""

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


# The exact limits and messages: domain/test_mutants_run14_inventory.py (inside mutmut's selection).
