"""System show commands: version, configs, clock, users, hosts, inventory."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta
from pathlib import PurePosixPath

from netwarden.lab.sim.showmodel import ShowContext
from netwarden.lab.sim.shows_util import (
    clock_synchronized,
    clock_text,
    config_lines,
    config_value,
    dotted_to_colon,
    find_interface,
    kind_of,
    split_name,
    uptime_text,
)

_CRYPTO_NOTICE = """\
This product contains cryptographic features and is subject to United
States and local country laws governing import, export, transfer and
use. Delivery of Cisco cryptographic products does not imply
third-party authority to import, export, distribute or use encryption.
Importers, exporters, distributors and users are responsible for
compliance with U.S. and local country laws. By using this product you
agree to comply with applicable laws and regulations. If you are unable
to comply with U.S. and local laws, return this product immediately.

A summary of U.S. laws governing Cisco cryptographic products may be found at:
http://www.cisco.com/wwl/export/crypto/tool/stqrg.html

If you require further assistance please contact us by sending email to
export@cisco.com."""

_XE_GPL_NOTICE = """\
Cisco IOS-XE software, Copyright (c) 2005-2023 by cisco Systems, Inc.
All rights reserved.  Certain components of Cisco IOS-XE software are
licensed under the GNU General Public License ("GPL") Version 2.0.  The
software code licensed under GPL Version 2.0 is free software that comes
with ABSOLUTELY NO WARRANTY.  You can redistribute and/or modify such
GPL code under the terms of GPL Version 2.0.  For more details, see the
documentation or "License Notice" file accompanying the IOS-XE software,
or the applicable URL provided on the flyer accompanying the IOS-XE
software."""

# Names as ``show version`` counts them ("52 Gigabit Ethernet interfaces").
_COUNTED_KINDS = (
    ("Vlan", "Virtual Ethernet"),
    ("FastEthernet", "FastEthernet"),
    ("GigabitEthernet", "Gigabit Ethernet"),
    ("TenGigabitEthernet", "Ten Gigabit Ethernet"),
    ("TwentyFiveGigE", "Twenty Five Gigabit Ethernet"),
    ("FortyGigabitEthernet", "Forty Gigabit Ethernet"),
)


def _is_xe(ctx: ShowContext) -> bool:
    """IOS XE (16.x, 17.x; Catalyst 9000) prints a different ``show version`` preamble."""
    major = ctx.os_version.split(".", 1)[0]
    return (major.isdigit() and int(major) >= 16) or ctx.image.endswith("packages.conf")


def _is_switch(ctx: ShowContext) -> bool:
    return ctx.model.upper().startswith(("WS-C", "C9", "IE-"))


def _image_names(ctx: ShowContext) -> tuple[str, str]:
    """(platform family, image feature set): ``("C3750E", "C3750E-UNIVERSALK9-M")``."""
    base = PurePosixPath(ctx.image.split(":", 1)[-1]).name
    parts = base.split("-")
    if len(parts) >= 3:
        return parts[0].upper(), f"{parts[0]}-{parts[1]}-M".upper()
    family = re.sub(r"^(WS-)?", "", ctx.model).split("-", 1)[0].upper()
    return family, f"{family}-UNIVERSALK9-M"


def _interface_counts(ctx: ShowContext) -> list[str]:
    lines: list[str] = []
    for kind_name, label in _COUNTED_KINDS:
        count = sum(1 for itf in ctx.interfaces if split_name(itf.name)[0] == kind_name)
        if count:
            lines.append(f"{count} {label} interface{'' if count == 1 else 's'}")
    return lines


def version(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show version``."""
    if args:
        return None
    family, image_id = _image_names(ctx)
    restarted = ctx.now - timedelta(seconds=ctx.uptime_seconds)
    memory_k = ctx.memory_total_bytes // 1024
    physical = sum(1 for itf in ctx.interfaces if kind_of(itf.name).physical)
    lines: list[str] = []
    if _is_xe(ctx):
        lines += [
            f"Cisco IOS XE Software, Version {ctx.os_version}",
            (
                "Cisco IOS Software [Cupertino], Catalyst L3 Switch Software (CAT9K_IOSXE), "
                f"Version {ctx.os_version}, RELEASE SOFTWARE (fc5)"
            ),
            "Technical Support: http://www.cisco.com/techsupport",
            "Copyright (c) 1986-2023 by Cisco Systems, Inc.",
            "Compiled Fri 20-Oct-23 10:44 by mcpre",
            "",
            "",
            _XE_GPL_NOTICE,
            "",
            "",
            "ROM: IOS-XE ROMMON",
            "BOOTLDR: System Bootstrap, Version 17.6.1r[FC2], RELEASE SOFTWARE (P)",
            "",
            f"{ctx.hostname} uptime is {uptime_text(ctx.uptime_seconds)}",
            f"Uptime for this control processor is {uptime_text(ctx.uptime_seconds)}",
        ]
        processor = f"cisco {ctx.model} (X86) processor with {memory_k}K/6147K bytes of memory."
    else:
        lines += [
            (
                f"Cisco IOS Software, {family} Software ({image_id}), Version {ctx.os_version}, "
                "RELEASE SOFTWARE (fc2)"
            ),
            "Technical Support: http://www.cisco.com/techsupport",
            "Copyright (c) 1986-2020 by Cisco Systems, Inc.",
            "Compiled Tue 31-Mar-20 22:39 by prod_rel_team",
            "",
            f"ROM: Bootstrap program is {family} boot loader",
            (
                f"BOOTLDR: {family} Boot Loader ({family}-HBOOT-M) Version 15.2(3r)E, "
                "RELEASE SOFTWARE (fc1)"
            ),
            "",
            f"{ctx.hostname} uptime is {uptime_text(ctx.uptime_seconds)}",
        ]
        processor = (
            f"cisco {ctx.model} (PowerPC405) processor (revision A0) "
            f"with {memory_k}K bytes of memory."
        )
    lines += [
        "System returned to ROM by power-on",
        (
            f"System restarted at {restarted:%H:%M:%S} {ctx.timezone} "
            f"{restarted:%a %b} {restarted.day} {restarted.year}"
        ),
        f'System image file is "{ctx.image}"',
        "Last reload reason: power-on",
        "",
        "",
        "",
        _CRYPTO_NOTICE,
        "",
        "License Level: ipservices",
        "License Type: Permanent",
        "Next reload license Level: ipservices",
        "",
        processor,
        f"Processor board ID {ctx.serial}",
        "Last reset from power-on",
        *_interface_counts(ctx),
        "The password-recovery mechanism is enabled.",
        "",
        (
            f"{ctx.nvram_total_bytes // 1024}K bytes of flash-simulated non-volatile "
            "configuration memory."
        ),
    ]
    if _is_switch(ctx):
        lines += [
            f"Base ethernet MAC Address       : {dotted_to_colon(ctx.base_mac)}",
            "Motherboard assembly number     : 73-12554-08",
            f"Motherboard serial number       : {ctx.serial}",
            "Model revision number           : A0",
            "Motherboard revision number     : A0",
            f"Model number                    : {ctx.model}",
            f"System serial number            : {ctx.serial}",
            "Top Assembly Part Number        : 800-32786-02",
            "Top Assembly Revision Number    : B0",
            "Version ID                      : V02",
            "Hardware Board Revision Number  : 0x05",
            "",
            "",
            "Switch Ports Model              SW Version            SW Image",
            "------ ----- -----              ----------            ----------",
            f"*    1 {physical:<5} {ctx.model:<18} {ctx.os_version:<21} {image_id}",
            "",
        ]
    lines += ["", "Configuration register is 0xF", ""]
    return "\n".join(lines)


