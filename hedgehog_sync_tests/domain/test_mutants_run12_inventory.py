"""domain/inventory: kills the run-12 survivors of the bounded inventory reader (issue 19). _read_capped
returns at most cap + 1 bytes of a regular file (one byte more than the budget, so the caller can tell
"over the limit" from "exactly at it"), asks for at most 1 MiB a read (os.read allocates what it is asked
for, so a raised budget must not cost its size for a small file), and names the file in every error.
Each test calls the reader in-process; files live in tmp_path."""

import os
import tracemalloc

import pytest

from hedgehog_sync.domain.errors import InventoryError
from hedgehog_sync.domain.inventory import MAX_INVENTORY_BYTES_ENV, _read_capped, load_inventory

MIB = 1 << 20
GOOD = 'fabrics: [{name: a, git: {url: "https://h/r.git"}}]\n'


def _file(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _pattern(size: int) -> bytes:
    """Bytes whose every prefix differs from every other prefix of another length: a wrong slice shows."""
    return (bytes(range(251)) * (size // 251 + 1))[:size]


@pytest.mark.parametrize(("size", "cap", "expected"), [
    (0, 0, 0),  # empty file: nothing to read
    (3, 0, 1),  # cap 0 still reads the one byte that proves the file is over
    (10, 5, 6),  # over: cap + 1 bytes, never more
    (6, 5, 6),  # one over: all of it
    (5, 5, 5),  # exactly at the cap: all of it
    (4, 5, 4),  # below the cap: all of it
], ids=["empty-cap0", "over-cap0", "over-cap5", "one-over-cap5", "at-cap5", "below-cap5"])
def test_read_capped_returns_at_most_cap_plus_one_bytes(tmp_path, size, cap, expected):
    data = _pattern(size)
    assert _read_capped(_file(tmp_path, "inv.yaml", data), cap) == data[:expected]


@pytest.mark.parametrize(("size", "cap"), [
    (2 * MIB + 10, MIB),  # the first read fills the cap exactly: one more byte proves the file is over
    (4 * MIB, MIB + MIB // 2),  # the second read is a short one: the total must count both
    (MIB + 1, MIB),  # one over a cap of exactly one read
], ids=["cap-1MiB-file-2MiB", "cap-1.5MiB-file-4MiB", "cap-1MiB-file-1MiB-plus-1"])
def test_read_capped_over_several_reads_stops_at_cap_plus_one(tmp_path, size, cap):
    data = _pattern(size)
    got = _read_capped(_file(tmp_path, "big.yaml", data), cap)
    assert len(got) == cap + 1
    assert got == data[:cap + 1]


def test_read_capped_reads_a_file_of_several_reads_below_the_cap_whole(tmp_path):
    data = _pattern(2 * MIB + 3)
    assert _read_capped(_file(tmp_path, "big.yaml", data), 3 * MIB) == data


def test_a_small_file_under_a_huge_cap_costs_at_most_one_mebibyte_of_buffer(tmp_path):
    # os.read(fd, n) allocates n bytes before it reads: each read must ask for at most 1 MiB, or a budget
    # raised to a gigabyte would allocate a gigabyte for a 10-byte file.
    path = _file(tmp_path, "small.yaml", b"fabrics: []")
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        got = _read_capped(path, 1 << 30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    assert got == b"fabrics: []"
    assert MIB <= peak - base < MIB + MIB // 2, f"peak {peak - base} bytes while reading an 11-byte file"


def test_load_inventory_at_the_cap_loads_and_one_byte_over_is_refused(tmp_path, monkeypatch):
    # The cap is one read's size: the first read returns exactly cap bytes, and only the next one says
    # whether there is more.
    monkeypatch.setenv(MAX_INVENTORY_BYTES_ENV, str(MIB))
    text = GOOD + "#" * (MIB - len(GOOD) - 1) + "\n"
    at = _file(tmp_path, "at.yaml", text.encode())
    assert [f.name for f in load_inventory(str(at)).fabrics] == ["a"]
    over = _file(tmp_path, "over.yaml", (text + "\n").encode())
    with pytest.raises(InventoryError) as err:
        load_inventory(str(over))
    assert str(err.value) == (f"{over}: inventory is over the {MIB} byte limit; split the fleet or raise "
                              "HEDGEHOG_SYNC_INVENTORY_MAX_BYTES")


def test_load_inventory_with_a_small_budget_from_the_env(tmp_path, monkeypatch):
    monkeypatch.setenv(MAX_INVENTORY_BYTES_ENV, str(len(GOOD)))
    at = _file(tmp_path, "at.yaml", GOOD.encode())
    assert [f.name for f in load_inventory(str(at)).fabrics] == ["a"]
    over = _file(tmp_path, "over.yaml", (GOOD + "\n").encode())
    with pytest.raises(InventoryError) as err:
        load_inventory(str(over))
    assert str(err.value) == (f"{over}: inventory is over the {len(GOOD)} byte limit; split the fleet or "
                              "raise HEDGEHOG_SYNC_INVENTORY_MAX_BYTES")


def test_load_inventory_follows_a_symlink_to_the_file(tmp_path):
    target = _file(tmp_path, "real.yaml", GOOD.encode())
    link = tmp_path / "fabrics.yaml"
    link.symlink_to(target)
    assert [f.name for f in load_inventory(str(link)).fabrics] == ["a"]


def test_a_read_error_names_the_file_and_the_reason(tmp_path):
    # /proc/self/mem is a regular file that opens for its own process and fails every read at offset 0
    # (address 0 is never mapped): the one portable way to make read(2) fail on a regular file.
    if not os.path.exists("/proc/self/mem"):
        pytest.skip("needs Linux /proc")
    link = tmp_path / "fabrics.yaml"
    link.symlink_to("/proc/self/mem")
    with pytest.raises(InventoryError) as err:
        _read_capped(link, 100)
    assert str(err.value) == f"{link}: cannot be read (Input/output error)"
    with pytest.raises(InventoryError) as err:
        load_inventory(str(link))
    assert str(err.value) == f"{link}: cannot be read (Input/output error)"


def test_a_missing_file_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "nope.yaml"
    with pytest.raises(InventoryError) as err:
        _read_capped(path, 100)
    assert str(err.value) == f"{path}: inventory file not found; create it or set HEDGEHOG_SYNC_INVENTORY to its path"


@pytest.mark.parametrize("kind, says", [
    ("folder", "is a folder; name the inventory file"),
    ("fifo", "not a regular file (a device, pipe or socket); the inventory must be a YAML file"),
])
def test_a_folder_or_fifo_is_refused_unread(tmp_path, kind, says):
    # On Linux open(2) of a folder for reading succeeds: the fstat check tells the folder apart (an
    # `except IsADirectoryError` once meant to, and never ran; a folder was called a device or pipe).
    path = tmp_path / "inv"
    if kind == "folder":
        path.mkdir()
    else:
        os.mkfifo(path)  # O_NONBLOCK: the open must not wait for a writer
    with pytest.raises(InventoryError) as err:
        _read_capped(path, 100)
    assert str(err.value) == f"{path}: {says}"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_names_the_file_and_the_fix(tmp_path):
    path = _file(tmp_path, "secret.yaml", GOOD.encode())
    path.chmod(0)
    try:
        with pytest.raises(InventoryError) as err:
            _read_capped(path, 100)
    finally:
        path.chmod(0o600)
    assert str(err.value) == f"{path}: cannot be opened (Permission denied); check its permissions"


def test_a_non_utf8_inventory_is_refused_naming_the_file(tmp_path):
    path = _file(tmp_path, "latin1.yaml", "fabrics: [] # caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InventoryError) as err:
        load_inventory(str(path))
    assert str(err.value) == f"{path}: not UTF-8 text; the inventory must be a YAML file"


def test_a_path_that_cannot_be_opened_names_the_file_and_the_reason(tmp_path):
    # As root no permission stops an open; a regular file used as a folder does (ENOTDIR).
    (tmp_path / "plain").write_text("x")
    path = tmp_path / "plain" / "inventory.yaml"
    with pytest.raises(InventoryError) as err:
        _read_capped(path, 100)
    assert str(err.value) == f"{path}: cannot be opened (Not a directory); check its permissions"
