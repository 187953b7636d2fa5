"""The simulator's show renderers, checked as text and through NAPALM's and ntc's real parsers.

Each test builds a :class:`ShowContext` by hand, so it states the device it means;
NAPALM's unmodified IOS driver then reads the rendered text (see ``ios_sim_driver``)
and the getters must return what the context says.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from napalm.base import models
from napalm.base.test.helpers import test_model as napalm_model_ok
from ntc_templates.parse import parse_output

from netwarden.lab.sim.showmodel import InterfaceView, LogEntry, ShowContext
from netwarden.lab.sim.shows import match_command, render_show
from tests.unit.lab.ios_sim_driver import INVALID, apply_pipe, run_show, sim_driver
from tests.unit.lab.sim_context import CORE, INTERFACES, RUNNING, UPLINK, make_ctx


def show(command: str, ctx: ShowContext | None = None) -> str:
    return run_show(command, ctx or make_ctx())


# ---------------------------------------------------------------- command matching


@pytest.mark.parametrize(
    ("typed", "full"),
    [
        ("sh ip int br", "show ip interface brief"),
        ("show ver", "show version"),
        ("sh run", "show running-config"),
        ("sh start", "show startup-config"),
        ("sh int summ", "show interfaces summary"),
        ("sh proc cpu", "show processes cpu"),
        ("sh mem stat", "show memory statistics"),
        ("sh env temp stat", "show environment temperature status"),
        ("sh lldp nei det", "show lldp neighbors detail"),
        ("sh ntp assoc", "show ntp associations"),
        ("sh log", "show logging"),
        ("SH IP ARP", "show arp"),
    ],
    ids=lambda value: value.replace(" ", "_"),
)
def test_abbreviations_render_like_the_full_command(typed: str, full: str) -> None:
    assert show(typed) == show(full)
    assert show(typed) != INVALID


@pytest.mark.parametrize(
    "args",
    [["in"], ["i"], ["bogus"], ["version", "extra"], ["int", "gi9/9/9"], ["int", "s"], []],
    ids=["ambiguous-in", "ambiguous-i", "unknown", "extra-word", "no-such-port", "ambig-s", "bare"],
)
def test_unknown_or_ambiguous_commands_return_none(args: list[str]) -> None:
    assert render_show(args, make_ctx()) is None


def test_leftover_words_go_to_the_renderer() -> None:
    found = match_command(["lldp", "nei", "Gi1/0/1", "det"])
    assert found is not None
    assert found[1] == ["Gi1/0/1", "det"]
    detail = show("show lldp neighbors gi1/0/1 detail")
    assert "System Name: jed-core1.hq.example.org" in detail
    assert "Total entries displayed: 1" in detail


@pytest.mark.parametrize("typed", ["gi1/0/3", "Gi 1/0/3", "GigabitEthernet1/0/3", "g1/0/3"])
def test_show_interfaces_name_selects_one_interface(typed: str) -> None:
    text = show(f"show interfaces {typed}")
    assert text.startswith("GigabitEthernet1/0/3 is down, line protocol is down (notconnect)")
    assert text.count(" line protocol is ") == 1


# ---------------------------------------------------------------- configs and system


def test_running_config_has_the_ios_header_with_the_byte_count() -> None:
    text = show("show running-config")
    header = f"Building configuration...\n\nCurrent configuration : {len(RUNNING)} bytes\n"
    assert text == header + RUNNING
    assert show("show running-config all") == text


def test_running_config_interface_shows_one_section() -> None:
    text = show("show run interface Vlan10")
    assert text.endswith(
        "!\ninterface Vlan10\n description staff\n ip address 10.10.10.2 "
        "255.255.255.0\n ip address 10.10.11.2 255.255.255.0 secondary\nend\n"
    )


def test_startup_config_reports_nvram_use_or_absence() -> None:
    assert show("show startup-config") == f"Using {len(RUNNING)} out of 524288 bytes\n" + RUNNING
    assert show("show startup-config", make_ctx(startup_config="")) == (
        "startup-config is not present"
    )


def test_get_config_strips_the_header_like_on_a_device() -> None:
    configs = sim_driver(make_ctx()).get_config()
    assert (
        configs["running"]
        == RUNNING.replace(
            "! Last configuration change at 10:02:11 AST Mon Jan 5 2026 by admin", ""
        ).strip()
    )
    assert configs["startup"].startswith(f"Using {len(RUNNING)} out of 524288 bytes\n!")
    assert configs["candidate"] == ""


def test_get_facts_reads_the_context() -> None:
    ctx = make_ctx()
    facts = sim_driver(ctx).get_facts()
    assert napalm_model_ok(models.FactsDict, facts)
    assert facts["hostname"] == "jed-sw1"
    assert facts["fqdn"] == "jed-sw1.hq.example.org"
    assert facts["model"] == "WS-C3750X-48P"
    assert facts["serial_number"] == "FDO1234X0AB"
    assert facts["vendor"] == "Cisco"
    assert "Version 15.2(4)E10," in facts["os_version"]
    assert facts["uptime"] == 9 * 86400 + 3 * 3600 + 4 * 60  # IOS counts whole minutes
    assert facts["interface_list"] == [itf.name for itf in ctx.interfaces]


def test_get_facts_on_ios_xe() -> None:
    ctx = make_ctx(
        model="C9300-48P", os_version="17.9.4a", image="flash:packages.conf", uptime_seconds=59
    )
    facts = sim_driver(ctx).get_facts()
    assert facts["model"] == "C9300-48P"
    assert facts["os_version"].startswith(
        "Catalyst L3 Switch Software (CAT9K_IOSXE), Version 17.9.4a"
    )
    assert facts["uptime"] == 0.0
    assert "0 minutes" in show("show version", ctx)


def test_version_parses_with_ntc_templates() -> None:
    [parsed] = parse_output(platform="cisco_ios", command="show version", data=show("show ver"))
    assert parsed["hostname"] == "jed-sw1"
    assert parsed["version"] == "15.2(4)E10"
    assert parsed["hardware"] == ["WS-C3750X-48P"]
    assert parsed["serial"] == ["FDO1234X0AB"]
    assert (parsed["uptime_weeks"], parsed["uptime_days"]) == ("1", "2")
    assert parsed["running_image"] == "c3750e-universalk9-mz.152-4.E10.bin"


def test_clock_marks_an_unsynchronised_clock() -> None:
    assert show("show clock") == "10:21:33.123 AST Mon Jan 5 2026"
    unsynced = make_ctx(ntp_servers=())
    assert show("show clock", unsynced) == "*10:21:33.123 AST Mon Jan 5 2026"
    assert show("show clock detail", unsynced).endswith("\nNo time source")
    [parsed] = parse_output(platform="cisco_ios", command="show clock", data=show("show clock"))
    assert (parsed["day"], parsed["year"], parsed["timezone"]) == ("5", "2026", "AST")


def test_users_lists_sessions_and_marks_the_current_one() -> None:
    text = show("show users")
    assert "*  1 vty 0     admin      idle                 00:00:00 10.10.0.7" in text
    parsed = parse_output(platform="cisco_ios", command="show users", data=text)
    assert [(row["user"], row["location"]) for row in parsed] == [
        ("admin", "10.10.0.7"),
        ("audit", "10.10.0.8"),
    ]


def test_hosts_names_domain_and_servers() -> None:
    text = show("show hosts")
    assert text.startswith("Default domain is hq.example.org\n")
    assert "Name servers are 10.10.0.53, 10.10.0.54" in text
    assert re.search(
        r"^ntp1\.hq\.example\.org\s+None\s+\(perm, OK\)\s+0\s+IP\s+10\.10\.0\.1$", text, re.M
    )


def test_inventory_parses_with_ntc_templates() -> None:
    [chassis] = parse_output(platform="cisco_ios", command="show inventory", data=show("sh inv"))
    assert (chassis["pid"], chassis["sn"]) == ("WS-C3750X-48P", "FDO1234X0AB")


# ---------------------------------------------------------------- interfaces


def test_get_interfaces_follows_shutdown_link_and_config() -> None:
    result = sim_driver(make_ctx()).get_interfaces()
    assert list(result) == [itf.name for itf in INTERFACES]
    for data in result.values():
        assert napalm_model_ok(models.InterfaceDict, data)
    uplink, shut, no_link = (result[f"GigabitEthernet1/0/{n}"] for n in (1, 2, 3))
    assert (uplink["is_enabled"], uplink["is_up"]) == (True, True)
    assert (shut["is_enabled"], shut["is_up"]) == (False, False)
    assert (no_link["is_enabled"], no_link["is_up"]) == (True, False)
    assert uplink["description"] == "uplink to jed-core1"
    assert uplink["mac_address"] == "00:24:F7:DD:77:01"
    assert no_link["speed"] == 100.0
    assert result["TenGigabitEthernet1/1/1"]["speed"] == 10000.0
    assert result["TenGigabitEthernet1/1/1"]["mtu"] == 9000
    assert result["Loopback0"]["mac_address"] == ""  # loopbacks have no hardware address
    assert result["Vlan10"]["description"] == "staff"


@pytest.mark.parametrize("shutdown", [True, False], ids=["shutdown", "no-shutdown"])
def test_is_enabled_follows_the_shutdown_flag(shutdown: bool) -> None:
    port = replace(UPLINK, shutdown=shutdown, line_protocol_up=not shutdown)
    result = sim_driver(make_ctx(interfaces=(port,))).get_interfaces()
    assert result[UPLINK.name]["is_enabled"] is not shutdown
    assert result[UPLINK.name]["is_up"] is not shutdown


def test_configured_bandwidth_is_what_napalm_calls_speed() -> None:
    port = replace(UPLINK, bandwidth_kbit=2500)
    result = sim_driver(make_ctx(interfaces=(port,))).get_interfaces()
    assert result[UPLINK.name]["speed"] == 2.5


def test_get_interfaces_counters_reads_counters_and_summary_drops() -> None:
    result = sim_driver(make_ctx()).get_interfaces_counters()
    uplink = result["GigabitEthernet1/0/1"]
    assert napalm_model_ok(models.InterfaceCounterDict, uplink)
    assert uplink["rx_unicast_packets"] == 123456
    assert uplink["tx_unicast_packets"] == 65432
    assert (uplink["rx_octets"], uplink["tx_octets"]) == (98765432, 12345678)
    assert (uplink["rx_errors"], uplink["tx_errors"]) == (3, 1)
    assert (uplink["rx_discards"], uplink["tx_discards"]) == (7, 2)
    assert uplink["rx_broadcast_packets"] == 321
    # NAPALM's greedy regex keeps the last digit of the multicast count (real devices too).
    assert "Received 321 broadcasts (4567 multicasts)" in show("show interfaces gi1/0/1")
    assert uplink["rx_multicast_packets"] == 7
    tengig = result["TenGigabitEthernet1/1/1"]  # abbreviated as Te1/1/1 in the summary
    assert (tengig["rx_discards"], tengig["tx_discards"]) == (11, 13)


def test_interface_summary_columns() -> None:
    text = show("show interfaces summary")
    assert re.search(r"^\* GigabitEthernet1/0/1\s+0\s+7\s+0\s+2\s", text, re.M)
    assert re.search(r"^  GigabitEthernet1/0/2\s+0\s+0\s+0\s+0\s", text, re.M)
    assert re.search(r"^\* Te1/1/1\s+0\s+11\s+0\s+13\s", text, re.M)


def test_get_interfaces_ip_lists_primary_and_secondary_addresses() -> None:
    result = sim_driver(make_ctx()).get_interfaces_ip()
    assert result == {
        "Vlan10": {
            "ipv4": {"10.10.10.2": {"prefix_length": 24}, "10.10.11.2": {"prefix_length": 24}}
        },
        "Loopback0": {"ipv4": {"10.255.0.1": {"prefix_length": 32}}},
    }


def test_ip_interface_brief_columns_and_method() -> None:
    ctx = make_ctx(startup_config="")
    text = show("show ip interface brief", ctx)
    lines = text.splitlines()
    assert lines[0] == (
        "Interface              IP-Address      OK? Method Status                Protocol"
    )
    assert "GigabitEthernet1/0/2   unassigned      YES unset  administratively down down" in lines
    assert "Vlan10                 10.10.10.2      YES manual up                    up" in lines
    assert "YES NVRAM  up" in show("show ip interface brief")  # saved address


@pytest.mark.parametrize(
    ("command", "count"),
    [
        ("show interfaces", 6),
        ("show ip interface", 6),
        ("show ip interface brief", 6),
        ("show interfaces status", 4),
        ("show interfaces description", 6),
        ("show ip arp", 3),
        ("show processes cpu", 25),
        ("show logging", 2),
        ("show lldp neighbors", 2),
        ("show lldp neighbors detail", 2),
        ("show snmp community", 2),
    ],
)
def test_ntc_templates_parse_every_row(command: str, count: int) -> None:
    parsed = parse_output(platform="cisco_ios", command=command, data=show(command))
    assert len(parsed) == count


def test_ntc_parse_of_interfaces_matches_the_context() -> None:
    parsed = parse_output(platform="cisco_ios", command="show interfaces", data=show("sh int"))
    by_name = {row["interface"]: row for row in parsed}
    assert by_name["GigabitEthernet1/0/2"]["link_status"] == "administratively down"
    assert by_name["Vlan10"]["ip_address"] == "10.10.10.2"
    assert by_name["GigabitEthernet1/0/1"]["input_packets"] == "123456"
    status = parse_output(
        platform="cisco_ios", command="show interfaces status", data=show("sh int status")
    )
    assert [(row["port"], row["status"], row["vlan_id"]) for row in status] == [
        ("Gi1/0/1", "connected", "trunk"),
        ("Gi1/0/2", "disabled", "10"),
        ("Gi1/0/3", "notconnect", "10"),
        ("Te1/1/1", "connected", "routed"),
    ]


def test_vlan_brief_lists_access_ports_four_to_a_line() -> None:
    ports = tuple(
        InterfaceView(f"GigabitEthernet1/0/{n}", switchport_mode="access", access_vlan=10)
        for n in range(1, 7)
    )
    text = show("show vlan brief", make_ctx(interfaces=ports))
    assert (
        "10   staff                            active    Gi1/0/1, Gi1/0/2, Gi1/0/3, Gi1/0/4" in text
    )
    assert f"\n{'':48}Gi1/0/5, Gi1/0/6\n" in text
    parsed = parse_output(platform="cisco_ios", command="show vlan", data=text)
    staff = next(row for row in parsed if row["vlan_id"] == "10")
    assert staff["interfaces"] == [f"Gi1/0/{n}" for n in range(1, 7)]
    assert [row["vlan_id"] for row in parsed][:3] == ["1", "10", "20"]


def test_get_vlans_lists_access_ports_and_trunks() -> None:
    vlans = sim_driver(make_ctx()).get_vlans()
    assert vlans["10"] == {
        "name": "staff",
        "interfaces": ["GigabitEthernet1/0/1", "GigabitEthernet1/0/2", "GigabitEthernet1/0/3"],
    }
    assert vlans["20"] == {"name": "voice", "interfaces": ["GigabitEthernet1/0/1"]}
    assert vlans["1002"]["interfaces"] == []
    assert "Gi1/0/1" not in show("show vlan brief")  # brief lists access ports only


def test_ipv6_interface_is_empty_without_ipv6() -> None:
    assert show("show ipv6 interface") == ""


# ---------------------------------------------------------------- neighbours


def test_get_lldp_neighbors_uses_chassis_id_without_a_name() -> None:
    result = sim_driver(make_ctx()).get_lldp_neighbors()
    assert result == {
        "GigabitEthernet1/0/1": [{"hostname": "jed-core1.hq.example.org", "port": "Gi1/0/48"}],
        "TenGigabitEthernet1/1/1": [{"hostname": "00:24:BB:BB:00:02", "port": "00:24:BB:BB:00:02"}],
    }


def test_get_lldp_neighbors_detail_reads_every_field() -> None:
    result = sim_driver(make_ctx()).get_lldp_neighbors_detail()
    [core] = result["GigabitEthernet1/0/1"]
    assert napalm_model_ok(models.LLDPNeighborDetailDict, core)
    assert core == {
        "parent_interface": "",
        "remote_chassis_id": "00:24:AA:AA:00:01",
        "remote_port": "Gi1/0/48",
        "remote_port_description": "GigabitEthernet1/0/48",
        "remote_system_name": "jed-core1.hq.example.org",
        "remote_system_description": CORE.remote_system_description,
        "remote_system_capab": ["bridge", "router"],
        "remote_system_enable_capab": ["bridge", "router"],
    }
    [nameless] = result["TenGigabitEthernet1/1/1"]
    assert (nameless["remote_system_name"], nameless["remote_port_description"]) == ("", "")


def test_lldp_brief_truncates_long_device_ids_to_twenty_characters() -> None:
    text = show("show lldp neighbors")
    assert "\njed-core1.hq.exampleGi1/0/1        120        B,R             Gi1/0/48\n" in text
    assert text.endswith("Total entries displayed: 2")


def test_get_arp_table_sorted_with_ages() -> None:
    result = sim_driver(make_ctx()).get_arp_table()
    assert [(e["ip"], e["age"], e["mac"]) for e in result] == [
        ("10.10.10.2", -1.0, "00:24:F7:DD:77:40"),
        ("10.10.10.9", 3.0, "A0:99:9B:1C:DF:A7"),
        ("10.10.10.10", 37.0, "68:05:CA:12:71:C2"),
    ]
    assert {e["interface"] for e in result} == {"Vlan10"}
    line = "Internet  10.10.10.10            37   6805.ca12.71c2  ARPA   Vlan10"
    assert line in show("show ip arp")


# ---------------------------------------------------------------- health and management


def test_get_environment_reads_cpu_memory_and_temperature() -> None:
    env = sim_driver(make_ctx()).get_environment()
    assert env["cpu"][0]["%usage"] == 7.0
    assert env["memory"] == {"available_ram": 512 * 1024 * 1024, "used_ram": 180 * 1024 * 1024}
    assert env["temperature"] == {
        "system": {"is_alert": False, "is_critical": False, "temperature": 42.0}
    }
    assert napalm_model_ok(models.MemoryDict, env["memory"])


@pytest.mark.parametrize(
    "command", ["show environment temperature", "show environment temperature status"]
)
def test_a_catalyst_9000_prints_its_stack_members_sensors(command: str) -> None:
    """IOS-XE on a C9300: `Switch 1: SYSTEM TEMPERATURE is OK`, inlet and hotspot sensors,
    the format ntc-templates' Catalyst 9000 template parses (the 3750-X's does not match)."""
    ctx = make_ctx(model="C9300-48P", temperature_celsius=47.0)
    rows = parse_output(platform="cisco_ios", command=command, data=run_show(command, ctx))
    assert rows == [
        {
            "switch": "1",
            "switch_temperature": "OK",
            "inlet_temperature_value": "35",
            "inlet_temperature_state": "GREEN",
            "inlet_yellow_threshold": "46",
            "inlet_red_threshold": "56",
            "hotspot_temperature_value": "47",
            "hotspot_temperature_state": "GREEN",
            "hotspot_yellow_threshold": "105",
            "hotspot_red_threshold": "125",
        }
    ]


def test_napalm_reads_a_catalyst_9000s_inlet_and_hotspot() -> None:
    env = sim_driver(make_ctx(model="C9300-48P", temperature_celsius=47.0)).get_environment()
    assert env["temperature"] == {
        "inlet": {"is_alert": False, "is_critical": False, "temperature": 35.0},
        "hotspot": {"is_alert": False, "is_critical": False, "temperature": 47.0},
    }


def test_the_3750x_keeps_the_ios_15_environment_format() -> None:
    text = run_show("show environment temperature", make_ctx())
    assert text.strip() == "SYSTEM TEMPERATURE is OK"


@pytest.mark.parametrize(
    ("celsius", "alert", "critical", "state"),
    [(87.0, False, False, "GREEN"), (90.0, True, False, "YELLOW"), (95.0, True, True, "RED")],
    ids=["green", "yellow", "red"],
)
def test_temperature_thresholds(celsius: float, alert: bool, critical: bool, state: str) -> None:
    ctx = make_ctx(temperature_celsius=celsius)
    system = sim_driver(ctx).get_environment()["temperature"]["system"]
    assert (system["is_alert"], system["is_critical"]) == (alert, critical)
    assert f"System Temperature State: {state}" in show("show environment", ctx)


def test_get_users_reads_the_running_config() -> None:
    users = sim_driver(make_ctx()).get_users()
    assert users == {
        "admin": {
            "level": 15,
            "password": "$9$nhEmQVczB7dqsO$X.HsgL6x1il0RxkOSSvyQYwucySCt7qFm4v7pqCxkKM",
            "sshkeys": ["ssh-rsa 0123456789ABCDEF0123456789ABCDEF admin@ops"],
        },
        "audit": {"level": 1, "password": "$1$xyz$0123456789abcdefABCDE.", "sshkeys": []},
    }


def test_get_snmp_information_with_chassis_from_show_snmp_chassis() -> None:
    snmp = sim_driver(make_ctx()).get_snmp_information()
    assert snmp == {
        "chassis_id": "FDO1234X0AB",  # IOS defaults the chassis id to the serial number
        "contact": "noc@example.org",
        "location": "Jeddah HQ, rack 3",
        "community": {
            "n3tw4rden": {"mode": "ro", "acl": "SNMP-RO"},
            "r3adwr1te": {"mode": "rw", "acl": "N/A"},
        },
    }
    custom = make_ctx(snmp_chassis_id="JED-SW1-RACK3")
    assert sim_driver(custom).get_snmp_information()["chassis_id"] == "JED-SW1-RACK3"


def test_snmp_not_enabled_without_any_snmp_config() -> None:
    ctx = make_ctx(
        snmp_communities=(),
        snmp_contact="",
        snmp_location="",
        running_config="hostname jed-sw1\nend\n",
    )
    assert show("show snmp", ctx) == "%SNMP agent not enabled"
    assert show("show snmp").startswith("Chassis: FDO1234X0AB\nContact: noc@example.org\n")


def test_get_ntp_servers_and_stats() -> None:
    driver = sim_driver(make_ctx())
    assert driver.get_ntp_servers() == {"10.10.0.1": {}, "10.10.0.2": {}}
    stats = driver.get_ntp_stats()
    assert [(s["remote"], s["synchronized"]) for s in stats] == [
        ("10.10.0.1", True),
        ("10.10.0.2", False),
    ]
    assert sim_driver(make_ctx(ntp_servers=())).get_ntp_stats() == []


def test_memory_pools_sum_to_the_context() -> None:
    rows = [line.split() for line in show("show memory statistics").splitlines()[1:]]
    assert sum(int(row[2]) for row in rows) == 512 * 1024 * 1024
    assert sum(int(row[3]) for row in rows) == 180 * 1024 * 1024


def test_processes_cpu_header_parses_with_ntc() -> None:
    parsed = parse_output(
        platform="cisco_ios", command="show processes cpu", data=show("sh proc cpu")
    )
    assert {row["cpu_usage_1_min"] for row in parsed} == {"7"}


# ---------------------------------------------------------------- logging


def test_logging_lines_carry_the_configured_timestamp() -> None:
    text = show("show logging")
    assert "\nJan  5 10:02:11.005 AST: %SYS-5-CONFIG_I: Configured from console by admin" in text
    assert "Logging to 10.10.0.5  (udp port 514" in text
    assert "Log Buffer (16384 bytes):" in text
    parsed = parse_output(platform="cisco_ios", command="show logging", data=text)
    assert [(row["facility"], row["mnemonic"]) for row in parsed] == [
        ("SYS", "CONFIG_I"),
        ("SEC_LOGIN", "LOGIN_SUCCESS"),
    ]


@pytest.mark.parametrize(
    ("config", "prefix"),
    [
        ("service timestamps log datetime msec\n", "Jan  5 10:02:11.005: %SYS"),
        ("service timestamps log datetime year\n", "Jan  5 2026 10:02:11: %SYS"),
        ("service timestamps log uptime\n", "1w2d: %SYS"),
        ("no service timestamps log\n", "%SYS"),
        ("", "Jan  5 10:02:11.005: %SYS"),
        (
            "service sequence-numbers\nservice timestamps log datetime\n",
            "000001: Jan  5 10:02:11: %",
        ),
    ],
    ids=["msec", "year", "uptime", "none", "default", "sequence-numbers"],
)
def test_logging_timestamp_styles(config: str, prefix: str) -> None:
    text = show("show logging", make_ctx(running_config=config))
    assert f"\n{prefix}" in text


def test_logging_unsynchronised_clock_is_starred_and_buffer_keeps_newest() -> None:
    start = datetime(2026, 1, 5, 10, 0, 0)
    entries = tuple(
        LogEntry(start + timedelta(seconds=n), "SYS-5-CONFIG_I", f"message {n:03d}")
        for n in range(200)
    )
    ctx = make_ctx(log=entries, ntp_servers=(), running_config="logging buffered 4096\n")
    text = show("show logging", ctx)
    body = text.split("Log Buffer (4096 bytes):\n\n", 1)[1].splitlines()
    assert body[-1] == "*Jan  5 10:03:19.000: %SYS-5-CONFIG_I: message 199"
    assert len({len(line) for line in body}) == 1
    assert len(body) == 4096 // (len(body[-1]) + 1) < 200


# ---------------------------------------------------------------- test helper itself


def test_section_filter_keeps_children_like_ios() -> None:
    text = "a\nip ssh pubkey-chain\n  username x\n   key-hash ssh-rsa K\nusername y\n"
    assert apply_pipe(text, "section username") == (
        "  username x\n   key-hash ssh-rsa K\nusername y"
    )
    assert apply_pipe(text, "include ^a") == "a"
    assert apply_pipe(text, "exclude user") == "a\nip ssh pubkey-chain\n   key-hash ssh-rsa K"


@pytest.mark.parametrize(
    ("args", "path", "rest"),
    [
        (["r"], ("running-config",), []),
        (["st"], ("startup-config",), []),
        (["ru", "int", "Vlan10"], ("running-config", "interface"), ["Vlan10"]),
        (["ru", "a"], ("running-config", "all"), []),
        (["arch", "config", "diff"], ("archive",), ["config", "diff"]),
        (["flash"], ("flash:",), []),
        (["ip", "int", "br"], ("ip", "interface", "brief"), []),
    ],
)
def test_resolve_names_the_full_keywords(
    args: list[str], path: tuple[str, ...], rest: list[str]
) -> None:
    from netwarden.lab.sim.shows import resolve

    found = resolve(args)
    assert (found.path, found.rest, found.ambiguous) == (path, rest, False)


@pytest.mark.parametrize("args", [["s"], ["in"], ["ip", "a"], ["int", "s"]])
def test_resolve_reports_ambiguous_abbreviations(args: list[str]) -> None:
    from netwarden.lab.sim.shows import resolve

    found = resolve(args)
    assert found.ambiguous
    assert found.renderer is None
    assert match_command(args) is None


def test_ntp_associations_print_addresses_never_names() -> None:
    """NAPALM's get_ntp_stats reads the peer's address (a name made it drop the peer)."""
    ctx = make_ctx(
        ntp_servers=("ntp1.hq.example.org", "jed-ntp2", "10.10.0.3"),
        hosts=(("ntp1.hq.example.org", "10.10.0.1"),),
    )
    stats = sim_driver(ctx).get_ntp_stats()
    remotes = [entry["remote"] for entry in stats]
    assert remotes[0] == "10.10.0.1"  # from the ip host table
    assert re.fullmatch(r"198\.1[89]\.\d+\.\d+", remotes[1])  # unresolvable: RFC 2544 range
    assert remotes[2] == "10.10.0.3"
