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
    """Immutable once built; a field the model does not declare is an error, not ignored.

    ``defer_build``: a model's validator and serializer are compiled when the model is
    first used, not when its module is imported (issue 18: importing the inventory
    models compiled ~40 validators the auditor never uses on their own, ~80 ms of its
    start-up; it validates one, the inventory snapshot, whose validator holds them).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)
