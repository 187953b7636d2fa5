"""Inventory strings are one printable line unless declared multi-line (issue 10.1).

Each string field that reaches a template, each class of refused character,
and the exceptions: the legal banners may span lines (and be Arabic), but may
not hold the IOS banner delimiter.
"""

# ruff: noqa: RUF001  (Arabic text is the point: its letters look like Latin ones to the linter)

from __future__ import annotations

import inspect
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from netwarden.inventory import models
from netwarden.inventory.models import (
    AaaPolicy,
    Banners,
    Device,
    DnsPolicy,
    Interface,
    NtpPolicy,
    Site,
    SnmpV3Policy,
    SnmpV3User,
    Source,
    SyslogPolicy,
    Text,
    ZoneSubnet,
)

# Characters refused in a one-line string, by class, with the word the message uses.
REFUSED_IN_ONE_LINE = {
    "LF": ("\n", "line feed"),
    "CR": ("\r", "carriage return"),
    "CRLF": ("\r\n", "carriage return"),
    "VT": ("\v", "vertical tab"),
    "FF": ("\f", "form feed"),
    "NEL": ("\x85", "NEXT LINE"),
    "LS": ("\u2028", "LINE SEPARATOR"),
    "PS": ("\u2029", "PARAGRAPH SEPARATOR"),
    "NUL": ("\x00", "NUL"),
    "ESC": ("\x1b", "ESC"),
    "DEL": ("\x7f", "DEL"),
    "C1-CSI": ("\x9b", "U+009B"),
    "C0-SOH": ("\x01", "U+0001"),
    "TAB": ("\t", "tab"),
}

_SNMP_USER = {"name": "nms", "auth_pass": "a" * 12, "priv_pass": "p" * 12}

# (model, valid data, field, how to put a bad value in): every string that reaches a template.
TEMPLATE_FIELDS: dict[str, tuple[type[BaseModel], dict[str, Any], str, bool]] = {
    "device.name (hostname)": (
        Device,
        {
            "name": "sw1",
            "site": "nyc",
            "platform": "ios",
            "function": "switch",
            "mgmt_address": "10.0.0.1",
        },
        "name",
        False,
    ),
    "device.model": (
        Device,
        {
            "name": "sw1",
            "site": "nyc",
            "platform": "ios",
            "function": "switch",
            "mgmt_address": "10.0.0.1",
            "model": "C9200",
        },
        "model",
        False,
    ),
    "device.role": (
        Device,
        {
            "name": "sw1",
            "site": "nyc",
            "platform": "ios",
            "function": "switch",
            "mgmt_address": "10.0.0.1",
            "role": "access",
        },
        "role",
        False,
    ),
    "interface.name": (Interface, {"name": "Gi1/0/1", "mode": "access"}, "name", False),
    "interface.description": (
        Interface,
        {"name": "Gi1/0/1", "mode": "access", "description": "desk"},
        "description",
        False,
    ),
    "interface.zone": (
        Interface,
        {"name": "Gi1", "mode": "access", "zone": "staff"},
        "zone",
        False,
    ),
    "interface.peer": (Interface, {"name": "Gi1", "mode": "trunk", "peer": "fw1"}, "peer", False),
    "zone subnet (vlan name)": (
        ZoneSubnet,
        {"zone": "staff", "vlan": 30, "subnet": "10.0.30.0/24", "gateway": "10.0.30.1"},
        "zone",
        False,
    ),
    "site.city": (
        Site,
        {
            "name": "nyc",
            "code": "NYC",
            "city": "New York",
            "country": "US",
            "role": "field",
            "timezone": "America/New_York",
            "zones": {},
            "wan": {"address": "172.31.0.1/30", "peer": "172.31.0.2"},
        },
        "city",
        False,
    ),
    "site.timezone": (
        Site,
        {
            "name": "nyc",
            "code": "NYC",
            "city": "New York",
            "country": "US",
            "role": "field",
            "timezone": "America/New_York",
            "zones": {},
            "wan": {"address": "172.31.0.1/30", "peer": "172.31.0.2"},
        },
        "timezone",
        False,
    ),
    "policy.dns.servers": (DnsPolicy, {"servers": ["dns1"]}, "servers", True),
    "policy.ntp.servers": (
        NtpPolicy,
        {"servers": ["ntp1"], "auth_key_id": 1, "auth_key": "k"},
        "servers",
        True,
    ),
    "policy.syslog.servers": (SyslogPolicy, {"servers": ["log1"]}, "servers", True),
    "policy.aaa.tacacs_servers": (
        AaaPolicy,
        {"tacacs_servers": ["aaa1"], "tacacs_key": "k"},
        "tacacs_servers",
        True,
    ),
    "policy.snmpv3.group": (SnmpV3Policy, {"group": "g", "users": [_SNMP_USER]}, "group", False),
    "policy.snmpv3.managers": (
        SnmpV3Policy,
        {"group": "g", "users": [_SNMP_USER], "managers": ["mon1"]},
        "managers",
        True,
    ),
    "policy.snmpv3.users[].name": (SnmpV3User, dict(_SNMP_USER), "name", False),
}


