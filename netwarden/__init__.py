"""netwarden: infrastructure automation and network security monitoring."""

from __future__ import annotations

__version__ = "0.1.0"
