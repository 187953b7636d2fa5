"""Compliance: rule packs as data, predicates, results, waivers, history and reports (issue 6)."""

from __future__ import annotations
