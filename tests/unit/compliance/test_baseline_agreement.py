"""The rule pack's remediation and the rendered baseline say the same (issue 11 point 15).

``ios-ntp-authentication`` recommended ``hmac-sha2-256`` while the baseline
rendered ``md5``: an auditor following the report would "fix" a device into a
config the baseline then reverts. Both now use the stronger ``hmac-sha2-256``.
"""

from __future__ import annotations

import re

from netwarden.compliance.engine import Engine
from netwarden.compliance.models import Status
from netwarden.compliance.sources import Artifact, Target
from netwarden.inventory.models import Inventory
from netwarden.render import render_all

KEY_RE = re.compile(r"^ntp authentication-key (\d+) (\S+) ", re.M)


def test_ntp_key_algorithm_agrees(inv_engine: Engine, inventory: Inventory) -> None:
    rule = next(r for r in inv_engine.rules if r.id == "ios-ntp-authentication")
    advised = KEY_RE.search(rule.remediation)
    assert advised is not None
    assert advised[2] == "hmac-sha2-256"
    configs = render_all(inventory)
    assert configs
    for name, text in configs.items():
        rendered = KEY_RE.findall(text)
        assert rendered == [(advised[1], advised[2])], name
        assert " md5 " not in text, name


def test_the_rendered_baseline_passes_the_ntp_rule(
    inv_engine: Engine, inventory: Inventory
) -> None:
    name, text = next(iter(sorted(render_all(inventory).items())))
    results = inv_engine.audit(Target(name, "ios", Artifact(f"{name}.cfg", text)))
    ntp = next(r for r in results if r.rule == "ios-ntp-authentication")
    assert ntp.status is Status.PASS, ntp.message
