"""Issue 19, run 13: survivors of yamljson._document and inventory.parse_inventory, called in this process.

- A non-finite float is refused as a value but allowed as a key (go-yaml turns it into the key ".inf"):
  an alias of such an anchored key, used as a value, is refused too, and its message names the number
  (an alias event has no text of its own to quote).
- parse_inventory refuses aliases that expand past MAX_INVENTORY_NODES, and accepts exactly that many.
- A YAML error without a position (libyaml's reader refusing a control character: a ReaderError has no
  problem_mark at all) still reads "not valid YAML; fix the syntax", with no line; a document nested past
  Python's recursion limit (PyYAML without libyaml composes recursively) is refused by depth first.
"""

from __future__ import annotations

import pytest
import yaml

from hedgehog_sync.domain import inventory
from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.inventory import MAX_INVENTORY_NODES, parse_inventory
from hedgehog_sync.domain.yamljson import Budget, DocumentError, load_documents

BUDGET = Budget(max_nodes=1000, max_depth=50, max_scalar_chars=1000, max_documents=10)
NOT_JSON = " is not a number JSON can hold (json.Marshal refuses it, and so does kubectl); quote it for a string"


# --- yamljson._document: an alias of a non-finite key used as a value ---------------------------------


@pytest.mark.parametrize(("text", "message", "line", "column"), [
    ("? &x .inf\n: 1\nb: *x\n", "value inf" + NOT_JSON, 3, 4),
    ("{&x .nan : 1, b: *x}\n", "value nan" + NOT_JSON, 1, 18),
    ("{&x -.inf : 1, b: [*x]}\n", "value -inf" + NOT_JSON, 1, 20),
    ("a: .inf\n", "value .inf" + NOT_JSON, 1, 4),  # a scalar quotes its own text
], ids=["alias-inf-block", "alias-nan-flow", "alias-minus-inf-in-list", "scalar-inf"])
def test_a_non_finite_alias_value_is_refused_naming_the_number(text, message, line, column):
    [doc] = load_documents(text, BUDGET)
    assert isinstance(doc, DocumentError)
    assert (str(doc.error), doc.error.line, doc.error.column) == (message, line, column)


def test_a_non_finite_anchored_key_alone_is_a_key():
    assert load_documents("? &x .inf\n: 1\n", BUDGET) == [{".inf": 1}]


# --- parse_inventory: the alias budget, at its limit ---------------------------------------------------


def _inventory_of(nodes: int) -> str:
    """An inventory whose YAML expands to exactly `nodes` nodes: the root mapping, `fabrics`, its empty
    list, `x` and x's list are 5; an anchored list of 999 scalars is 1000 at each use; then single scalars."""
    uses, rest = divmod(nodes - 5, 1000)
    items = ["&a [" + ", ".join(["s"] * 999) + "]"] + ["*a"] * (uses - 1) + ["t"] * rest
    return "fabrics: []\nx: [" + ", ".join(items) + "]\n"


def test_aliases_expanding_to_exactly_the_node_limit_are_accepted():
    inv = parse_inventory(_inventory_of(MAX_INVENTORY_NODES), "f.yaml")
    assert inv.fabrics == []
    assert [p.message for p in inv.problems] == [
        "unknown top-level key 'x' (only 'fabrics' and 'notifications' are allowed)"]


def test_aliases_expanding_one_node_past_the_limit_are_refused():
    with pytest.raises(InventoryError) as caught:
        parse_inventory(_inventory_of(MAX_INVENTORY_NODES + 1), "f.yaml")
    assert str(caught.value) == (f"f.yaml: YAML aliases expand to more than {MAX_INVENTORY_NODES} nodes "
                                 "(an alias bomb?); write the entries out")


# --- parse_inventory: YAML errors without a position, and nesting past the recursion limit -------------


@pytest.mark.parametrize("text", ["a: \x01\n", "\x00", "fabrics: [\x07]\n"], ids=["soh", "nul", "bel"])
def test_a_yaml_error_without_a_position_names_no_line(text):
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "f.yaml")
    assert str(caught.value) == "f.yaml: not valid YAML; fix the syntax"


def test_an_error_with_a_position_still_names_its_line():
    with pytest.raises(InventoryError) as caught:
        parse_inventory("a: 1\nb: [\n", "f.yaml")
    assert str(caught.value) == "f.yaml: not valid YAML at line 3; fix the syntax"


def test_yaml_nested_past_the_recursion_limit_is_an_inventory_error(monkeypatch):
    # PyYAML built without libyaml (its pure loader, inventory's fallback) composes recursively: 1500 levels
    # would exceed Python's recursion limit; the depth is refused from the parser's events first.
    # (Flow mappings: the pure scanner is quadratic in nested flow sequences, seconds for this depth.)
    monkeypatch.setattr(inventory, "_SAFE_LOADER", yaml.SafeLoader)
    text = "fabrics: " + "{a: " * 1500 + "1" + "}" * 1500 + "\n"
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "f.yaml")
    assert str(caught.value) == "f.yaml: YAML nested deeper than 64 levels at line 1; an inventory needs five at most"