def _with(data: dict[str, Any], field: str, is_list: bool, value: str) -> dict[str, Any]:
    return {**data, field: [value] if is_list else value}


@pytest.mark.parametrize("where", TEMPLATE_FIELDS, ids=list(TEMPLATE_FIELDS))
def test_template_fields_accept_valid_text(where: str) -> None:
    model, data, _field, _is_list = TEMPLATE_FIELDS[where]
    model.model_validate(data)


@pytest.mark.parametrize("where", TEMPLATE_FIELDS, ids=list(TEMPLATE_FIELDS))
@pytest.mark.parametrize("char", REFUSED_IN_ONE_LINE, ids=list(REFUSED_IN_ONE_LINE))
def test_template_fields_refuse_control_characters(where: str, char: str) -> None:
    model, data, field, is_list = TEMPLATE_FIELDS[where]
    bad, word = REFUSED_IN_ONE_LINE[char]
    value = f"x{bad}username evil privilege 15 secret 0 x"
    with pytest.raises(ValidationError) as info:
        model.model_validate(_with(data, field, is_list, value))
    errors = info.value.errors(include_url=False)
    assert [e["loc"] for e in errors] == [(field,)]
    assert word in errors[0]["msg"]
    assert "at character 2" in errors[0]["msg"]
    if is_list:
        assert errors[0]["msg"].startswith("Value error, [0] contains")


@pytest.mark.parametrize("where", TEMPLATE_FIELDS, ids=list(TEMPLATE_FIELDS))
def test_template_fields_refuse_invalid_utf8(where: str) -> None:
    """A file that is not UTF-8 reaches us with surrogate escapes (pydantic refuses those itself)."""
    model, data, field, is_list = TEMPLATE_FIELDS[where]
    with pytest.raises(ValidationError, match="valid string"):
        model.model_validate(_with(data, field, is_list, "x\udc80y"))


def test_mapping_keys_are_checked() -> None:
    site = TEMPLATE_FIELDS["site.city"][1]
    zones = {"staff\nusername evil": {"vlan": 30, "subnet": "10.0.30.0/24", "gateway": "10.0.30.1"}}
    with pytest.raises(ValidationError, match="line feed"):
        Site.model_validate({**site, "zones": zones})


def test_unicode_text_is_fine() -> None:
    iface = Interface.model_validate(
        {"name": "Gi1/0/1", "mode": "access", "description": "مكتب الاستقبال \u200f — bureau é"}
    )
    assert iface.description.startswith("مكتب")


@pytest.mark.parametrize(
    "where", ["device.name (hostname)", "site.city"], ids=["device.name", "site.city"]
)
def test_values_shown_in_a_banner_refuse_the_delimiter(where: str) -> None:
    model, data, field, is_list = TEMPLATE_FIELDS[where]
    with pytest.raises(
        ValidationError, match=r"contains '\^' at character 2, which ends an IOS banner"
    ):
        model.model_validate(_with(data, field, is_list, "a^Cb"))


BANNER = {
    "ar": "تنبيه: للاستخدام المصرح به فقط",
    "en": "Authorised use only",
    "fr": "Accès réservé",
}


@pytest.mark.parametrize(
    "text",
    ["line one\nline two\n\nline four", "col1\tcol2", "تنبيه:\nهذا النظام مخصص \u200f للاستخدام"],
    ids=["line-feeds", "tab", "arabic-with-rlm"],
)
def test_banners_may_span_lines(text: str) -> None:
    assert Banners.model_validate({**BANNER, "en": text}).en == text


@pytest.mark.parametrize(
    ("bad", "word"),
    [
        ("^", "ends an IOS banner"),
        ("\r", "carriage return"),
        ("\u2028", "LINE SEPARATOR"),
        ("\x85", "NEXT LINE"),
        ("\v", "vertical tab"),
        ("\x1b", "ESC"),
        ("\x00", "NUL"),
        ("\x7f", "DEL"),
    ],
    ids=["delimiter", "CR", "LS", "NEL", "VT", "ESC", "NUL", "DEL"],
)
@pytest.mark.parametrize("lang", ["ar", "en", "fr"])
def test_banners_refuse_delimiter_and_other_controls(lang: str, bad: str, word: str) -> None:
    with pytest.raises(ValidationError) as info:
        Banners.model_validate({**BANNER, lang: f"first line\nsecond{bad}line"})
    errors = info.value.errors(include_url=False)
    assert [e["loc"] for e in errors] == [(lang,)]
    assert word in errors[0]["msg"]


def test_file_paths_are_not_checked() -> None:
    assert Source(file="odd\nname.yml", line=3).file == "odd\nname.yml"


def test_only_banners_are_multiline() -> None:
    """A new multi-line field is a decision: it must be added here on purpose."""
    multiline = set()
    for name, cls in inspect.getmembers(models, inspect.isclass):
        if issubclass(cls, models.Model) and cls.__module__ == models.__name__:
            for field, info in cls.model_fields.items():
                rules = [m for m in info.metadata if isinstance(m, Text)]
                if rules and rules[0].multiline:
                    multiline.add(f"{name}.{field}")
    assert multiline == {"Banners.ar", "Banners.en", "Banners.fr"}
