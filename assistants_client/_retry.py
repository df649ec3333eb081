"""The retry policy: which failures are tried again, how long to wait, and how polling paces.

One :class:`RetryPolicy` serves the transport (every HTTP call) and polling (``wait_for_run``),
so the rules below are written here and nowhere else. ``docs/retries.md`` explains why they are
safe for creates.
"""

from __future__ import annotations

import email.utils
import random as _random
import time
from collections.abc import Callable, Mapping
from datetime import timezone

import attrs

__all__ = ["DEFAULT_RETRY_POLICY", "RetryPolicy"]


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """When a call is tried again, and how long the client waits, for calls and for polling.

    Which failures are retried (up to ``max_retries`` times, set per client or per call):

    * a connection failure or a timeout, before or while the answer is read;
    * a ``408``, ``409`` or ``429`` answer (``retry_statuses``) and any ``5xx``;
    * never another ``4xx``, nor a ``2xx`` whose body does not parse (the server did act).

    The server overrides that choice with ``x-should-retry: true`` or ``false``.

    How long the client waits before the next attempt:

    1. ``retry-after-ms`` (milliseconds), when the server sends it;
    2. else ``Retry-After``, in seconds or as an HTTP date (a date without a zone, as the
       obsolete asctime form writes it, is in GMT like every HTTP date: RFC 9110, 5.6.7);
    3. else an exponential backoff: ``initial_delay`` doubling per retry, capped at
       ``max_delay``, each shortened by a random ``jitter`` fraction so that many clients do not
       retry in step.

    A server that asks for more than ``max_retry_after`` seconds is not waited for: the error is
    raised at once, with its headers, so the caller decides.

    Polling (``wait_for_run``) waits ``poll_interval`` between polls, or what the server asks in
    ``openai-poll-after-ms`` when that is between 0 and ``max_poll_wait`` seconds. A poll that
    fails is retried like any call, except within ``poll_retry_margin`` seconds of the polling
    deadline, where a backoff would overrun it: there the failure is raised at once.

    ``sleep``, ``clock`` (wall-clock seconds, for HTTP dates and polling deadlines) and ``random``
    are the seams through which tests and simulations run the policy without waiting.
    """

    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    max_retry_after: float = 60.0
    retry_statuses: frozenset[int] = frozenset({408, 409, 429})
    max_poll_wait: float = 60.0
    poll_retry_margin: float = 10.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    random: Callable[[], float] = _random.random

    # -- calls ------------------------------------------------------------------------------

    def should_retry(self, status: int, headers: Mapping[str, str]) -> bool:
        """Whether an error answer with this status (and these headers) may be tried again."""
        override = headers.get("x-should-retry", "").strip().lower()
        if override == "true":
            return True
        if override == "false":
            return False
        return status in self.retry_statuses or status >= 500

    def retry_after(self, headers: Mapping[str, str]) -> float | None:
        """The wait the server asked for, in seconds, or None."""
        raw_ms = headers.get("retry-after-ms")
        if raw_ms is not None:
            try:
                value = float(raw_ms) / 1000.0
            except ValueError:
                value = None
            if value is not None and value == value and value >= 0:
                return value
        raw = headers.get("retry-after")
        if raw is None:
            return None
        try:
            seconds = float(raw)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                return None
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            seconds = when.timestamp() - self.clock()
        if seconds != seconds:
            return None
        return max(seconds, 0.0)

    def backoff(self, retries_taken: int) -> float:
        """The wait before retry number ``retries_taken + 1`` when the server named none."""
        delay = min(self.initial_delay * (2.0**retries_taken), self.max_delay)
        return delay * (1.0 - self.jitter * self.random())

    def wait_before_retry(
        self, retries_taken: int, headers: Mapping[str, str] | None
    ) -> float | None:
        """Seconds to wait before the next attempt; None when the server asks for too long."""
        asked = self.retry_after(headers) if headers is not None else None
        if asked is None:
            return self.backoff(retries_taken)
        return None if asked > self.max_retry_after else asked

    # -- polling ----------------------------------------------------------------------------

    def poll_wait(self, header: str | None, default: float) -> float:
        """Seconds until the next poll: the server's ``openai-poll-after-ms`` when it is sane."""
        if header:
            try:
                millis = float(header)
            except ValueError:
                return default
            if 0 <= millis <= self.max_poll_wait * 1000.0:
                return millis / 1000.0
        return default

    def poll_retries(self, remaining: float) -> int | None:
        """The retries a poll may use with ``remaining`` seconds left (None: the usual)."""
        return None if remaining > self.poll_retry_margin else 0


DEFAULT_RETRY_POLICY = RetryPolicy()