def _config_header(text: str) -> str:
    return f"Building configuration...\n\nCurrent configuration : {len(text.encode())} bytes\n"


def interface_section(config: str, name: str) -> str | None:
    """The ``interface NAME`` block of ``config`` as ``show running-config interface`` prints it.

    ``!``, the block, then ``end``; None when the config has no such interface.
    """
    lines = config.splitlines()
    for index, line in enumerate(lines):
        if line.strip() == f"interface {name}" and not line.startswith(" "):
            block = [line]
            for child in lines[index + 1 :]:
                if not child.startswith(" "):
                    break
                block.append(child)
            return "!\n" + "\n".join(block) + "\nend\n"
    return None


def running_config(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show running-config [all]`` and ``show running-config interface NAME``."""
    words = [word.lower() for word in args]
    if not words or words == ["all"]:
        return _config_header(ctx.running_config) + ctx.running_config
    if "interface".startswith(words[0]) and len(words) > 1:
        itf = find_interface(ctx, list(args[1:]))
        if itf is None:
            return None
        section = interface_section(ctx.running_config, itf.name)
        if section is None:
            return None
        return _config_header(section) + section
    return None


def startup_config(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show startup-config``: ``Using N out of M bytes`` then the saved text."""
    if args:
        return None
    if not ctx.startup_config:
        return "startup-config is not present"
    used = len(ctx.startup_config.encode())
    return f"Using {used} out of {ctx.nvram_total_bytes} bytes\n" + ctx.startup_config


def clock(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show clock [detail]``; ``*`` marks a clock no NTP server has set."""
    words = [word.lower() for word in args]
    if words and not (len(words) == 1 and "detail".startswith(words[0])):
        return None
    synced = clock_synchronized(ctx)
    text = ("" if synced else "*") + clock_text(ctx.now, ctx.timezone)
    if words:
        text += "\nTime source is NTP" if synced else "\nNo time source"
    return text


def _line_number(line: str) -> int:
    kind, _, number = line.partition(" ")
    base = {"con": 0, "aux": 1, "vty": 1}.get(kind, 0)
    return base + int(number) if number.isdigit() else base


def users(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show users``: one row per CLI session, ``*`` on the session asking."""
    if args:
        return None
    lines = ["    Line       User       Host(s)              Idle       Location"]
    for session in ctx.sessions:
        mark = "*" if session.current else " "
        lines.append(
            f"{mark}{_line_number(session.line):>3} {session.line:<9} {session.username:<10} "
            f"{'idle':<20} {session.idle:>8} {session.source}"
        )
    lines += ["", "  Interface    User               Mode         Idle     Peer Address", ""]
    return "\n".join(lines)


def hosts(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show hosts``: default domain, name servers and the static host table."""
    if args:
        return None
    domain = ctx.domain_name or "not set"
    servers: list[str] = []
    for match in config_lines(ctx.running_config, r"ip name-server (?:vrf \S+ )?(.+)$"):
        servers.extend(match.group(1).split())
    lookup = "domain service" if servers else "static mappings"
    if config_value(ctx.running_config, r"(no ip domain[ -]lookup)"):
        lookup = "static mappings"
    lines = [f"Default domain is {domain}", f"Name/address lookup uses {lookup}"]
    if servers:
        lines.append(f"Name servers are {', '.join(servers)}")
    lines += [
        "",
        "Codes: UN - unknown, EX - expired, OK - OK, ?? - revalidate",
        "       TE - temporary, PE - permanent",
        "       NA - Not Applicable None - Not defined",
        "",
        "Host                      Port  Flags      Age Type   Address(es)",
    ]
    for name, address in ctx.hosts:
        lines.append(f"{name:<26}{'None':<6}{'(perm, OK)':<11}{0:>2}   {'IP':<6}{address}")
    return "\n".join(lines)


def inventory(ctx: ShowContext, args: Sequence[str]) -> str | None:
    """``show inventory``: the chassis (the simulator models no field-replaceable units)."""
    if args:
        return None
    name = "1" if _is_switch(ctx) else "Chassis"
    return (
        f'NAME: "{name}", DESCR: "{ctx.model}"\n'
        f"PID: {ctx.model:<18}, VID: {'V02':<5}, SN: {ctx.serial}\n"
    )
