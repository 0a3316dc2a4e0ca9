"""Survivors of the mutation run (issue 19) in domain/yamljson: invalid bytes right after a valid
multi-byte character in a !!binary value (kills go_json_text's size mutants), and a float map key past
float32's range, pinned because the equivalence of go_float32_key's OverflowError branch rests on it
(the native struct cast already gives +/-inf). The survivors no input tells apart are in
benchmarks/mutation-equivalents/yamljson.txt."""

from __future__ import annotations

import pytest

from hedgehog_sync.domain.parsing import parse_file
from hedgehog_sync.domain.yamljson import go_float32_key, go_json_text


@pytest.mark.parametrize("number,key", [(1e39, ".inf"), (-1e39, "-.inf"), (1.7976931348623157e308, ".inf"),
                                        (-3.5e38, "-.inf"), (3.4028234663852886e38, "3.4028235e+38")],
                         ids=["1e39", "minus-1e39", "double-max", "minus-3.5e38", "float32-max"])
def test_a_float_key_past_float32_is_infinite_with_its_sign(number, key):
    """A float map key is spelt as Go's float32 (sigs.k8s.io/yaml): one past float32's range becomes
    +/-Inf with the number's sign, never an error that would lose the whole document."""
    assert go_float32_key(number) == key


def test_a_float_key_past_float32_in_a_file():
    """The same through parse_file: the key 1e39 of a VPC's label map reads as ".inf"."""
    parsed = parse_file("v.yaml", b"apiVersion: vpc.githedgehog.com/v1beta1\nkind: VPC\nmetadata: {name: v}\n"
                                  b"spec: {x: {1e39: a, -1e39: b}}\n")
    assert parsed.findings == []
    assert parsed.objects[0]["spec"]["x"] == {".inf": "a", "-.inf": "b"}


@pytest.mark.parametrize("data,text", [
    (b"\xc3\xa9\xff", "\u00e9\ufffd"),  # 2-byte character, then an invalid byte
    (b"\xe2\x82\xac\xff", "\u20ac\ufffd"),  # 3-byte character, then an invalid byte
    (b"\xf0\x9f\x98\x80\xff", "\U0001f600\ufffd"),  # 4-byte character, then an invalid byte
    (b"\xc3\xa9\xe2\x82", "\u00e9\ufffd\ufffd"),  # 2-byte character, then a cut 3-byte one
    (b"a\xc3\xa9\xff\xf0\x9f\x98\x80\x80b", "a\u00e9\ufffd\U0001f600\ufffdb"),
], ids=["two-byte", "three-byte", "four-byte", "two-then-cut", "mixed"])
def test_a_valid_character_before_an_invalid_byte_is_kept(data, text):
    """json.Marshal replaces each invalid byte by one U+FFFD and keeps the valid characters around it: a
    character is read at its own length, so the byte after it cannot make it look invalid (what the
    cluster holds for a !!binary value is compared with exactly this text)."""
    assert go_json_text(data) == text
