"""Issue 19, run 14: the inventory's depth limit and its error for a value its tag cannot hold, exactly
(the Hypothesis property over any inventory text is fuzz/test_inventory_yaml.py, outside mutmut's
selection). 64 levels pass and 65 do not, counted from the parser's events with either loader; levels
that closed do not count, and a structure that opens after them is counted from where it is."""

import pytest
import yaml

from hedgehog_sync.domain import inventory
from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.inventory import MAX_INVENTORY_DEPTH, parse_inventory

LOADERS = [getattr(yaml, "CSafeLoader", yaml.SafeLoader), yaml.SafeLoader]
TOO_DEEP = "f.yaml: YAML nested deeper than 64 levels at line {line}; an inventory needs five at most"


def _nested(levels: int) -> str:
    """`fabrics:` holding a flow sequence `levels` deep in all (the top mapping is the first level)."""
    inner = levels - 2  # the top mapping and the fabrics list
    return "fabrics: [" + "[" * inner + "]" * inner + "]\n"


@pytest.mark.parametrize("loader", LOADERS, ids=["libyaml", "pure"])
def test_64_levels_are_read_and_65_are_refused_naming_the_line(monkeypatch, loader):
    monkeypatch.setattr(inventory, "_SAFE_LOADER", loader)
    assert MAX_INVENTORY_DEPTH == 64
    assert parse_inventory(_nested(64), "f.yaml").problems  # read: a list as an entry is that entry's problem
    with pytest.raises(InventoryError) as caught:
        parse_inventory("# a comment\n" + _nested(65), "f.yaml")
    assert str(caught.value) == TOO_DEEP.format(line=2)


def test_closed_levels_do_not_count():
    siblings = ", ".join(["[[x]]"] * 100)  # 100 lists side by side, each 4 levels below the top
    inv = parse_inventory(f"fabrics: [{siblings}]\n", "f.yaml")
    assert len(inv.problems) == 100 and not inv.fabrics


def test_a_structure_opened_after_closed_ones_is_counted_from_where_it_is():
    inner = 63  # with the top mapping and the fabrics list: 65 levels
    deep = "[" * inner + "]" * inner
    with pytest.raises(InventoryError) as caught:
        parse_inventory(f"fabrics: [[[x]], {deep}]\n", "f.yaml")
    assert str(caught.value) == TOO_DEEP.format(line=1)
    ok = "[" * (inner - 1) + "]" * (inner - 1)
    assert parse_inventory(f"fabrics: [[[x]], {ok}]\n", "f.yaml").problems


def test_nesting_libyaml_would_recurse_into_is_refused():
    for text in ("fabrics: " + "[" * 200_000 + "]" * 200_000, "fabrics:\n  - " + "- " * 200_000 + "x\n"):
        with pytest.raises(InventoryError) as caught:
            parse_inventory(text, "f.yaml")
        assert str(caught.value).startswith("f.yaml: YAML nested deeper than 64 levels at line ")


@pytest.mark.parametrize("text, error", [
    ("fabrics: !!int x\n", "ValueError"),
    ("fabrics: [!!float x]\n", "ValueError"),
    ("fabrics: [!!timestamp 2020-13-45]\n", "ValueError"),
    ("fabrics: [{name: !!int ''}]\n", "IndexError"),
], ids=["int", "float", "timestamp", "empty-int"])
def test_a_value_its_tag_cannot_hold_is_an_inventory_error_naming_the_file(text, error):
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "f.yaml")
    assert str(caught.value) == f"f.yaml: a YAML value does not fit its tag ({error}); fix the value or remove the tag"
