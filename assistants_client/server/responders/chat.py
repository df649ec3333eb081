"""The Chat Completions backend: one turn of a run, answered by an OpenAI-compatible server.

:class:`ChatCompletionsResponder` sends a :class:`~assistants_client.server.responders.Turn`
as one streamed ``POST {base_url}/chat/completions`` (what the body holds, and what a backend
cannot take: ``chat_request.py``) and passes the backend's server-sent events on as increments
as soon as each is parsed (``chat_chunks.py``). It works with OpenAI, Azure OpenAI
(``https://<resource>.openai.azure.com/openai/v1``), Ollama, vLLM, llama.cpp's server and
LiteLLM.

Its HTTP machinery is the client's, the same code:

* the session: ``_transport.build_session`` (no cookie kept, pools of connections a deadline
  can cut). The proxy and CA settings of the environment (``HTTPS_PROXY``, ``NO_PROXY``,
  ``REQUESTS_CA_BUNDLE``...) are read once, when the responder is made, for its ``base_url``:
  not again on every call, and no ``~/.netrc`` is looked for;
* retries: the client's :class:`~assistants_client._retry.RetryPolicy`;
* deadlines: a :class:`~assistants_client._deadline.Deadline` per call, which shuts down the
  socket under a thread blocked reading it, from the package's one watchdog thread;
* timeouts: the client's timeout detection (``_transport.caused_by_timeout``);
* events: the client's linear framer (``_sse.EventFramer``), bounded by ``max_event_bytes``.

Faults: 429 and 5xx answers and connection errors before the answer's headers are retried up
to ``max_retries`` times (a backend's ``x-should-retry`` decides where it says), waiting as
``retry-after-ms`` / ``Retry-After`` say (capped at ``max_retry_wait``) or else an exponential
backoff with jitter; then the turn fails with ``rate_limit_exceeded`` (429) or
``server_error``. Any other 4xx fails at once with ``invalid_prompt`` and the backend's message.
Failures during the stream are never retried, since increments were already handed out: a cut
stream, silence longer than the read timeout, an ``error`` object in the stream, an event larger
than ``max_event_bytes`` or one that is not JSON all end the turn with ``server_error`` after
what was already yielded. The last increment is :class:`Finish` or :class:`Failure`.

Bounds: no backend can make a turn grow or last without end. An answer holds at most
``max_answer_text`` characters of text and tool calls, its body at most
``BYTES_PER_CHARACTER`` bytes per such character (keep-alive comments and empty chunks count
there), and a turn lasts at most ``total_timeout`` seconds; past any of them the turn fails
with ``server_error``, saying which, after the text already yielded. ``[DONE]`` ends the turn
at once: what follows it is read only to reuse the connection, briefly, and not at all when
the connection is not to be reused. As the SSE standard decodes a stream, bytes that are not
UTF-8 are read as U+FFFD, and so are halves of escaped surrogate pairs; ``NaN`` and
``Infinity`` are read as null.

Cancellation: once ``cancelled`` is set, :meth:`~ChatCompletionsResponder.respond` stops within
a second and closes the backend connection, even while it is blocked reading a silent backend:
the call's deadline watches the event, and fires (shutting the socket down) within
``_deadline.EVENT_POLL`` seconds of it. The same deadline enforces ``total_timeout``. A call
cancelled while its TCP or TLS handshake is under way stops when the handshake ends, at the
latest after the connect timeout.

What a backend answers is read in one place (:class:`_Answer`); what it says went wrong is
worded in one place (:class:`~assistants_client.server.responders.chat_chunks.BackendText`).
The API key is sent only as ``Authorization: Bearer``. It never appears in a log line, a
failure message or a repr, and it is removed from any text a backend sends back.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import requests

from assistants_client._deadline import Deadline
from assistants_client._retry import RetryPolicy
from assistants_client._sse import EventFramer, EventTooLarge, event_of
from assistants_client._transport import (
    body_chunks,
    build_session,
    caused_by_timeout,
    pool_adapter,
)
from assistants_client.server.responders import (
    Failure,
    Increment,
    Increments,
    Turn,
    UnsupportedInput,
)
from assistants_client.server.responders.chat_chunks import BackendText, ChunkReader, read_json
from assistants_client.server.responders.chat_request import (
    ChatRequest,
    CompletionTokensField,
    check_turn,
)

__all__ = [
    "BYTES_PER_CHARACTER",
    "DEFAULT_MAX_ANSWER_TEXT",
    "DEFAULT_MAX_EVENT_BYTES",
    "ChatCompletionsResponder",
    "Sleep",
]

logger = logging.getLogger("assistants_client.server")

DEFAULT_MAX_EVENT_BYTES: Final = 16 * 1024 * 1024
DEFAULT_MAX_ANSWER_TEXT: Final = 8 * 1024 * 1024
# An answer's body may be this many bytes per character of text it may hold: a streamed token
# of a few characters costs a chunk of some 200 bytes, and keep-alive comments and reasoning
# (which is not part of the answer) cost bytes without text.
BYTES_PER_CHARACTER: Final = 64
_READ_SIZE: Final = 64 * 1024
_ERROR_BODY_LIMIT: Final = 64 * 1024
_DRAIN_LIMIT: Final = 64 * 1024
_DRAIN_TIMEOUT: Final = 0.25
_DONE: Final = b"[DONE]"
# A read that returns within this many seconds found its bytes already there.
_FLOWING: Final = 0.0002

Sleep = Callable[[float, threading.Event], object]
"""Waits ``seconds`` or until the event is set, whichever comes first."""


def _wait(seconds: float, cancelled: threading.Event) -> None:
    cancelled.wait(seconds)


class AnswerTooLarge(Exception):
    """A backend's answer passed its size cap (its body: :class:`_Answer`)."""


