"""Kills the mutants of normalize's position tracking (_tag, _untag, _match_by_value) that survived (issue 19).

normalize_with_positions(obj) is normalize(obj) plus, for each set-like list (ORDER_INSENSITIVE), the index
each of its sorted elements has in obj as written (None where it has none): maps are followed by a tag,
everything else by its canonical value. Expected values are worked out by hand from the docstrings and the
tables of normalize.py and defaults.py; the positions are read from the result by id(), as diff.py does.
Pure in-process, a few milliseconds each.
"""

from hedgehog_sync.domain.kinds import GATEWAY, VPC, WIRING
from hedgehog_sync.domain.normalize import IgnoreRule, NormalizeRules, normalize_with_positions

TAG = "\x00hedgehog-sync:position"  # the key _tag adds (normalize._POSITION_TAG), never left in a result


def obj(group: str, kind: str, spec: dict) -> dict:
    version = "v1alpha1" if group == GATEWAY else "v1beta1"
    return {"apiVersion": f"{group}/{version}", "kind": kind, "metadata": {"name": "x"}, "spec": spec}


def result(group: str, kind: str, spec: dict) -> dict:
    """The normalized form with the given (normalized) spec: namespace defaulted."""
    version = "v1alpha1" if group == GATEWAY else "v1beta1"
    return {"apiVersion": f"{group}/{version}", "kind": kind, "metadata": {"name": "x", "namespace": "default"},
            "spec": spec}


def rules(kind: str, *pointers: str) -> NormalizeRules:
    return NormalizeRules(ignore=tuple(IgnoreRule(kind, p) for p in pointers))


# VPC.Default() adds these to every VPC spec (vpc_types.go).
VPC_DEFAULTS = {"ipv4Namespace": "default", "vlanNamespace": "default"}


# --- _tag: maps are tagged wherever the plan leads, under map keys matched by any key ----------------

def test_maps_of_a_set_under_a_map_key_any_name_keep_their_written_positions():
    """/spec/subnets/*/dhcp/options/advertisedRoutes: the subnet name is reached by `*` (step.other)."""
    routes = [{"destination": "10.9.0.0/16", "gateway": "10.0.1.1"},
              {"destination": "10.8.0.0/16", "gateway": "10.0.1.1"}]
    out, positions = normalize_with_positions(obj(VPC, "VPC", {"subnets": {"s1": {
        "subnet": "10.0.1.0/24", "dhcp": {"enable": True, "options": {"advertisedRoutes": routes}}}}}))
    # VPC.Default(): gateway .1, range .2 to the broadcast address, MTU 9036, lease 3600 s; [] servers pruned.
    assert out == result(VPC, "VPC", {"subnets": {"s1": {
        "subnet": "10.0.1.0/24", "gateway": "10.0.1.1",
        "dhcp": {"enable": True, "range": {"start": "10.0.1.2", "end": "10.0.1.255"},
                 "options": {"advertisedRoutes": [routes[1], routes[0]], "interfaceMTU": 9036,
                             "leaseTimeSeconds": 3600}}}}, **VPC_DEFAULTS})
    assert positions[id(out["spec"]["subnets"]["s1"]["dhcp"]["options"]["advertisedRoutes"])] == [1, 0]


LINK_2 = {"server": {"port": "server-01/enp2s2"}, "switch": {"port": "leaf-01/E1/2"}}
LINK_1 = {"server": {"port": "server-01/enp2s1"}, "switch": {"port": "leaf-01/E1/1"}}


class FieldName(str):
    """A str subclass as a key (as some YAML loaders make): the same text as the plain str."""


def test_a_str_subclass_key_leads_to_the_same_set_as_the_plain_key():
    out, positions = normalize_with_positions(obj(WIRING, "Connection", {"bundled": {FieldName("links"): [LINK_2, LINK_1]}}))
    assert out == result(WIRING, "Connection", {"bundled": {"links": [LINK_1, LINK_2]}})
    assert type(list(out["spec"]["bundled"])[0]) is str
    assert positions[id(out["spec"]["bundled"]["links"])] == [1, 0]


class EqualToLinks:
    """Not a str, equal to (and hashed as) "links", whose text is "Links": keys are named by their text."""

    def __eq__(self, other):
        return other == "links"

    def __hash__(self):
        return hash("links")

    def __str__(self):
        return "Links"


def test_a_key_is_matched_by_its_text_so_a_key_only_equal_to_a_set_name_is_no_set():
    """normalize names the key "Links", no rule applies there: the list keeps its order and no tag is left."""
    out, positions = normalize_with_positions(obj(WIRING, "Connection", {"bundled": {EqualToLinks(): [LINK_2, LINK_1]}}))
    assert out == result(WIRING, "Connection", {"bundled": {"Links": [LINK_2, LINK_1]}})
    assert positions == {}


# --- sets inside the elements of an ordered list ------------------------------------------------------

def peering_rules() -> list:
    return [{"match": {"src": [{"cidr": "10.2.0.0/16"}, {"cidr": "10.1.0.0/16"}]}},
            {"match": {"src": [{"cidr": "10.4.0.0/16"}, {"cidr": "10.3.0.0/16"}]}}]


SORTED_RULES = [{"match": {"src": [{"cidr": "10.1.0.0/16"}, {"cidr": "10.2.0.0/16"}]}},
                {"match": {"src": [{"cidr": "10.3.0.0/16"}, {"cidr": "10.4.0.0/16"}]}}]


