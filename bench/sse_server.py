"""A loopback HTTP server that answers every POST with the same streamed run (a helper process).

``python -m bench.sse_server [DELTAS]`` prints ``{"base_url": ..., "text": ...}`` on one line,
then serves until its standard input closes. The body is the event stream of
:func:`bench.payloads.run_stream`, sent with ``Transfer-Encoding: chunked``, one HTTP chunk per
event as an API server flushes them; the whole answer is encoded once, up front, and written
in one call, so the server costs next to nothing while a client reads.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench.common import wait_for_stdin_close
from bench.payloads import run_stream


def _chunked(frames: list[bytes]) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(frame), frame) for frame in frames]
    parts.append(b"0\r\n\r\n")
    return b"".join(parts)


def make_handler(body: bytes) -> type[BaseHTTPRequestHandler]:
    head = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/event-stream; charset=utf-8\r\n"
        b"Cache-Control: no-cache\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"x-request-id: req_bench\r\n"
        b"\r\n"
    )

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            self.wfile.write(head + body)
            self.wfile.flush()

        do_GET = do_POST

    return Handler


def main() -> None:
    deltas = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    _text, frames = run_stream(deltas)
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(_chunked(frames)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    port = server.server_address[1]
    print(json.dumps({"base_url": f"http://127.0.0.1:{port}/v1", "events": len(frames)}))
    sys.stdout.flush()
    wait_for_stdin_close()
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
