"""A faithful, stateful local emulator of the Assistants API.

Run it with ``python -m assistants_client.emulator`` (or ``assistants-emulator``), or in
process::

    from assistants_client.emulator import Emulator

    with Emulator() as emu:
        emu.script.queue_text("hello world", chunks=5)
        ...  # point a client at emu.base_url

State is kept in memory, or in SQLite with ``db_path``. Runs answer deterministically (see
``assistants_client.emulator.responder``) unless replies are scripted through ``emu.script``;
``emu.faults`` injects errors and ``emu.requests`` records what was received.

Errors use the API's shape. A request body that breaks its schema is a 400 whose message
starts with the offending field path and whose ``param`` is that path (``body.tools[0].type``);
invalid query parameters name the parameter (``limit``). Without ``api_key`` any key, or none,
is accepted. Request bodies over ``max_body_bytes`` (4 MiB by default) are answered with 413.

List endpoints report ``first_id`` and ``last_id`` as ``""`` when the page is empty: the API
describes both as (required) strings, so the emulator never sends ``null`` there.
"""

from assistants_client.emulator.api import Timing
from assistants_client.emulator.errors import ApiError
from assistants_client.emulator.responder import Script
from assistants_client.emulator.server import (
    DEFAULT_MAX_BODY_BYTES,
    Emulator,
    Faults,
    RecordedRequest,
)

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "ApiError",
    "Emulator",
    "Faults",
    "RecordedRequest",
    "Script",
    "Timing",
]
