"""A faithful, stateful local emulator of the Assistants API: the server, with scripted answers.

Run it with ``python -m assistants_client.emulator`` (or ``assistants-emulator``), or in
process::

    from assistants_client.emulator import Emulator

    with Emulator() as emu:
        emu.script.queue_text("hello world", chunks=5)
        ...  # point a client at emu.base_url

It is ``assistants_client.server`` (the same engine, HTTP layer and store) with a scripted
responder in place of a Chat Completions backend. State is kept in memory, or in SQLite with
``db_path``. Runs answer deterministically (see ``assistants_client.emulator.replies``)
unless replies are scripted through ``emu.script``; ``emu.faults`` injects errors and
``emu.requests`` records the latest requests received.

Objects, events and lists carry every field the spec requires and every field api.openai.com
really sends beyond it (recorded in ``tests/fixtures/reference``), with its nulls: run steps
carry the recorded ``expires_at`` beside the spec's ``expired_at``, a run's ``instructions``
may be ``null``, and an empty list page has ``first_id`` and ``last_id`` ``null`` (see
``assistants_client.server.objects``).

``Emulator(foundry="PROJECT", api_key="TOKEN")`` serves as Azure AI Foundry's Agent Service
(classic agents) does: under ``/api/projects/PROJECT``, with a required ``api-version``, a
bearer token, lists without ``object`` and ``first_id``, and Foundry's own tool types.

Errors use the API's shape. A request body that breaks its schema is a 400 whose message
starts with the offending field path and whose ``param`` is that path (``body.tools[0].type``);
invalid query parameters name the parameter (``limit``). Without ``api_key`` any key, or none,
is accepted. Request bodies over ``max_body_bytes`` (4 MiB by default) are answered with 413.
"""

from assistants_client.emulator.server import (
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_REQUEST_LOG,
    FOUNDRY_API_VERSIONS,
    Emulator,
    Faults,
    RecordedRequest,
    Timing,
)
from assistants_client.server.errors import ApiError
from assistants_client.server.responders.script import Script

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_REQUEST_LOG",
    "FOUNDRY_API_VERSIONS",
    "ApiError",
    "Emulator",
    "Faults",
    "RecordedRequest",
    "Script",
    "Timing",
]
