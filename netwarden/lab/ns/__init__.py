"""The whole organisation as real Linux in network namespaces (``netwarden lab up``).

Firewalls (nftables), servers and sensors (their own sshd and services), clients,
a switching fabric per site with the simulated switches, a WAN, "the internet" and
the member-state partners, built from the inventory; see ``docs/lab.md``.

- ``plan``: inventory -> frozen :class:`~netwarden.lab.ns.topology.LabPlan` (pure);
- ``build`` (``up``), ``teardown`` (``down``), ``status`` (``status``, ``exec``);
- ``record`` and ``state``: the write-ahead record ``down`` removes a lab from;
- ``netops``: ``ip``/``tc``/``nft``/``sysctl``; ``seal``: the lab touches nothing of the host;
- ``labinventory``: the lab directory as an inventory; ``parts``: the running parts
  (servers, simulated switches, partner VPNs).

Needs root. Modules are imported by the command that uses them (the CLI imports
this package lazily).
"""
