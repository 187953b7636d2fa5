"""The YAML scan before Ansible reads an inventory: alias bombs, recursion, size, duplicate keys.

Issue 10.5 (alias bombs) and 10.9 (duplicate keys). The bombs here would need
gigabytes if anything expanded them; the tests assert the error, never the time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netwarden.errors import InventoryError
from netwarden.inventory import read_inventory
from netwarden.inventory.origins import plain
from netwarden.inventory.yamlguard import (
    MAX_ALIAS_VALUES,
    inventory_yaml_files,
    scan_yaml_file,
    scan_yaml_text,
)


def billion_laughs(levels: int = 9, width: int = 10, indent: str = "") -> str:
    """``levels`` lines whose last one expands to ``width ** levels`` values."""
    lines = [f"{indent}l1: &l1 [{', '.join(['lol'] * width)}]"]
    for i in range(2, levels + 1):
        lines.append(f"{indent}l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_fatal_at_the_alias_that_crosses_the_budget() -> None:
    findings = scan_yaml_text(billion_laughs())
    assert len(findings) == 1
    (bomb,) = findings
    assert bomb.fatal
    assert bomb.line == 5
    assert bomb.key == "l5[7]"
    assert "refused as an alias bomb" in bomb.message
    assert f"more than {MAX_ALIAS_VALUES} values" in bomb.message


def test_merge_key_bomb_is_caught() -> None:
    text = billion_laughs(levels=6) + "x:\n  <<: {a: *l6, b: *l6}\n"
    assert [f.fatal for f in scan_yaml_text(text)] == [True]


def test_a_few_aliases_are_fine() -> None:
    text = (
        "common: &common {mode: access, zone: staff}\n"
        "ports:\n"
        "  - {<<: *common, name: Gi1/0/1}\n"
        "  - {<<: *common, name: Gi1/0/2, zone: voice}\n"
        "servers: &srv [ntp1, ntp2]\n"
        "again: *srv\n"
    )
    assert scan_yaml_text(text) == []


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        ("a: &x [1, *x]\n", 1, "a[1]"),
        ("a: &x\n  b:\n    c: *x\n", 3, "a.b.c"),
    ],
    ids=["list", "mapping"],
)
def test_recursive_alias_is_fatal(text: str, line: int, key: str) -> None:
    (finding,) = scan_yaml_text(text)
    assert (finding.fatal, finding.line, finding.key) == (True, line, key)
    assert "refers to a value that contains it" in finding.message


def test_deep_nesting_is_fatal() -> None:
    (finding,) = scan_yaml_text("a: " + "[" * 200 + "]" * 200 + "\n")
    assert finding.fatal
    assert "nested deeper than 64 levels" in finding.message


def test_anchors_do_not_leak_between_documents() -> None:
    text = "--- &a [1, 2]\n--- &a [*a]\n"
    # In the second document *a is its own anchor still open: recursive, not the first one.
    (finding,) = scan_yaml_text(text)
    assert finding.fatal


@pytest.mark.parametrize(
    ("text", "line", "key", "first"),
    [
        ("platform: ios\nmodel: x\nplatform: linux\n", 3, "platform", 1),
        ("site:\n  zones:\n    mgmt: {vlan: 10, vlan: 20}\n", 3, "site.zones.mgmt.vlan", 3),
        ("list:\n  - name: a\n    mode: x\n    name: b\n", 4, "list[0].name", 2),
        ("a: 1\n'a': 2\n", 2, "a", 1),
        ("1: x\n1.0: y\n", 2, "1.0", 1),
    ],
    ids=["top-level", "flow-mapping", "in-a-list", "quoted-equal", "int-and-float"],
)
def test_duplicate_keys_name_both_lines(text: str, line: int, key: str, first: int) -> None:
    (finding,) = scan_yaml_text(text)
    assert not finding.fatal
    assert (finding.line, finding.key) == (line, key)
    assert f"(also on line {first})" in finding.message
    assert "keep only the last one" in finding.message


@pytest.mark.parametrize(
    "text",
    [
        "a: 1\n'1': x\n1: y\n",  # a string and an int are two keys
        "base: &b {x: 1}\nc:\n  <<: *b\n  x: 2\n",  # overriding a merged key is YAML's design
        "a: {x: 1}\nb: {x: 1}\n",  # the same key in two mappings
    ],
    ids=["str-vs-int", "merge-override", "sibling-mappings"],
)
def test_not_duplicates(text: str) -> None:
    assert scan_yaml_text(text) == []


def test_invalid_yaml_is_left_to_ansible() -> None:
    assert scan_yaml_text("a: [1, 2\n") == []


def test_oversized_file_is_fatal_without_reading_it(tmp_path: Path) -> None:
    big = tmp_path / "big.yml"
    big.write_text("a: " + "x" * 2000 + "\n")

    def never(_: Path) -> str:
        raise AssertionError("a file over the limit must not be read")

    (finding,) = scan_yaml_file(big, never, max_bytes=1000)
    assert finding.fatal
    assert finding.line == 1
    assert "more than the 1000 netwarden reads" in finding.message


def test_plain_stops_expanding_shared_data() -> None:
    node: list[object] = ["lol"] * 10
    for _ in range(8):
        node = [node] * 10  # 10**9 leaves if expanded
    with pytest.raises(InventoryError, match="more than 500000 values"):
        plain({"role": node})


def test_plain_stops_on_recursive_data() -> None:
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(InventoryError, match="nested deeper than 64 levels"):
        plain(loop)


def test_files_scanned_are_those_ansible_reads(inventory_copy: Path) -> None:
    (inventory_copy / "host_vars" / "notes.txt").write_text("not read by Ansible")
    (inventory_copy / "host_vars" / ".hidden.yml").write_text("x: 1")
    (inventory_copy / "group_vars" / "all" / "extra").write_text("x: 1")
    files = {str(p.relative_to(inventory_copy)) for p in inventory_yaml_files(inventory_copy)}
    assert {"hosts.yml", "group_vars/all/vault.yml", "group_vars/all/extra"} <= files
    assert "host_vars/fo001-acc-sw1.yml" in files
    assert not {"host_vars/notes.txt", "host_vars/.hidden.yml", ".vault-password"} & files


def test_bomb_inside_a_vaulted_file_is_caught(inventory_copy: Path) -> None:
    """A whole-file vault is decrypted (with the inventory's password) and scanned too."""
    from ansible.parsing.vault import VaultLib, VaultSecret

    secret = VaultSecret((inventory_copy / ".vault-password").read_bytes().strip())
    vault = VaultLib([("default", secret)])
    target = inventory_copy / "group_vars" / "all" / "extra.yml"
    target.write_bytes(vault.encrypt(billion_laughs(indent="")))
    inv, problems = read_inventory(inventory_copy)
    assert inv is None
    assert [(p.file.endswith("group_vars/all/extra.yml"), p.line, p.key) for p in problems] == [
        (True, 5, "l5[7]")
    ]


def test_bomb_in_the_inventory_file_is_caught(inventory_copy: Path) -> None:
    hosts = inventory_copy / "hosts.yml"
    hosts.write_text(hosts.read_text() + billion_laughs())
    inv, problems = read_inventory(inventory_copy)
    assert inv is None
    assert len(problems) == 1
    assert problems[0].file.endswith("hosts.yml")
    assert "alias bomb" in problems[0].message
