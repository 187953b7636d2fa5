"""Prometheus exporters and the Scapy traffic auditor.

Imports go one way: collectors import the netwarden core, never the reverse.
The exporters and the auditor arrive with issues 5 and later.
"""