class _Answer:
    """The body of one backend answer, read as it arrives.

    It is the one place the responder reads what a backend sends, and bounds it: at most
    ``max_bytes`` bytes of body (decoded), past which reading raises :class:`AnswerTooLarge`.
    The text an answer may hold is bounded as it is parsed (``ChunkReader``), its duration by
    the call's deadline.
    """

    def __init__(self, response: requests.Response, max_bytes: int) -> None:
        self.response = response
        self.max_bytes = max_bytes
        self.received = 0
        connection = getattr(response.raw, "connection", None)
        # None when the HTTP layer already let go of the connection: the answer is the last
        # on it (``Connection: close``, or a body that ends with the connection).
        self._sock: Any = getattr(connection, "sock", None)
        # TLS: bytes already decrypted and not yet read.
        self._pending: Callable[[], int] | None = getattr(self._sock, "pending", None)
        self._poll: Any = None
        self._pieces: Iterator[bytes] | None = None

    def pieces(self) -> Iterator[bytes]:
        """The rest of the body, decoded, a piece per network read (at most ``_READ_SIZE``
        bytes: a huge HTTP chunk is not read into memory at once); a transport failure raises
        requests' exceptions, more than ``max_bytes`` in all :class:`AnswerTooLarge`. Each call
        goes on where the last stopped: the HTTP layer throws a connection away when a reading
        of it is left unfinished."""
        if self._pieces is None:
            self._pieces = self._counted(body_chunks(self.response, _READ_SIZE, stream=True))
        return self._pieces

    def _counted(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        limit = self.max_bytes
        for piece in pieces:
            self.received += len(piece)
            if self.received > limit:
                raise AnswerTooLarge(f"the backend's answer passed {limit} bytes")
            yield piece

    def read(self, limit: int) -> bytes:
        """At most ``limit`` bytes of the body, read as they come."""
        parts: list[bytes] = []
        size = 0
        for piece in self.pieces():
            parts.append(piece)
            size += len(piece)
            if size >= limit:
                break
        return b"".join(parts)[:limit]

    def waiting(self) -> bool:
        """Whether more of the answer has arrived than was read (the next read will not wait).

        It asks the socket, without waiting; bytes already in the HTTP layer's own buffer are
        not seen, which only makes the engine send what it has a little sooner.
        """
        poll = self._poll
        try:
            if poll is None:
                if self._sock is None:
                    return False
                poll = self._poll = select.poll()
                poll.register(self._sock, select.POLLIN)
            if self._pending is not None and self._pending():
                return True
            return bool(poll.poll(0))
        except (OSError, ValueError, TypeError):  # closed, or a socket without a descriptor
            self._sock = self._poll = self._pending = None
            return False

    def drain(self) -> bool:
        """Read what follows ``[DONE]`` (normally only the end of the body) so the connection
        can be reused; False when that does not finish at once, or when the connection is not
        to be reused anyway (then nothing is read: a backend that keeps such a connection open
        after ``[DONE]`` must not hold the turn)."""
        if self._sock is None:
            return False
        try:
            self._sock.settimeout(_DRAIN_TIMEOUT)
        except OSError:
            return False
        try:
            left = _DRAIN_LIMIT
            for piece in self.pieces():
                left -= len(piece)
                if left < 0:
                    return False
            return True
        except Exception:
            return False

    def close(self, *, reusable: bool) -> None:
        if reusable:
            self.response.raw.release_conn()  # back to the pool, for the next turn
        else:
            self.response.close()


class _Call:
    """One :meth:`ChatCompletionsResponder.respond` call: why it would stop, the answer it is
    reading, and how many increments it holds that it has not handed out yet."""

    def __init__(self, cancelled: threading.Event) -> None:
        self.cancelled = cancelled
        self.deadline = Deadline()
        self.answer: _Answer | None = None
        self.at_hand = 0
        # Whether the last read of the answer found its bytes there already. If it had to
        # wait, the backend sends at its own pace: the next read will likely wait too, and the
        # socket is not even asked (asking lets go of the interpreter lock, which costs much
        # when hundreds of threads want it).
        self.flowing = False

    @property
    def stopped(self) -> bool:
        return self.cancelled.is_set() or self.deadline.fired

    def ready(self) -> bool:
        """Whether the next increment is at hand (see ``Increments``)."""
        if self.at_hand > 0:
            return True
        answer = self.answer
        return self.flowing and answer is not None and answer.waiting()


class _Retry(Exception):
    """An attempt that may be repeated: its failure, and the answer's headers (if any)."""

    def __init__(self, failure: Failure, headers: Mapping[str, str] | None) -> None:
        super().__init__(failure.message)
        self.failure = failure
        self.headers = headers


class ChatCompletionsResponder:
    """Answers turns of runs through an OpenAI-compatible Chat Completions backend.

    :param base_url: the backend's OpenAI-compatible base URL, e.g. ``https://api.openai.com/v1``,
        ``http://localhost:11434/v1`` (Ollama), ``http://localhost:8000/v1`` (vLLM),
        ``https://<resource>.openai.azure.com/openai/v1``; requests go to
        ``{base_url}/chat/completions`` (a query string in ``base_url`` is kept).
    :param api_key: sent as ``Authorization: Bearer <key>``; None sends no Authorization.
    :param model_map: renames a run's model for the backend (``{"gpt-4o": "llama3.1:8b"}``);
        models not in it are sent as they are.
    :param connect_timeout: seconds to establish a connection (TCP and TLS).
    :param read_timeout: the longest silence accepted from the backend, in seconds, before the
        answer's headers and between any two reads of the stream.
    :param total_timeout: an upper bound in seconds for a whole :meth:`respond` call, retries
        and waits included; None (default) sets none.
    :param max_retries: how many times a 429, a 5xx or a connection error is retried.
    :param backoff_initial: the first backoff in seconds when the backend gives no retry
        header; it doubles at each retry up to ``backoff_max``. A random jitter takes up to
        half of each backoff away.
    :param backoff_max: the longest backoff, in seconds.
    :param max_retry_wait: the cap, in seconds, on a wait asked for by ``Retry-After`` or
        ``retry-after-ms``.
    :param completion_tokens_field: the request field that carries the run's
        ``max_completion_tokens``. ``"max_completion_tokens"`` (default) is OpenAI's current
        field, the only one its reasoning models and Azure OpenAI's accept; vLLM and LiteLLM
        take it too, and llama.cpp's server since early 2026. Use ``"max_tokens"`` for Ollama,
        whose compatibility layer reads only ``max_tokens``, and for older llama.cpp builds:
        both ignore the newer field silently, which leaves the answer unbounded.
    :param max_event_bytes: the largest server-sent event accepted (default 16 MiB); a larger
        one ends the turn with ``server_error`` instead of exhausting memory.
    :param max_answer_text: the most characters of text and tool calls (names and arguments)
        one answer may hold (default 8 Mi); an answer's body may be ``BYTES_PER_CHARACTER``
        times as many bytes (512 MiB by default). Past either, the turn fails with
        ``server_error`` and keeps the text received before. ``total_timeout`` bounds an
        answer's duration.
    :param max_connections: connections kept open to the backend for reuse; size it to the
        number of runs answered at once (more still work, over connections not kept).
    :param extra_headers: headers added to every request (e.g. Azure's ``api-key``); their
        values are treated as secrets, like the key.
    :param extra_body: fields added to every request body (e.g. Ollama's ``options``); they
        never replace a field the responder sets.
    :param session: a ``requests.Session`` to use, as it is configured (its proxies,
        certificates, headers and ``trust_env`` apply). The responder mounts its own adapter
        on it for ``base_url`` (its connections are what a deadline can cut). Without one, the
        responder makes its own and closes it in :meth:`close`.
    :param sleep: how retries wait: ``sleep(seconds, cancelled)`` must return after
        ``seconds`` or as soon as ``cancelled`` is set; tests pass one that only records.
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model_map: Mapping[str, str] | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 600.0,
        total_timeout: float | None = None,
        max_retries: int = 3,
        backoff_initial: float = 0.5,
        backoff_max: float = 8.0,
        max_retry_wait: float = 60.0,
        completion_tokens_field: CompletionTokensField = "max_completion_tokens",
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        max_answer_text: int = DEFAULT_MAX_ANSWER_TEXT,
        max_connections: int = 64,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        session: requests.Session | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be 0 or more")
        if max_answer_text < 1:
            raise ValueError("max_answer_text must be 1 or more")
        if completion_tokens_field not in ("max_completion_tokens", "max_tokens"):
            raise ValueError("completion_tokens_field must be max_completion_tokens or max_tokens")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http:// or https:// URL")
        path = parts.path.rstrip("/") + "/chat/completions"
        self._url = urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        host += f":{parts.port}" if parts.port else ""
        # What logs may show: no user info, no query (either may hold a credential).
        self._log_url = urlunsplit((parts.scheme, host, path, "", ""))
        self._api_key = api_key
        # The key, the URL's password (as written, and decoded), and values that may be
        # credentials: of extra headers, and of the URL's query (``?api-key=...``).
        secrets = [api_key or "", parts.password or "", unquote(parts.password or "")]
        secrets += [v for v in (extra_headers or {}).values() if len(v) >= 8]
        secrets += [v for _, v in parse_qsl(parts.query) if len(v) >= 8]
        self._text = BackendText(secrets)
        self._request = ChatRequest(
            model_map=dict(model_map or {}),
            tokens_field=completion_tokens_field,
            extra_body=dict(extra_body or {}),
        )
        self._timeout = (connect_timeout, read_timeout)
        self._read_timeout = read_timeout
        self._total_timeout = total_timeout
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        # What a backend's retry headers and x-should-retry say is read as the client reads
        # it; a long Retry-After is waited for up to max_retry_wait (a run has no caller to
        # hand the error to), and only a 429 among the 4xx is worth another attempt.
        self._policy = RetryPolicy(
            initial_delay=backoff_initial,
            max_delay=backoff_max,
            jitter=0.5,
            retry_statuses=frozenset({429}),
        )
        self._max_event_bytes = max_event_bytes
        self._max_text = max_answer_text
        self._max_bytes = max(max_answer_text * BYTES_PER_CHARACTER, _READ_SIZE)
        self._sleep: Sleep = sleep or _wait
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            **dict(extra_headers or {}),
        }
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._owns_session = session is None
        self._adapter = pool_adapter(max_connections, block=False)
        if session is None:
            session = build_session(max_connections, block=False)
            # The environment's proxy and CA settings for this URL, decided now, once.
            settled = session.merge_environment_settings(self._url, {}, None, None, None)
            session.proxies.update(settled["proxies"])
            session.verify = settled["verify"]
            session.trust_env = False
        prefix = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + "/", "", ""))
        session.mount(prefix, self._adapter)
        self._session = session

    def __repr__(self) -> str:
        key = "set" if self._api_key else "none"
        return f"ChatCompletionsResponder(url={self._log_url!r}, api_key={key})"

    def probe(self, timeout: float = 2.0) -> str | None:
        """Whether the backend answers, asked without a completion: one ``GET {base_url}/models``
        (no retry), within ``timeout`` seconds in all. None when it answered, whatever the
        status but 401 and 403 (its key is refused); else what is wrong, naming the URL."""
        parts = urlsplit(self._url)
        base = parts.path[: -len("/chat/completions")]
        url = urlunsplit((parts.scheme, parts.netloc, base + "/models", parts.query, ""))
        shown = self._log_url[: -len("/chat/completions")]
        headers = {k: v for k, v in self._headers.items() if k not in ("Content-Type", "Accept")}
        deadline = Deadline()
        deadline.arm(time.monotonic() + timeout)
        try:
            with deadline.active():
                response = self._session.get(
                    url,
                    headers=headers,
                    timeout=(timeout, timeout),
                    allow_redirects=False,
                    stream=True,  # the status is enough: the body is never read
                )
            response.close()
        except Exception as exc:
            if deadline.fired or isinstance(exc, requests.Timeout):
                return (
                    f"the backend at {shown} does not answer (no answer within {timeout:g} s): "
                    "runs fail until it does"
                )
            reason = type(exc).__name__
            return f"the backend at {shown} cannot be reached ({reason}): runs fail until it can"
        finally:
            deadline.disarm()
        if response.status_code in (401, 403):
            return (
                f"the backend at {shown} refuses its key (GET /models answered "
                f"{response.status_code}): runs fail until it is right"
            )
        return None

    def close(self) -> None:
        """Close the connections (and the session, when the responder made it)."""
        self._adapter.close()
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> ChatCompletionsResponder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the port ----------------------------------------------------------------------------

    def prepare(self, turn: Turn) -> Mapping[str, Any] | None:
        """Nothing: the answer comes live from the backend, and cannot outlive a restart."""
        return None

    def check(self, turn: Turn) -> None:
        """Raise UnsupportedInput for what a Chat Completions backend cannot take
        (``chat_request.check_turn``)."""
        check_turn(turn)

    def request_body(self, turn: Turn) -> dict[str, Any]:
        """The JSON body sent to the backend for ``turn`` (raises UnsupportedInput)."""
        return self._request.body(turn)

    def respond(self, turn: Turn, cancelled: threading.Event) -> Increments:
        """The increments of one turn (see the module docstring); never raises for a fault of
        the backend, stops within a second once ``cancelled`` is set."""
        call = _Call(cancelled)
        return Increments(self._respond(turn, call), call.ready)

    def _respond(self, turn: Turn, call: _Call) -> Iterator[Increment]:
        if call.cancelled.is_set():
            return
        try:
            payload = self._request.payload(turn)
        except UnsupportedInput as exc:
            yield Failure("invalid_prompt", f"{exc.message} ({exc.param})")
            return
        except (TypeError, ValueError) as exc:
            yield Failure("invalid_prompt", f"the run cannot be sent as JSON ({exc})")
            return
        if self._total_timeout is not None:
            call.deadline.arm(time.monotonic() + self._total_timeout)
        call.deadline.watch(call.cancelled)
        try:
            yield from self._attempts(turn, payload, call)
        finally:
            call.deadline.disarm()

    # -- attempts ----------------------------------------------------------------------------

    def _attempts(self, turn: Turn, payload: bytes, call: _Call) -> Iterator[Increment]:
        retries = 0
        while True:
            try:
                outcome = self._send(payload, call, retries + 1)
            except _Retry as retry:
                failure, headers = retry.failure, retry.headers
            else:
                if isinstance(outcome, requests.Response):
                    yield from self._answer(turn, _Answer(outcome, self._max_bytes), call)
                elif isinstance(outcome, Failure):
                    logger.warning("run %s: %s", turn.run_id, outcome.message)
                    yield outcome
                else:
                    yield from self._stopped(turn, call)
                return
            if call.stopped:
                yield from self._stopped(turn, call)
                return
            asked = self._policy.retry_after(headers) if headers is not None else None
            if asked is not None:
                wait = min(asked, self._max_retry_wait)
            else:
                wait = self._policy.backoff(retries)
            ends = call.deadline.at
            too_late = ends is not None and time.monotonic() + wait >= ends
            if retries >= self._max_retries or too_late:
                logger.warning("run %s: %s; no retry left", turn.run_id, failure.message)
                yield failure
                return
            retries += 1
            logger.warning(
                "run %s: %s; retry %d of %d in %.2f s",
                turn.run_id,
                failure.message,
                retries,
                self._max_retries,
                wait,
            )
            self._sleep(wait, call.cancelled)
            if call.stopped:
                yield from self._stopped(turn, call)
                return

    def _send(
        self, payload: bytes, call: _Call, attempt: int
    ) -> requests.Response | Failure | None:
        """POST the request. Returns the 2xx response (headers read), the Failure of an answer
        not worth retrying, or None when the call was stopped meanwhile; raises _Retry."""
        started = time.monotonic()
        try:
            with call.deadline.active():  # the connection the request goes on binds to it
                response = self._session.post(
                    self._url,
                    data=payload,
                    headers=self._headers,
                    timeout=self._timeout,
                    stream=True,
                    allow_redirects=False,
                )
        except Exception as exc:
            logger.debug(
                "POST %s failed after %.3f s (attempt %d): %s",
                self._log_url,
                time.monotonic() - started,
                attempt,
                self._text.redact(f"{type(exc).__name__}: {exc}"),
            )
            if call.stopped:
                return None
            if isinstance(exc, requests.ReadTimeout):
                # Not retried: the backend may still be working on it; a retry doubles the wait.
                return self._silence_failure()
            if isinstance(exc, requests.ConnectionError):
                failure = Failure(
                    "server_error",
                    f"could not reach the backend at {self._log_url} ({type(exc).__name__})",
                )
                raise _Retry(failure, None) from None
            # Anything else (a bad header value, a malformed URL...) would fail again.
            return Failure(
                "server_error", f"the request to the backend failed ({type(exc).__name__})"
            )
        status = response.status_code
        logger.debug(
            "POST %s -> %d in %.3f s (attempt %d)",
            self._log_url,
            status,
            time.monotonic() - started,
            attempt,
        )
        if 200 <= status < 300:
            return response
        message = self._error_message(_Answer(response, self._max_bytes))
        if call.stopped:
            return None
        if status == 429:
            failure = Failure(
                "rate_limit_exceeded", f"the backend is rate limiting (429): {message}"
            )
        elif status >= 500:
            failure = Failure("server_error", f"the backend failed ({status}): {message}")
        elif 400 <= status < 500:
            failure = Failure(
                "invalid_prompt", f"the backend refused the request ({status}): {message}"
            )
        else:
            failure = Failure(
                "server_error", f"the backend answered with status {status}: {message}"
            )
        if self._policy.should_retry(status, response.headers):
            raise _Retry(failure, response.headers)
        return failure

    def _error_message(self, answer: _Answer) -> str:
        """The message of an error answer (see ``BackendText``); the answer is closed. Of a
        body longer than ``_ERROR_BODY_LIMIT``, the start is read, without its last bytes:
        they could be the start of a secret cut by the limit."""
        try:
            raw = answer.read(_ERROR_BODY_LIMIT + 1)
        except Exception:
            raw = b""
        finally:
            answer.close(reusable=False)
        if len(raw) > _ERROR_BODY_LIMIT:
            raw = self._text.cut_short(raw[:_ERROR_BODY_LIMIT])
        return self._text.of_error_body(raw)

    # -- answers -----------------------------------------------------------------------------

    def _answer(self, turn: Turn, answer: _Answer, call: _Call) -> Iterator[Increment]:
        """The increments of a 2xx answer: a stream, or a whole completion as JSON."""
        content_type = answer.response.headers.get("content-type", "")
        media = content_type.split(";")[0].strip().lower()
        if media == "application/json" or media.endswith("+json"):
            yield from self._whole_answer(turn, answer, call)
            return
        if media == "text/html":
            answer.close(reusable=False)
            failure = Failure(
                "server_error", "the backend answered with an HTML page, not an event stream"
            )
            logger.warning("run %s: %s", turn.run_id, failure.message)
            yield failure
            return
        call.answer = answer
        try:
            yield from self._stream(turn, answer, call)
        finally:
            call.answer = None
            call.at_hand = 0

    def _stream(self, turn: Turn, answer: _Answer, call: _Call) -> Iterator[Increment]:
        reader = ChunkReader(self._text, self._max_text)
        framer = EventFramer(self._max_event_bytes)
        started = time.monotonic()
        events = 0
        done = False
        broken: Failure | None = None
        closed = False
        try:
            try:
                pieces = answer.pieces()
                clock = time.monotonic
                while True:
                    began = clock()
                    piece = next(pieces, None)
                    if piece is None:
                        break
                    call.flowing = clock() - began < _FLOWING
                    if call.stopped:
                        break
                    # What one read brought is parsed at once, and handed out knowing that
                    # the rest of it is at hand.
                    held: list[Increment] = []
                    for frame in framer.feed(piece):
                        events += 1
                        name, data = event_of(frame)
                        if data == _DONE or (len(data) < 16 and data.strip() == _DONE):
                            done = True
                            break
                        held += reader.feed(name, data)
                        if reader.failure is not None:
                            break
                    call.at_hand = len(held)
                    for increment in held:
                        call.at_hand -= 1
                        yield increment
                    if done or reader.failure is not None:
                        break
            except EventTooLarge:
                broken = Failure(
                    "server_error",
                    f"the backend sent an event larger than {self._max_event_bytes} bytes",
                )
            except AnswerTooLarge:
                broken = Failure(
                    "server_error",
                    f"the backend's answer passed the limit of {answer.max_bytes} bytes; the "
                    "text before it is kept",
                )
            except Exception as exc:  # a transport error, whatever layer raised it
                logger.debug(
                    "run %s: reading the stream failed: %s",
                    turn.run_id,
                    self._text.redact(f"{type(exc).__name__}: {exc}"),
                )
                if caused_by_timeout(exc) and not call.stopped:
                    broken = self._silence_failure()
                else:
                    broken = Failure(
                        "server_error",
                        "the connection to the backend broke before the answer was complete",
                    )
            call.at_hand = 0
            if call.stopped:
                yield from self._stopped(turn, call)
                return
            if reader.failure is not None:
                logger.warning("run %s: %s", turn.run_id, reader.failure.message)
                return
            if not done and reader.finish_reason is None:
                broken = broken or Failure(
                    "server_error",
                    "the backend closed the stream before the answer was complete"
                    if events
                    else "the backend's answer held no server-sent event "
                    f"({answer.response.headers.get('content-type') or 'no content type'})",
                )
                logger.warning("run %s: %s", turn.run_id, broken.message)
                yield broken
                return
            if reader.tools.unnamed:
                failure = Failure("server_error", "the backend sent a tool call without a name")
                logger.warning("run %s: %s", turn.run_id, failure.message)
                yield failure
                return
            # The connection goes back to the pool before the last increment, which a consumer
            # may take as the end and stop iterating at.
            answer.close(reusable=done and answer.drain() and not call.stopped)
            closed = True
            finish = reader.finish()
            logger.debug(
                "run %s: the backend finished (%s) in %.3f s",
                turn.run_id,
                finish.reason,
                time.monotonic() - started,
            )
            yield finish
        finally:
            if not closed:
                answer.close(reusable=False)

    def _whole_answer(self, turn: Turn, answer: _Answer, call: _Call) -> Iterator[Increment]:
        """A backend that ignored ``stream`` and sent the whole completion as JSON."""
        try:
            raw = answer.read(self._max_event_bytes + 1)
        except Exception:
            raw = None
        finally:
            answer.close(reusable=False)
        if call.stopped:
            yield from self._stopped(turn, call)
            return
        payload: Any = None
        if raw and len(raw) <= self._max_event_bytes:
            try:
                payload = read_json(raw)
            except (ValueError, RecursionError):
                payload = None
        reader = ChunkReader(self._text, self._max_text)
        if isinstance(payload, dict) and payload.get("error"):
            failure = self._text.error_failure(payload["error"])
        elif isinstance(payload, dict) and isinstance(payload.get("choices"), list):
            yield from reader.whole(payload)
            if reader.failure is not None:  # yielded last, by the reader
                logger.warning("run %s: %s", turn.run_id, reader.failure.message)
                return
            if reader.tools.unnamed:
                failure = Failure("server_error", "the backend sent a tool call without a name")
            else:
                yield reader.finish()
                return
        else:
            failure = Failure(
                "server_error", "the backend answered with JSON that is not a completion"
            )
        logger.warning("run %s: %s", turn.run_id, failure.message)
        yield failure

    def _stopped(self, turn: Turn, call: _Call) -> Iterator[Increment]:
        if call.deadline.fired and not call.cancelled.is_set():
            failure = Failure(
                "server_error", f"the backend did not finish within {self._total_timeout:g} s"
            )
            logger.warning("run %s: %s", turn.run_id, failure.message)
            yield failure
        else:
            logger.debug("run %s: cancelled; the backend connection is closed", turn.run_id)

    def _silence_failure(self) -> Failure:
        return Failure("server_error", f"the backend sent nothing for {self._read_timeout:g} s")
