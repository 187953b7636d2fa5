"""The device exporter: ``/probe?target=<inventory name>&module=<health|config|compliance>``.

The multi-target pattern of snmp_exporter and blackbox_exporter: Prometheus scrapes
this one process once per device (the device's name in ``target``), and every probe
builds a fresh registry. :mod:`~collectors.exporter.probe` runs probes (inventory
targets only, credentials from the inventory, per-device lock, global concurrency
limit, timeout from Prometheus's header); :mod:`~collectors.exporter.modules` turns
device readings into metric families; :mod:`~collectors.exporter.compliance` reads
the latest audit report; :mod:`~collectors.exporter.http` checks requests and serves;
:mod:`~collectors.exporter.promconfig` writes Prometheus's configuration from the inventory.
"""

from __future__ import annotations
