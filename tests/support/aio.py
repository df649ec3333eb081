"""Running a test's scenario on an event loop of its own, with a bound on a hang."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
HANG = 60.0  # seconds: a bound on a hang, not a speed claim


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """Run ``scenario`` on a new event loop (``asyncio.run``), failing if it hangs."""

    async def bounded() -> T:
        return await asyncio.wait_for(scenario, HANG)

    return asyncio.run(bounded())
