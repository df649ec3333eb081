"""The OMIT sentinel: a field that is absent from a JSON object, as opposed to ``null``.

The lowest module of the package: everything that builds or reads JSON objects imports it,
and it imports nothing from the package.
"""

from __future__ import annotations

import enum
from typing import Literal

__all__ = ["OMIT", "Omit"]


class Omit(enum.Enum):
    """The type of :data:`OMIT`: a field that is absent from the JSON object.

    ``OMIT`` differs from ``None``: ``None`` is sent (or was received) as JSON ``null``, while an
    omitted field is not in the object at all. ``OMIT`` is falsy, so ``if model.field:`` reads
    naturally and narrows the type.
    """

    OMIT = "OMIT"

    def __bool__(self) -> Literal[False]:
        return False

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Literal[Omit.OMIT] = Omit.OMIT
