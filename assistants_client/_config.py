"""Client configuration: timeouts, credentials and the settings read from the environment.

Everything here is resolved once, when a client is built, into an immutable
:class:`ClientConfig`; requests read it and never change it, so one client can be shared by
many threads.

Environment variables:

* OpenAI: ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID``, ``OPENAI_PROJECT_ID``.
* Azure OpenAI: ``AZURE_OPENAI_ENDPOINT``, ``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_AD_TOKEN``,
  ``OPENAI_API_VERSION``.
* Azure AI Foundry (classic agents): ``AZURE_AI_PROJECT_ENDPOINT``,
  ``AZURE_AI_AGENTS_API_VERSION``.

Explicit arguments always win over the environment.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import threading
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

import attrs

from assistants_client._exceptions import InvalidArgumentError
from assistants_client._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_EVENT_BYTES",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "ApiKeyAuth",
    "Auth",
    "BearerTokenAuth",
    "ClientConfig",
    "NoAuth",
    "Timeout",
    "TimeoutTypes",
    "TokenProviderAuth",
    "USER_AGENT",
    "azure_config",
    "check_byte_limit",
    "check_header",
    "check_header_value",
    "foundry_config",
    "is_loopback",
    "openai_config",
    "resolve_max_retries",
    "resolve_timeout",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
DEFAULT_MAX_RETRIES = 2
USER_AGENT = f"assistants-client/{__version__}"
OPENAI_HOST = "api.openai.com"
# OpenAI and Azure OpenAI serve the Assistants API v2 only to requests that ask for it.
ASSISTANTS_BETA_HEADER = ("OpenAI-Beta", "assistants=v2")
FOUNDRY_DEFAULT_API_VERSION = "v1"
FOUNDRY_TOKEN_SCOPE = "https://ai.azure.com/.default"
_FOUNDRY_PROJECT_PATH = re.compile(r"/api/projects/[A-Za-z0-9._~-]+/?")
# How many distinct tokens from a token provider are remembered, to be redacted from messages.
_REMEMBERED_TOKENS = 64


@attrs.frozen
class Timeout:
    """How long a call may take, in seconds.

    * ``connect``: opening a connection (TCP and TLS handshakes), per attempt.
    * ``read``: a plain call: one attempt's whole answer, status line, headers and body, from
      the moment the request is sent, however slowly the bytes trickle in. A stream: its
      status line and headers, then the longest silence (no byte at all) while it is read.
    * ``total`` (optional): the whole of a plain call: every attempt, connecting included, and
      the waits between retries. A retry that could not finish in time is not started.
    * ``stream_idle`` (optional): a stream: the longest wait for the next event; comments and
      keep-alive pings (``: ping``) do not count as events.
    * ``stream_total`` (optional): a stream: everything from the request to its ``done``.

    A plain call never outlives ``read`` (per attempt) nor ``total`` by more than a second:
    when one passes, the connection is shut down under the reading thread.
    """

    connect: float
    read: float
    total: float | None = None
    stream_idle: float | None = None
    stream_total: float | None = None

    def __attrs_post_init__(self) -> None:
        for name in ("connect", "read", "total", "stream_idle", "stream_total"):
            value = getattr(self, name)
            if value is None and name not in ("connect", "read"):
                continue
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value <= 0
            ):
                raise InvalidArgumentError(
                    f"timeout {name} must be a positive number of seconds, got {value!r}",
                    param="timeout",
                )

    def as_requests_timeout(self) -> tuple[float, float]:
        return (float(self.connect), float(self.read))


TimeoutTypes = float | tuple[float, float] | Timeout

DEFAULT_TIMEOUT = Timeout(connect=5.0, read=600.0)

# The largest response body a call reads (decoded: a compressed body counts as inflated), and
# the largest single event of a stream. Past them the response is closed and
# ResponseTooLargeError raised, before the memory is taken.
DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024


def check_byte_limit(value: object, param: str) -> int:
    """A size limit: an int of at least 1 KiB."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1024:
        raise InvalidArgumentError(
            f"{param} must be an int of at least 1024 (bytes), got {value!r}", param=param
        )
    return value


# RFC 9110 field names are tokens; values are visible ASCII, obs-text (Latin-1), spaces and
# tabs. Anything else would be refused by http.client at send time (or split the header).
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")