def test_sets_in_the_elements_of_an_ordered_list_keep_their_written_positions():
    """/spec/acl/rules is ordered, /spec/acl/rules/*/match/src a set of maps (GatewayPeering)."""
    out, positions = normalize_with_positions(obj(GATEWAY, "GatewayPeering", {"acl": {"rules": peering_rules()}}))
    # One VPC named (none here): GatewayPeering.Default() stops before defaulting gatewayGroup or the ACL.
    assert out == result(GATEWAY, "GatewayPeering", {"acl": {"rules": SORTED_RULES}})
    rules_out = out["spec"]["acl"]["rules"]
    assert [positions[id(r["match"]["src"])] for r in rules_out] == [[1, 0], [1, 0]]


def test_a_rule_naming_one_index_of_an_ordered_list_leaves_the_other_elements_tracked():
    """A user rule on rules/0 gives the list step an exact "0"; rule 1 is still reached by `*`."""
    out, positions = normalize_with_positions(obj(GATEWAY, "GatewayPeering", {"acl": {"rules": peering_rules()}}),
                                              rules("GatewayPeering", "/spec/acl/rules/0/note"))
    assert out == result(GATEWAY, "GatewayPeering", {"acl": {"rules": SORTED_RULES}})
    rules_out = out["spec"]["acl"]["rules"]
    assert [positions[id(r["match"]["src"])] for r in rules_out] == [[1, 0], [1, 0]]


def test_a_rule_naming_an_index_of_a_set_applies_to_the_written_values_a_nested_set_is_matched_to():
    """permit/0/0/1 ignored: the inner list ["a","b"] is ["a"] normalized, and still found where it was written."""
    out, positions = normalize_with_positions(obj(VPC, "VPC", {"permit": [[["a", "b"]]]}),
                                              rules("VPC", "/spec/permit/0/0/1"))
    assert out == result(VPC, "VPC", {"permit": [[["a"]]], **VPC_DEFAULTS})
    assert positions[id(out["spec"]["permit"])] == [0]
    assert positions[id(out["spec"]["permit"][0])] == [0]


def test_under_a_key_normalize_renames_nothing_is_found_as_written_and_nothing_fails():
    """An int map key is "1" normalized: looked up as written it is not there, so nothing below has a place.
    /spec/peering/*/expose/*/nat/static (an explicit zero) takes the plan through the ordered expose list."""
    expose = [{"ips": [{"cidr": "10.0.2.0/24"}, {"cidr": "10.0.1.0/24"}]}]
    out, positions = normalize_with_positions(obj(GATEWAY, "GatewayPeering", {"peering": {1: {"expose": expose}}}))
    assert out == result(GATEWAY, "GatewayPeering", {"peering": {"1": {"expose": expose}}})
    assert positions == {}


# --- _match_by_value: elements that are not maps ------------------------------------------------------

def test_a_value_after_a_map_in_a_set_is_matched_by_value():
    out, positions = normalize_with_positions(obj(WIRING, "Connection", {"bundled": {"links": [LINK_1, "s/enp2s9"]}}))
    # sort_key: '"s/...' sorts before '{...'.
    assert out == result(WIRING, "Connection", {"bundled": {"links": ["s/enp2s9", LINK_1]}})
    assert positions[id(out["spec"]["bundled"]["links"])] == [1, 0]


def test_no_two_elements_of_a_set_are_given_the_same_written_position():
    """A map that already holds the tag key is not tagged (normalize.py: such a list is not tracked): its
    own value 2 must not make two elements claim written index 1."""
    out, positions = normalize_with_positions(obj(WIRING, "Connection", {"bundled": {"links": [
        {TAG: 2, "server": {"port": "server-01/enp2s1"}}, "s/enp2s9"]}}))
    where = positions[id(out["spec"]["bundled"]["links"])]
    assert out["spec"]["bundled"]["links"][0] == "s/enp2s9"
    claimed = [w for w in where if w is not None]
    assert len(claimed) == len(set(claimed))


def test_values_are_matched_to_the_written_values_canonicalized_with_the_rules_at_their_index():
    """permit/0/1 ignored: written ["a","z","c"] is ["a","c"] normalized; ["e","d"] (no rule) is sorted."""
    out, positions = normalize_with_positions(obj(VPC, "VPC", {"permit": [["a", "z", "c"], ["e", "d"]]}),
                                              rules("VPC", "/spec/permit/0/1"))
    assert out == result(VPC, "VPC", {"permit": [["a", "c"], ["d", "e"]], **VPC_DEFAULTS})
    assert positions[id(out["spec"]["permit"])] == [0, 1]


SUBNETS = "/spec/staticExternal/link/switch/subnets"


def static_external(subnets: list) -> dict:
    return {"staticExternal": {"link": {"switch": {"subnets": subnets}}}}


def test_a_list_in_a_set_of_values_where_no_rule_applies_is_matched_by_value():
    out, positions = normalize_with_positions(obj(WIRING, "Connection", static_external([["10.0.2.0/24"], "10.0.1.0/24"])))
    assert out == result(WIRING, "Connection", static_external(["10.0.1.0/24", ["10.0.2.0/24"]]))
    assert positions[id(out["spec"]["staticExternal"]["link"]["switch"]["subnets"])] == [1, 0]


class NoText:
    """A value with no JSON form: sort_key (json.dumps, default=str) raises on it."""

    def __str__(self):
        raise ValueError("no text form")


def test_an_ignored_written_value_that_cannot_be_compared_only_loses_its_own_position():
    out, positions = normalize_with_positions(obj(WIRING, "Connection", static_external([NoText(), "10.0.1.0/24"])),
                                              rules("Connection", SUBNETS + "/0"))
    assert out == result(WIRING, "Connection", static_external(["10.0.1.0/24"]))
    assert positions[id(out["spec"]["staticExternal"]["link"]["switch"]["subnets"])] == [1]
