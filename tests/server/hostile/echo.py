"""A WSGI application that shows a server's side of the exchange, for the hostile tests.

* ``/pieces/<n>?gate=<port>``: answers ``n`` pieces without a Content-Length; before each it
  reads a byte from a connection it opens to the test's gate (a loopback port), so the test
  decides when the next piece is made, whatever the server does with the request body.
* anything else: the parts of the WSGI environ a server is responsible for, as JSON.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs

SHOWN = (
    "REQUEST_METHOD",
    "PATH_INFO",
    "RAW_URI",
    "QUERY_STRING",
    "SERVER_PROTOCOL",
    "HTTP_HOST",
    "CONTENT_LENGTH",
)


def piece(number: int) -> bytes:
    return f"piece {number}\n".encode()


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
    path = environ.get("PATH_INFO", "")
    if path.startswith("/pieces/"):
        gate = int(parse_qs(environ.get("QUERY_STRING", ""))["gate"][0])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return _paced(gate, int(path.rsplit("/", 1)[1]))
    shown = {key: environ.get(key) for key in SHOWN}
    shown["headers"] = sorted(key for key in environ if key.startswith("HTTP_"))
    body = json.dumps(shown).encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def _paced(gate_port: int, count: int) -> Iterator[bytes]:
    with socket.create_connection(("127.0.0.1", gate_port), timeout=30) as gate:
        for number in range(count):
            if not gate.recv(1):
                return
            yield piece(number)