def check_header(name: object, value: object, param: str) -> None:
    """Raise InvalidArgumentError unless ``name: value`` can be sent as one HTTP header.

    The message names the header, never its value (it may be a credential).
    """
    if not isinstance(name, str) or not isinstance(value, str):
        raise InvalidArgumentError(f"{param} must map str to str", param=param)
    if not _HEADER_NAME.fullmatch(name):
        raise InvalidArgumentError(
            f"{param}: {name[:40]!r} is not a valid header name", param=param
        )
    check_header_value(value, f"{param}[{name!r}]", param)


def check_header_value(value: str, what: str, param: str) -> None:
    """Raise InvalidArgumentError unless ``value`` can be sent as a header value."""
    if not _HEADER_VALUE.fullmatch(value):
        raise InvalidArgumentError(
            f"{what} contains a line break or another control character", param=param
        )
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise InvalidArgumentError(
            f"{what} contains characters that cannot be sent in an HTTP header (only Latin-1 can)",
            param=param,
        ) from None
    if value[:1] in (" ", "\t"):
        raise InvalidArgumentError(f"{what} must not start with whitespace", param=param)


def resolve_timeout(value: TimeoutTypes) -> Timeout:
    """Turn a float, a ``(connect, read)`` pair or a :class:`Timeout` into a :class:`Timeout`."""
    if isinstance(value, Timeout):
        return value
    if isinstance(value, tuple):
        if len(value) != 2:
            raise InvalidArgumentError(
                f"timeout must be a number, a (connect, read) pair or a Timeout, got {value!r}",
                param="timeout",
            )
        return Timeout(connect=value[0], read=value[1])
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArgumentError(
            f"timeout must be a number, a (connect, read) pair or a Timeout, got {value!r}",
            param="timeout",
        )
    return Timeout(connect=value, read=value)


