"""A token provider shared by many threads: every token it hands out stays redacted.

The provider here returns a new token on every call (a rotation on every request, the worst
case), and the server echoes the token it received back in its error message, as some
servers do. Sixteen threads share one client.
"""

from __future__ import annotations

import itertools
import re
import threading
from concurrent.futures import ThreadPoolExecutor

from assistants_client import AssistantsClient, AuthenticationError
from tests.servers.scripted import RecordedRequest, Reply, ScriptedServer

from .conftest import project_endpoint

THREADS = 16
CALLS_PER_THREAD = 2


class RotatingProvider:
    """Hands out a new token on every call and remembers each one."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self.issued: list[str] = []

    def __call__(self) -> str:
        with self._lock:
            token = f"eyJ0eXAi.ROTATING-{next(self._counter):04d}-SECRET.sig"
            self.issued.append(token)
            return token


def echo_token(request: RecordedRequest) -> Reply:
    received = str(request.headers.get("Authorization", ""))
    return Reply.error(401, f"Token {received.removeprefix('Bearer ')} is not valid here")


def test_sixteen_threads_sharing_a_rotating_provider_never_show_a_token(
    server: ScriptedServer,
) -> None:
    server.default = echo_token
    provider = RotatingProvider()
    barrier = threading.Barrier(THREADS)
    with AssistantsClient.for_foundry(
        project_endpoint(server), token_provider=provider, max_retries=0
    ) as client:

        def work(_: int) -> list[str]:
            barrier.wait(timeout=10)
            shown: list[str] = []
            for _ in range(CALLS_PER_THREAD):
                try:
                    client.get_thread("thread_1")
                except AuthenticationError as error:
                    shown += [str(error), repr(error), str(error.body), str(error.error)]
            return shown

        with ThreadPoolExecutor(THREADS) as pool:
            shown = [text for texts in pool.map(work, range(THREADS)) for text in texts]

        # Afterwards, one error that names every token handed out so far.
        sent_before = list(provider.issued)
        server.default = lambda request: Reply.error(401, "seen: " + " ".join(sent_before))
        try:
            client.get_thread("thread_1")
        except AuthenticationError as error:
            shown += [str(error), repr(error), str(error.body)]

    assert len(sent_before) == THREADS * CALLS_PER_THREAD
    received = {str(r.headers["Authorization"]) for r in server.requests}
    assert {f"Bearer {token}" for token in provider.issued} == received
    assert len(shown) == THREADS * CALLS_PER_THREAD * 4 + 3
    for text in shown:
        leaked = [token for token in provider.issued if token in text]
        assert not leaked, f"{leaked[:2]} in {text[:200]!r}"
    assert all(re.search(r"<redacted>", text) for text in shown[-3:])
