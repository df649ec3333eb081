"""A real loopback server of ``POST /embeddings``, that can refuse on purpose.

It answers with the local embedder's vectors (in reverse order of ``index``, as a server may),
after answering the first ``rate_limited`` requests with ``429`` and ``Retry-After``; with
``missing`` it answers every request ``404`` (a backend that serves no embeddings). It records
each request's body and ``Authorization`` header.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from assistants_client.server.retrieval import LocalEmbedder


class EmbeddingsServer:
    def __init__(
        self,
        *,
        rate_limited: int = 0,
        retry_after: str = "0",
        missing: bool = False,
        dimensions: int = 32,
    ) -> None:
        self.rate_limited = rate_limited
        self.retry_after = retry_after
        self.missing = missing
        self.embedder = LocalEmbedder(dimensions)
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.refused = 0
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload, headers = owner.answer(self.path, body, self.headers)
                data = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def answer(
        self, path: str, body: dict[str, Any], headers: Any
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            self.requests.append(body)
            self.authorizations.append(headers.get("Authorization"))
            if self.missing or path != "/v1/embeddings":
                return 404, {"error": {"message": "Not Found", "type": "invalid_request_error"}}, {}
            if self.refused < self.rate_limited:
                self.refused += 1
                error = {"message": "Rate limit reached", "type": "rate_limit_exceeded"}
                return 429, {"error": error}, {"Retry-After": self.retry_after}
        inputs = body["input"]
        vectors = self.embedder.embed(inputs)
        data = [
            {"object": "embedding", "index": n, "embedding": vector}
            for n, vector in enumerate(vectors)
        ]
        data.reverse()
        usage = {"prompt_tokens": 1, "total_tokens": 1}
        return 200, {"object": "list", "data": data, "model": body["model"], "usage": usage}, {}

    def __enter__(self) -> EmbeddingsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