def resolve_max_retries(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgumentError(
            f"max_retries must be an int >= 0, got {value!r}", param="max_retries"
        )
    return value


class Auth:
    """Produces the credential headers of one HTTP attempt.

    Called once per attempt (so a token provider is asked again before a retry). ``secrets()``
    lists the values that must never appear in a message or a log line.
    """

    header_names: tuple[str, ...] = ()

    def headers(self) -> dict[str, str]:
        return {}

    def secrets(self) -> tuple[str, ...]:
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NoAuth(Auth):
    """No credentials (a local server that does not check them)."""


class ApiKeyAuth(Auth):
    """A static key in a header: ``Authorization: Bearer <key>`` or Azure's ``api-key: <key>``."""

    def __init__(self, key: str, *, header: str = "Authorization") -> None:
        self._key = key
        self._header = header
        self.header_names = (header,)

    def headers(self) -> dict[str, str]:
        if self._header.lower() == "authorization":
            return {self._header: f"Bearer {self._key}"}
        return {self._header: self._key}

    def secrets(self) -> tuple[str, ...]:
        return (self._key,)

    def __repr__(self) -> str:
        return f"ApiKeyAuth(header={self._header!r}, key=<redacted>)"


class BearerTokenAuth(ApiKeyAuth):
    """A static bearer token (an Azure AD / Entra ID token)."""

    def __init__(self, token: str) -> None:
        super().__init__(token, header="Authorization")

    def __repr__(self) -> str:
        return "BearerTokenAuth(token=<redacted>)"


class TokenProviderAuth(Auth):
    """A bearer token fetched from a callable before every attempt (tokens expire).

    The distinct tokens handed out are remembered (the latest ``_REMEMBERED_TOKENS``) only so
    that they can be redacted from messages; they are never logged. Threads sharing a client
    record their tokens under a lock, so a rotated token is never lost from that record. Each
    thread also keeps the token of its own latest attempt, so that the answer to that attempt
    is redacted even when other threads have since rotated through more tokens than the record
    holds.
    """

    header_names = ("Authorization",)

    def __init__(self, provider: Callable[[], str]) -> None:
        self._provider = provider
        self._lock = threading.Lock()
        self._issued: tuple[str, ...] = ()
        self._latest = threading.local()

    def headers(self) -> dict[str, str]:
        token = self._provider()
        if not isinstance(token, str) or not token.strip():
            raise InvalidArgumentError(
                "token_provider must return a non-empty str", param="token_provider"
            )
        # Checked as it arrives, before anything is sent; the message never shows the token.
        check_header_value(token, "the token from token_provider", "token_provider")
        self._latest.token = token
        with self._lock:
            if not self._issued or self._issued[0] != token:
                others = tuple(known for known in self._issued if known != token)
                self._issued = (token, *others)[:_REMEMBERED_TOKENS]
        return {"Authorization": f"Bearer {token}"}

    def secrets(self) -> tuple[str, ...]:
        # One attribute read of an immutable tuple: a consistent snapshot without the lock.
        issued = self._issued
        latest: str | None = getattr(self._latest, "token", None)
        if latest is None or latest in issued:
            return issued
        return (latest, *issued)

    def __repr__(self) -> str:
        return "TokenProviderAuth(provider=<callable>)"


@attrs.frozen(repr=False)
class ClientConfig:
    """Everything a client needs to build requests; immutable once built."""

    base_url: str
    auth: Auth
    timeout: Timeout = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    default_headers: Mapping[str, str] = attrs.field(factory=dict)
    default_query: Mapping[str, str] = attrs.field(factory=dict)
    api_version: str | None = None
    strict_responses: bool = False
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES

    def __repr__(self) -> str:
        return f"ClientConfig(base_url={self.base_url!r}, auth={self.auth!r})"

    def with_limits(self, max_response_bytes: int, max_event_bytes: int) -> ClientConfig:
        """This configuration with the size limits of a client's constructor, checked."""
        return attrs.evolve(
            self,
            max_response_bytes=check_byte_limit(max_response_bytes, "max_response_bytes"),
            max_event_bytes=check_byte_limit(max_event_bytes, "max_event_bytes"),
        )


def _env(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def _env_header(name: str) -> str | None:
    """An environment variable whose value is sent in a header: checked like an argument."""
    value = _env(name)
    if value is not None:
        check_header_value(value, f"the environment variable {name}", name)
    return value


def _check_optional_str(value: object, param: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgumentError(f"{param} must be a non-empty str or None", param=param)
    if any(ch in value for ch in "\r\n\0"):
        raise InvalidArgumentError(f"{param} must not contain line breaks", param=param)
    return value


def _check_header_str(value: object, param: str) -> str | None:
    """An optional argument sent in a header (a key, a token, an organization)."""
    checked = _check_optional_str(value, param)
    if checked is not None:
        check_header_value(checked, param, param)
    return checked


def _check_flag(value: object, param: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidArgumentError(f"{param} must be True or False", param=param)
    return value


def _check_base_url(url: str, param: str) -> str:
    if not isinstance(url, str):
        raise InvalidArgumentError(f"{param} must be a str, got {type(url).__name__}", param=param)
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidArgumentError(
            f"{param} must be an absolute http(s) URL, got {url!r}", param=param
        )
    if parts.query or parts.fragment:
        raise InvalidArgumentError(
            f"{param} must not have a query or a fragment, got {url!r}", param=param
        )
    return url.strip().rstrip("/")


def _check_headers(headers: Mapping[str, str] | None) -> dict[str, str]:
    if headers is None:
        return {}
    if not isinstance(headers, Mapping):
        raise InvalidArgumentError(
            "default_headers must be a mapping of str to str", param="default_headers"
        )
    result: dict[str, str] = {}
    for key, value in headers.items():
        check_header(key, value, "default_headers")
        result[key] = value
    return result


def _merge_headers(base: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """``base`` updated with ``overrides``, header names compared without regard to case."""
    merged = dict(base)
    lowered = {key.lower(): key for key in merged}
    for key, value in overrides.items():
        merged.pop(lowered.get(key.lower(), key), None)
        merged[key] = value
    return merged


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name, or an address as a URL or a socket gives it) is this machine.

    ``localhost`` and every name under it (``app.localhost``), in any case and with or without
    the final dot: RFC 6761 reserves them for the loopback interface, and resolvers and
    browsers answer them with it. An IPv6 address may come in brackets (``[::1]``), and an
    IPv4 address mapped into IPv6 (``::ffff:127.0.0.1``, what a dual-stack socket reports of
    an IPv4 peer) counts as the IPv4 address it holds.
    """
    name = host.strip().rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        address = ipaddress.ip_address(name.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _check_foundry_endpoint(url: str) -> str:
    """A Foundry project endpoint: ``https://<resource>.services.ai.azure.com/api/projects/<p>``.

    Plain http is refused except on a loopback host (a local emulator), so that a bearer token
    never crosses a network in clear text.
    """
    example = "https://<resource>.services.ai.azure.com/api/projects/<project>"
    if not isinstance(url, str):
        raise InvalidArgumentError(
            f"endpoint must be a str, got {type(url).__name__}", param="endpoint"
        )
    text = url.strip()
    parts = urlsplit(text)
    try:
        host = parts.hostname
        _ = parts.port  # a malformed port raises ValueError
    except ValueError:
        host = None
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidArgumentError(
            f"endpoint must be an absolute URL such as {example}, got {text!r}",
            param="endpoint",
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidArgumentError(
            "endpoint must not carry credentials (user:password@); pass a token instead",
            param="endpoint",
        )
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise InvalidArgumentError(
            f"endpoint must not have a query or a fragment, got {text!r}", param="endpoint"
        )
    if not _FOUNDRY_PROJECT_PATH.fullmatch(parts.path):
        raise InvalidArgumentError(
            f"endpoint must be a Foundry project endpoint ({example}): its path must be "
            f"/api/projects/<project>, got {parts.path or '/'!r}",
            param="endpoint",
        )
    if parts.scheme != "https" and not is_loopback(host):
        raise InvalidArgumentError(
            f"endpoint must use https (plain http is allowed only on a loopback host, so a "
            f"token never crosses a network unencrypted), got {text!r}",
            param="endpoint",
        )
    return text.rstrip("/")


def openai_config(
    *,
    api_key: str | None,
    base_url: str | None,
    organization: str | None,
    project: str | None,
    timeout: TimeoutTypes,
    max_retries: int,
    default_headers: Mapping[str, str] | None,
    strict_responses: bool = False,
) -> ClientConfig:
    """Resolve the arguments of ``AssistantsClient(...)`` against the environment."""
    api_key = _check_header_str(api_key, "api_key") or _env_header("OPENAI_API_KEY")
    url = _check_base_url(base_url or _env("OPENAI_BASE_URL") or DEFAULT_BASE_URL, "base_url")
    organization = _check_header_str(organization, "organization") or _env_header("OPENAI_ORG_ID")
    project = _check_header_str(project, "project") or _env_header("OPENAI_PROJECT_ID")
    if api_key is None and urlsplit(url).hostname == OPENAI_HOST:
        raise InvalidArgumentError(
            f"an API key is required for {url}: pass api_key=... or set OPENAI_API_KEY "
            "(a key is optional only for a base_url on another host, such as a local server)",
            param="api_key",
        )
    headers: dict[str, str] = dict([ASSISTANTS_BETA_HEADER])
    if organization:
        headers["OpenAI-Organization"] = organization
    if project:
        headers["OpenAI-Project"] = project
    headers = _merge_headers(headers, _check_headers(default_headers))
    return ClientConfig(
        base_url=url,
        auth=ApiKeyAuth(api_key) if api_key else NoAuth(),
        timeout=resolve_timeout(timeout),
        max_retries=resolve_max_retries(max_retries),
        default_headers=headers,
        strict_responses=_check_flag(strict_responses, "strict_responses"),
    )


def azure_config(
    *,
    endpoint: str | None,
    api_version: str | None,
    api_key: str | None,
    azure_ad_token: str | None,
    token_provider: Callable[[], str] | None,
    organization: str | None,
    project: str | None,
    timeout: TimeoutTypes,
    max_retries: int,
    default_headers: Mapping[str, str] | None,
    strict_responses: bool = False,
) -> ClientConfig:
    """Resolve the arguments of ``AssistantsClient.for_azure(...)`` against the environment.

    Exactly one credential is used: an explicit ``api_key``, ``azure_ad_token`` or
    ``token_provider`` (at most one may be given), else ``AZURE_OPENAI_API_KEY``, else
    ``AZURE_OPENAI_AD_TOKEN``.
    """
    endpoint = _check_optional_str(endpoint, "endpoint") or _env("AZURE_OPENAI_ENDPOINT")
    if endpoint is None:
        raise InvalidArgumentError(
            "an Azure endpoint is required: pass endpoint=... or set AZURE_OPENAI_ENDPOINT",
            param="endpoint",
        )
    endpoint = _check_base_url(endpoint, "endpoint")
    api_version = _check_optional_str(api_version, "api_version") or _env("OPENAI_API_VERSION")
    if api_version is None:
        raise InvalidArgumentError(
            "an Azure api_version is required: pass api_version=... or set OPENAI_API_VERSION",
            param="api_version",
        )
    api_key = _check_header_str(api_key, "api_key")
    azure_ad_token = _check_header_str(azure_ad_token, "azure_ad_token")
    if token_provider is not None and not callable(token_provider):
        raise InvalidArgumentError("token_provider must be callable", param="token_provider")
    given = [
        name
        for name, value in (
            ("api_key", api_key),
            ("azure_ad_token", azure_ad_token),
            ("token_provider", token_provider),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise InvalidArgumentError(
            f"pass only one of api_key, azure_ad_token and token_provider (got {', '.join(given)})",
            param=given[1],
        )
    auth: Auth
    if api_key is not None:
        auth = ApiKeyAuth(api_key, header="api-key")
    elif azure_ad_token is not None:
        auth = BearerTokenAuth(azure_ad_token)
    elif token_provider is not None:
        auth = TokenProviderAuth(token_provider)
    elif (env_key := _env_header("AZURE_OPENAI_API_KEY")) is not None:
        auth = ApiKeyAuth(env_key, header="api-key")
    elif (env_token := _env_header("AZURE_OPENAI_AD_TOKEN")) is not None:
        auth = BearerTokenAuth(env_token)
    else:
        raise InvalidArgumentError(
            "Azure credentials are required: pass api_key, azure_ad_token or token_provider, "
            "or set AZURE_OPENAI_API_KEY",
            param="api_key",
        )
    headers: dict[str, str] = dict([ASSISTANTS_BETA_HEADER])
    organization = _check_header_str(organization, "organization")
    project = _check_header_str(project, "project")
    if organization:
        headers["OpenAI-Organization"] = organization
    if project:
        headers["OpenAI-Project"] = project
    headers = _merge_headers(headers, _check_headers(default_headers))
    return ClientConfig(
        base_url=f"{endpoint}/openai",
        auth=auth,
        timeout=resolve_timeout(timeout),
        max_retries=resolve_max_retries(max_retries),
        default_headers=headers,
        default_query={"api-version": api_version},
        api_version=api_version,
        strict_responses=_check_flag(strict_responses, "strict_responses"),
    )


def foundry_config(
    *,
    endpoint: str | None,
    api_version: str | None,
    azure_ad_token: str | None,
    token_provider: Callable[[], str] | None,
    timeout: TimeoutTypes,
    max_retries: int,
    default_headers: Mapping[str, str] | None,
    strict_responses: bool = False,
) -> ClientConfig:
    """Resolve the arguments of ``AssistantsClient.for_foundry(...)`` against the environment.

    Requests go to ``{endpoint}/threads...?api-version=...``, with a Microsoft Entra ID bearer
    token from exactly one of ``token_provider`` (asked before every attempt) and
    ``azure_ad_token``. Neither an ``api-key`` nor an ``OpenAI-Beta`` header is sent.
    """
    endpoint = _check_optional_str(endpoint, "endpoint") or _env("AZURE_AI_PROJECT_ENDPOINT")
    if endpoint is None:
        raise InvalidArgumentError(
            "a Foundry project endpoint is required: pass endpoint=... or set "
            "AZURE_AI_PROJECT_ENDPOINT (https://<resource>.services.ai.azure.com/api/projects/"
            "<project>, shown on the project's overview page)",
            param="endpoint",
        )
    url = _check_foundry_endpoint(endpoint)
    api_version = (
        _check_optional_str(api_version, "api_version")
        or _env("AZURE_AI_AGENTS_API_VERSION")
        or FOUNDRY_DEFAULT_API_VERSION
    )
    azure_ad_token = _check_header_str(azure_ad_token, "azure_ad_token")
    if token_provider is not None and not callable(token_provider):
        raise InvalidArgumentError("token_provider must be callable", param="token_provider")
    if token_provider is not None and azure_ad_token is not None:
        raise InvalidArgumentError(
            "pass only one of token_provider and azure_ad_token", param="azure_ad_token"
        )
    auth: Auth
    if token_provider is not None:
        auth = TokenProviderAuth(token_provider)
    elif azure_ad_token is not None:
        auth = BearerTokenAuth(azure_ad_token)
    else:
        raise InvalidArgumentError(
            "Foundry needs a Microsoft Entra ID token: pass token_provider=... (with the "
            "azure-identity package: azure.identity.get_bearer_token_provider("
            f"DefaultAzureCredential(), {FOUNDRY_TOKEN_SCOPE!r})) or a static "
            f"azure_ad_token=... for the scope {FOUNDRY_TOKEN_SCOPE}",
            param="token_provider",
        )
    return ClientConfig(
        base_url=url,
        auth=auth,
        timeout=resolve_timeout(timeout),
        max_retries=resolve_max_retries(max_retries),
        default_headers=_check_headers(default_headers),
        default_query={"api-version": api_version},
        api_version=api_version,
        strict_responses=_check_flag(strict_responses, "strict_responses"),
    )
