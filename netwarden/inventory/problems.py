"""A finding about the inventory: what is wrong and where (file, line, key)."""

from __future__ import annotations

from netwarden.basemodel import FrozenModel


class Problem(FrozenModel):
    """One inventory problem. ``key`` is the dotted path of the offending key.

    Examples:
        >>> str(Problem(file="inventory/host_vars/a.yml", line=3, key="mgmt_address", message="bad"))
        'inventory/host_vars/a.yml:3: mgmt_address: bad'
    """

    file: str
    line: int = 0
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else (self.file or "<inventory>")
        return f"{where}: {self.key}: {self.message}"
