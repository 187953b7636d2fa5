"""The frozen pydantic base every netwarden model shares: immutable, unknown fields refused.

Examples:
    >>> class Point(FrozenModel):
    ...     x: int
    >>> Point(x=1).model_config["frozen"]
    True
    >>> Point(x=1, y=2)
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for Point
    y
      Extra inputs are not permitted [type=extra_forbidden, input_value=2, input_type=int]
        For further information visit https://errors.pydantic.dev/.../v/extra_forbidden
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class FrozenModel(BaseModel):
    """Immutable once built; a field the model does not declare is an error, not ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")
