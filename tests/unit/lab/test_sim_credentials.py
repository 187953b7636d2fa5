"""Credential lines as IOS stores them: one merged line per user, secrets hashed (type 9)."""

from __future__ import annotations

import pytest

from netwarden.lab.sim import passwords
from netwarden.lab.sim.config import ConfigApplier, ConfigTree
from netwarden.lab.sim.credlines import BOTH_PASSWORD_AND_SECRET, merge_username


def _configure(tree: ConfigTree, *lines: str) -> list[str]:
    """Type ``lines`` in configuration mode; return the messages of refused lines."""
    applier = ConfigApplier(tree)
    refused = []
    for line in lines:
        result = applier.feed_interactive(line)
        if result.error:
            refused.append(result.message or result.error)
    return refused


def _users(tree: ConfigTree, name: str) -> list[list[str]]:
    return [node.words() for node in tree.top_starting(f"username {name}")]


def test_attributes_of_one_user_merge_into_one_line() -> None:
    tree = ConfigTree()
    assert _configure(tree, "username alice privilege 15", "username alice secret Wonder1and") == []
    [words] = _users(tree, "alice")
    assert words[:6] == ["username", "alice", "privilege", "15", "secret", "9"]
    assert words[6].startswith("$9$")
    assert passwords.verify(" ".join(words[5:]), "Wonder1and")
    assert not passwords.verify(" ".join(words[5:]), "wrong")


@pytest.mark.parametrize(
    "line",
    ["username bob secret 0 Bu1lder", "username bob secret Bu1lder",
     "username bob algorithm-type scrypt secret Bu1lder"],
    ids=["type-0", "bare", "algorithm-type"],
)  # fmt: skip
def test_a_clear_secret_is_stored_as_type_9(line: str) -> None:
    tree = ConfigTree()
    _configure(tree, line)
    [words] = _users(tree, "bob")
    assert words[2:4] == ["secret", "9"]
    assert "Bu1lder" not in " ".join(words)
    assert passwords.verify(" ".join(words[3:]), "Bu1lder")


def test_a_hashed_secret_is_kept_as_given() -> None:
    hashed = passwords.type9("x", salt="abcdefghijklmn")
    tree = ConfigTree()
    _configure(tree, f"username carol privilege 15 secret {hashed}")
    assert _users(tree, "carol") == [
        ["username", "carol", "privilege", "15", "secret", *hashed.split()]
    ]


def test_a_new_value_replaces_the_old_one_and_keeps_the_rest() -> None:
    tree = ConfigTree()
    _configure(tree, "username dave privilege 15 secret 5 $1$ab$cd", "username dave privilege 7")
    assert _users(tree, "dave") == [
        ["username", "dave", "privilege", "7", "secret", "5", "$1$ab$cd"]
    ]


def test_password_and_secret_exclude_each_other() -> None:
    tree = ConfigTree()
    refused = _configure(tree, "username erin secret 5 $1$ab$cd", "username erin password x")
    assert refused == [BOTH_PASSWORD_AND_SECRET]
    assert _users(tree, "erin") == [["username", "erin", "secret", "5", "$1$ab$cd"]]


def test_a_clear_password_is_type_0_or_7_under_password_encryption() -> None:
    assert merge_username(None, ["username", "f", "password", "pw"]) == "username f password 0 pw"
    tree = ConfigTree.build("service password-encryption\n")
    _configure(tree, "username f password pw")
    [words] = _users(tree, "f")
    assert words[2:4] == ["password", "7"]
    assert passwords.verify(" ".join(words[3:]), "pw")


def test_clear_enable_secret_is_stored_hashed() -> None:
    tree = ConfigTree()
    _configure(tree, "enable secret 0 En4ble")
    value = tree.value("enable secret")
    assert value is not None
    assert value.startswith("9 $9$")
    assert passwords.verify(value, "En4ble")
    _configure(tree, "enable secret 5 $1$ab$cd")
    assert tree.value("enable secret") == "5 $1$ab$cd"


def test_a_merged_line_survives_a_config_file_round_trip() -> None:
    tree = ConfigTree()
    _configure(
        tree, "username g privilege 15", "username g secret s", "username g autocommand show clock"
    )
    text = tree.render_body()
    again = ConfigTree.build(text)
    assert again.render_body() == text
