"""``AssistantsClient``: the Assistants API as flat, typed methods.

Each method validates its arguments (ids, body fields, spec constraints via the generated
request model) before any network I/O, sends one logical request through the transport
(retries included) and parses the answer into a generated model.

Optional body fields are keyword-only and default to ``OMIT`` (left out of the body); an
explicit ``None`` is sent as JSON ``null``, which clears a field on update. Values may be plain
dicts or generated models. Every method also takes ``timeout``, ``max_retries``,
``extra_headers``, ``extra_query`` and ``extra_body`` for that call only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict, TypeVar

import requests

from assistants_client._base_client import QueryParams, QueryValue, RequestOptions, Transport
from assistants_client._config import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    Timeout,
    TimeoutTypes,
    azure_config,
    openai_config,
)
from assistants_client._exceptions import (
    APIResponseValidationError,
    APITimeoutError,
    AssistantsError,
    InvalidArgumentError,
)
from assistants_client._model_base import OMIT, Model, Omit
from assistants_client._pagination import SyncPage
from assistants_client._response import parse_model, raw_response_wrapper, respond
from assistants_client._runs import (
    EventCallback,
    ToolErrorPolicy,
    callback_handler,
    check_functions,
    check_tool_error_policy,
    run_tool_calls,
)
from assistants_client._streaming import AssistantEventHandler, AssistantStream
from assistants_client._structured import is_structured_output_class, response_format_for
from assistants_client._validation import (
    build_body,
    validate_content,
    validate_cursor,
    validate_id,
    validate_include,
    validate_limit,
    validate_metadata,
    validate_order,
    validate_request_model,
    validate_role,
)
from assistants_client.models import (
    Assistant,
    AssistantDeleted,
    AssistantList,
    CreateAssistantRequest,
    CreateMessageRequest,
    CreateRunRequest,
    CreateThreadAndRunRequest,
    CreateThreadRequest,
    MessageDeleted,
    MessageList,
    ModifyAssistantRequest,
    ModifyMessageRequest,
    ModifyRunRequest,
    ModifyThreadRequest,
    RunList,
    RunResponse,
    RunStep,
    RunStepList,
    SubmitToolOutputsRequest,
    Thread,
    ThreadDeleted,
    ThreadMessage,
)

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

__all__ = [
    "AssistantsClient",
    "AssistantsClientWithRawResponse",
    "CreateRunParams",
    "CreateThreadAndRunParams",
]

M = TypeVar("M", bound=Model)

JSONObject = Mapping[str, Any] | Model
"""A JSON object given as a plain dict or as a generated model."""
Metadata = Mapping[str, str]
ExtraHeaders = Mapping[str, str]
ExtraQuery = Mapping[str, QueryValue]
ExtraBody = Mapping[str, Any]
ResponseFormat = str | JSONObject | type[Any]
"""``"auto"``, a response format object, or an attrs class (a strict JSON schema is sent)."""

DEFAULT_RUN_WAIT_TIMEOUT = 600.0
DEFAULT_POLL_INTERVAL = 0.5
POLL_AFTER_HEADER = "openai-poll-after-ms"
MAX_TOOL_ROUNDS = 64
STREAM_MISMATCH_EXCERPT = 2000  # bytes of a non-stream answer kept in the error


class _CallOptions(TypedDict, total=False):
    timeout: TimeoutTypes | None
    max_retries: int | None
    extra_headers: ExtraHeaders | None
    extra_query: ExtraQuery | None
    extra_body: ExtraBody | None


class _RunFields(_CallOptions, total=False):
    model: str | Omit | None
    instructions: str | Omit | None
    tools: Sequence[JSONObject] | Omit | None
    metadata: Metadata | Omit | None
    temperature: float | Omit | None
    top_p: float | Omit | None
    max_prompt_tokens: int | Omit | None
    max_completion_tokens: int | Omit | None
    truncation_strategy: JSONObject | Omit | None
    tool_choice: str | JSONObject | Omit | None
    parallel_tool_calls: bool | Omit
    response_format: ResponseFormat | Omit | None


class CreateRunParams(_RunFields, total=False):
    """The optional arguments of :meth:`AssistantsClient.create_run`."""

    reasoning_effort: str | Omit | None
    additional_instructions: str | Omit | None
    additional_messages: Sequence[JSONObject] | Omit | None
    include: list[str] | Omit


class CreateThreadAndRunParams(_RunFields, total=False):
    """The optional arguments of :meth:`AssistantsClient.create_thread_and_run`."""

    thread: JSONObject | Omit
    tool_resources: JSONObject | Omit | None


def _response_format(value: Any) -> Any:
    """An attrs class given as response format becomes its strict json_schema format."""
    return response_format_for(value) if is_structured_output_class(value) else value


def _optional(value: object) -> Any:
    """``None`` for an omitted value (list models may omit their cursors)."""
    return None if isinstance(value, Omit) else value


class _RunRequest(NamedTuple):
    path: str
    body: dict[str, Any]
    query: dict[str, QueryValue]
    options: RequestOptions


def _poll_wait(header: str | None, default: float) -> float:
    """Seconds to wait before the next poll: the server's hint when it gives a sane one."""
    if header:
        try:
            millis = float(header)
        except ValueError:
            return default
        if 0 <= millis <= 60_000:
            return millis / 1000.0
    return default


class AssistantsClient:
    """A client for the Assistants API (v2). Safe to share between threads.

    ``AssistantsClient()`` reads ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID`` and
    ``OPENAI_PROJECT_ID``; explicit arguments win. An API key is required for
    api.openai.com and optional for any other host (a local server). For Azure OpenAI use
    :meth:`for_azure`.

    ``timeout`` is a number of seconds, a ``(connect, read)`` pair or a :class:`Timeout`
    (default: 5 s to connect, 600 s to read). ``max_retries`` (default 2) bounds the retries
    of each call; see ``docs/retries.md``. A ``session`` you pass is used as is and not closed
    by :meth:`close`.

    ``client.with_raw_response.<method>(...)`` returns a :class:`RawResponse` with the status
    code, headers and request id of that call, and ``parse()`` for the model.
    """

    _transport: Transport
    with_raw_response: AssistantsClientWithRawResponse

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        config = openai_config(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self._setup(Transport(config, session))

    @classmethod
    def for_azure(
        cls,
        endpoint: str | None = None,
        *,
        api_version: str | None = None,
        api_key: str | None = None,
        azure_ad_token: str | None = None,
        token_provider: Callable[[], str] | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        default_headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
    ) -> Self:
        """A client for an Azure OpenAI resource.

        Requests go to ``{endpoint}/openai/...?api-version=<api_version>``. Credentials: an
        ``api_key`` (sent as the ``api-key`` header), a static ``azure_ad_token`` or a
        ``token_provider`` called before every attempt (both sent as a bearer token).
        Reads ``AZURE_OPENAI_ENDPOINT``, ``AZURE_OPENAI_API_KEY``, ``AZURE_OPENAI_AD_TOKEN``
        and ``OPENAI_API_VERSION`` for what is not given.
        """
        config = azure_config(
            endpoint=endpoint,
            api_version=api_version,
            api_key=api_key,
            azure_ad_token=azure_ad_token,
            token_provider=token_provider,
            organization=organization,
            project=project,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        client = cls.__new__(cls)
        client._setup(Transport(config, session))
        return client

    def _setup(self, transport: Transport) -> None:
        self._transport = transport
        self.with_raw_response = AssistantsClientWithRawResponse(self)

    # -- lifecycle and introspection ----------------------------------------------------------

    @property
    def base_url(self) -> str:
        return self._transport.config.base_url

    @property
    def timeout(self) -> Timeout:
        return self._transport.config.timeout

    @property
    def max_retries(self) -> int:
        return self._transport.config.max_retries

    def close(self) -> None:
        """Close the connection pool (unless the session was passed in)."""
        self._transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        version = self._transport.config.api_version
        extra = f", api_version={version!r}" if version else ""
        return f"{type(self).__name__}(base_url={self.base_url!r}{extra})"

    # -- plumbing -----------------------------------------------------------------------------

    @staticmethod
    def _options(
        timeout: TimeoutTypes | None,
        max_retries: int | None,
        extra_headers: ExtraHeaders | None,
        extra_query: ExtraQuery | None,
        extra_body: ExtraBody | None,
    ) -> RequestOptions:
        return RequestOptions.build(
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
        )

    def _call(
        self,
        method: str,
        path: str,
        cls: type[M],
        options: RequestOptions,
        *,
        body: Mapping[str, Any] | None = None,
        query: QueryParams | None = None,
    ) -> M:
        response = self._transport.request(method, path, query=query, body=body, options=options)
        redact = self._transport.redact
        return respond(response, lambda: parse_model(response, cls, redact))

    def _list(
        self,
        path: str,
        list_cls: type[Model],
        item_cls: type[M],
        options: RequestOptions,
        query: dict[str, QueryValue],
    ) -> SyncPage[M]:
        response = self._transport.request("GET", path, query=query, options=options)
        redact = self._transport.redact

        def fetch_after(cursor: str) -> SyncPage[M]:
            next_query = {k: v for k, v in query.items() if k != "before"}
            next_query["after"] = cursor
            return self._list(path, list_cls, item_cls, options, next_query)

        def parse() -> SyncPage[M]:
            listing = parse_model(response, list_cls, redact)
            items: list[M] = list(getattr(listing, "data", []))
            return SyncPage(
                data=items,
                has_more=bool(_optional(getattr(listing, "has_more", False))),
                first_id=_optional(getattr(listing, "first_id", None)),
                last_id=_optional(getattr(listing, "last_id", None)),
                fetch_after=fetch_after,
            )

        return respond(response, parse)

    @staticmethod
    def _list_query(
        *,
        limit: int | Omit,
        order: str | Omit,
        after: str | Omit,
        before: str | Omit,
        **extra: Any,
    ) -> dict[str, QueryValue]:
        fields: dict[str, Any] = {
            "limit": validate_limit(limit),
            "order": validate_order(order),
            "after": validate_cursor(after, "after"),
            "before": validate_cursor(before, "before"),
            **extra,
        }
        return {k: v for k, v in fields.items() if not isinstance(v, Omit)}

    @staticmethod
    def _include_query(include: list[str] | Omit) -> dict[str, QueryValue]:
        checked = validate_include(include)
        return {} if isinstance(checked, Omit) else {"include[]": checked}

    # -- assistants ---------------------------------------------------------------------------

    def create_assistant(
        self,
        model: str,
        *,
        name: str | Omit | None = OMIT,
        description: str | Omit | None = OMIT,
        instructions: str | Omit | None = OMIT,
        reasoning_effort: str | Omit | None = OMIT,
        tools: Sequence[JSONObject] | Omit = OMIT,
        tool_resources: JSONObject | Omit | None = OMIT,
        metadata: Metadata | Omit | None = OMIT,
        temperature: float | Omit | None = OMIT,
        top_p: float | Omit | None = OMIT,
        response_format: str | JSONObject | Omit | None = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> Assistant:
        """Create an assistant (``POST /assistants``)."""
        if not isinstance(model, str) or not model.strip():
            raise InvalidArgumentError("model must be a non-empty str", param="model")
        validate_metadata(metadata)
        body = build_body(
            model=model,
            name=name,
            description=description,
            instructions=instructions,
            reasoning_effort=reasoning_effort,
            tools=tools,
            tool_resources=tool_resources,
            metadata=metadata,
            temperature=temperature,
            top_p=top_p,
            response_format=response_format,
        )
        validate_request_model(CreateAssistantRequest, body)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("POST", "/assistants", Assistant, options, body=body)

    def list_assistants(
        self,
        *,
        limit: int | Omit = OMIT,
        order: str | Omit = OMIT,
        after: str | Omit = OMIT,
        before: str | Omit = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> SyncPage[Assistant]:
        """List assistants (``GET /assistants``); iterate the page for every assistant."""
        query = self._list_query(limit=limit, order=order, after=after, before=before)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._list("/assistants", AssistantList, Assistant, options, query)

    def get_assistant(
        self,
        assistant_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> Assistant:
        """Get an assistant (``GET /assistants/{assistant_id}``); NotFoundError if missing."""
        path = f"/assistants/{validate_id(assistant_id, 'assistant_id')}"
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("GET", path, Assistant, options)

    def update_assistant(
        self,
        assistant_id: str,
        *,
        model: str | Omit = OMIT,
        reasoning_effort: str | Omit | None = OMIT,
        name: str | Omit | None = OMIT,
        description: str | Omit | None = OMIT,
        instructions: str | Omit | None = OMIT,
        tools: Sequence[JSONObject] | Omit = OMIT,
        tool_resources: JSONObject | Omit | None = OMIT,
        metadata: Metadata | Omit | None = OMIT,
        temperature: float | Omit | None = OMIT,
        top_p: float | Omit | None = OMIT,
        response_format: str | JSONObject | Omit | None = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> Assistant:
        """Modify an assistant (``POST /assistants/{assistant_id}``)."""
        path = f"/assistants/{validate_id(assistant_id, 'assistant_id')}"
        validate_metadata(metadata)
        body = build_body(
            model=model,
            reasoning_effort=reasoning_effort,
            name=name,
            description=description,
            instructions=instructions,
            tools=tools,
            tool_resources=tool_resources,
            metadata=metadata,
            temperature=temperature,
            top_p=top_p,
            response_format=response_format,
        )
        validate_request_model(ModifyAssistantRequest, body)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("POST", path, Assistant, options, body=body)

    def delete_assistant(
        self,
        assistant_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> AssistantDeleted:
        """Delete an assistant (``DELETE /assistants/{assistant_id}``)."""
        path = f"/assistants/{validate_id(assistant_id, 'assistant_id')}"
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("DELETE", path, AssistantDeleted, options)

    # -- threads ------------------------------------------------------------------------------

    def create_thread(
        self,
        *,
        messages: Sequence[JSONObject] | Omit = OMIT,
        tool_resources: JSONObject | Omit | None = OMIT,
        metadata: Metadata | Omit | None = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> Thread:
        """Create a thread (``POST /threads``), optionally with its first messages."""
        validate_metadata(metadata)
        body = build_body(messages=messages, tool_resources=tool_resources, metadata=metadata)
        validate_request_model(CreateThreadRequest, body)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("POST", "/threads", Thread, options, body=body)

    def get_thread(
        self,
        thread_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> Thread:
        """Get a thread (``GET /threads/{thread_id}``); NotFoundError if missing."""
        path = f"/threads/{validate_id(thread_id, 'thread_id')}"
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("GET", path, Thread, options)

    def update_thread(
        self,
        thread_id: str,
        *,
        tool_resources: JSONObject | Omit | None = OMIT,
        metadata: Metadata | Omit | None = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> Thread:
        """Modify a thread (``POST /threads/{thread_id}``)."""
        path = f"/threads/{validate_id(thread_id, 'thread_id')}"
        validate_metadata(metadata)
        body = build_body(tool_resources=tool_resources, metadata=metadata)
        validate_request_model(ModifyThreadRequest, body)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("POST", path, Thread, options, body=body)

    def delete_thread(
        self,
        thread_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ThreadDeleted:
        """Delete a thread (``DELETE /threads/{thread_id}``)."""
        path = f"/threads/{validate_id(thread_id, 'thread_id')}"
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("DELETE", path, ThreadDeleted, options)

    # -- messages -----------------------------------------------------------------------------

    def create_message(
        self,
        thread_id: str,
        role: str,
        content: str | Sequence[JSONObject],
        *,
        attachments: Sequence[JSONObject] | Omit | None = OMIT,
        metadata: Metadata | Omit | None = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ThreadMessage:
        """Add a message to a thread (``POST /threads/{thread_id}/messages``)."""
        path = f"/threads/{validate_id(thread_id, 'thread_id')}/messages"
        validate_role(role)
        validate_content(content)
        validate_metadata(metadata)
        body = build_body(role=role, content=content, attachments=attachments, metadata=metadata)
        validate_request_model(CreateMessageRequest, body)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("POST", path, ThreadMessage, options, body=body)

    def list_messages(
        self,
        thread_id: str,
        *,
        limit: int | Omit = OMIT,
        order: str | Omit = OMIT,
        after: str | Omit = OMIT,
        before: str | Omit = OMIT,
        run_id: str | Omit = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> SyncPage[ThreadMessage]:
        """List a thread's messages (``GET /threads/{thread_id}/messages``)."""
        path = f"/threads/{validate_id(thread_id, 'thread_id')}/messages"
        query = self._list_query(
            limit=limit,
            order=order,
            after=after,
            before=before,
            run_id=validate_cursor(run_id, "run_id"),
        )
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._list(path, MessageList, ThreadMessage, options, query)

    def get_message(
        self,
        thread_id: str,
        message_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ThreadMessage:
        """Get a message (``GET /threads/{thread_id}/messages/{message_id}``)."""
        path = (
            f"/threads/{validate_id(thread_id, 'thread_id')}"
            f"/messages/{validate_id(message_id, 'message_id')}"
        )
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("GET", path, ThreadMessage, options)

    def update_message(
        self,
        thread_id: str,
        message_id: str,
        *,
        metadata: Metadata | Omit | None = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> ThreadMessage:
        """Modify a message (``POST /threads/{thread_id}/messages/{message_id}``)."""
        path = (
            f"/threads/{validate_id(thread_id, 'thread_id')}"
            f"/messages/{validate_id(message_id, 'message_id')}"
        )
        validate_metadata(metadata)
        body = build_body(metadata=metadata)
        validate_request_model(ModifyMessageRequest, body)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("POST", path, ThreadMessage, options, body=body)

    def delete_message(
        self,
        thread_id: str,
        message_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> MessageDeleted:
        """Delete a message (``DELETE /threads/{thread_id}/messages/{message_id}``)."""
        path = (
            f"/threads/{validate_id(thread_id, 'thread_id')}"
            f"/messages/{validate_id(message_id, 'message_id')}"
        )
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("DELETE", path, MessageDeleted, options)

    # -- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        thread_id: str,
        assistant_id: str,
        *,
        model: str | Omit | None = OMIT,
        reasoning_effort: str | Omit | None = OMIT,
        instructions: str | Omit | None = OMIT,
        additional_instructions: str | Omit | None = OMIT,
        additional_messages: Sequence[JSONObject] | Omit | None = OMIT,
        tools: Sequence[JSONObject] | Omit | None = OMIT,
        metadata: Metadata | Omit | None = OMIT,
        temperature: float | Omit | None = OMIT,
        top_p: float | Omit | None = OMIT,
        max_prompt_tokens: int | Omit | None = OMIT,
        max_completion_tokens: int | Omit | None = OMIT,
        truncation_strategy: JSONObject | Omit | None = OMIT,
        tool_choice: str | JSONObject | Omit | None = OMIT,
        parallel_tool_calls: bool | Omit = OMIT,
        response_format: ResponseFormat | Omit | None = OMIT,
        include: list[str] | Omit = OMIT,
        on_event: EventCallback | AssistantEventHandler | None = None,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> RunResponse:
        """Start a run of an assistant on a thread (``POST /threads/{thread_id}/runs``).

        ``include`` is sent as the ``include[]`` query parameter. ``response_format`` may be an
        attrs class: a strict JSON schema built from it is sent, and the answer is read back
        with ``message.parse(TheClass)``.

        With ``on_event`` (a callable taking ``(event)`` or ``(event_name, event)``, or an
        :class:`AssistantEventHandler`) the run is streamed: every event is passed on as it
        arrives, and the run is returned as of its last event (completed, failed, or waiting in
        ``requires_action``).
        """
        request = self._run_request(
            thread_id,
            assistant_id,
            model=model,
            reasoning_effort=reasoning_effort,
            instructions=instructions,
            additional_instructions=additional_instructions,
            additional_messages=additional_messages,
            tools=tools,
            metadata=metadata,
            temperature=temperature,
            top_p=top_p,
            max_prompt_tokens=max_prompt_tokens,
            max_completion_tokens=max_completion_tokens,
            truncation_strategy=truncation_strategy,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            response_format=response_format,
            include=include,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
        )
        return self._send_run(request, on_event)

    def stream_run(
        self,
        thread_id: str,
        assistant_id: str,
        *,
        event_handler: AssistantEventHandler | None = None,
        **params: Unpack[CreateRunParams],
    ) -> AssistantStream:
        """Start a run and stream its events: ``with client.stream_run(...) as stream:``.

        Takes the arguments of :meth:`create_run`. Iterate the stream for typed events, or use
        ``stream.text_deltas()``, ``stream.until_done()``, ``stream.final_run``,
        ``stream.final_messages`` and ``stream.final_run_steps``. Leaving the block early
        closes the connection.
        """
        return self._open_stream(
            self._run_request(thread_id, assistant_id, **params), event_handler
        )

    def create_thread_and_run(
        self,
        assistant_id: str,
        *,
        thread: JSONObject | Omit = OMIT,
        model: str | Omit | None = OMIT,
        instructions: str | Omit | None = OMIT,
        tools: Sequence[JSONObject] | Omit | None = OMIT,
        tool_resources: JSONObject | Omit | None = OMIT,
        metadata: Metadata | Omit | None = OMIT,
        temperature: float | Omit | None = OMIT,
        top_p: float | Omit | None = OMIT,
        max_prompt_tokens: int | Omit | None = OMIT,
        max_completion_tokens: int | Omit | None = OMIT,
        truncation_strategy: JSONObject | Omit | None = OMIT,
        tool_choice: str | JSONObject | Omit | None = OMIT,
        parallel_tool_calls: bool | Omit = OMIT,
        response_format: ResponseFormat | Omit | None = OMIT,
        on_event: EventCallback | AssistantEventHandler | None = None,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> RunResponse:
        """Create a thread and start a run on it in one request (``POST /threads/runs``).

        ``response_format`` and ``on_event`` work as in :meth:`create_run`.
        """
        request = self._thread_and_run_request(
            assistant_id,
            thread=thread,
            model=model,
            instructions=instructions,
            tools=tools,
            tool_resources=tool_resources,
            metadata=metadata,
            temperature=temperature,
            top_p=top_p,
            max_prompt_tokens=max_prompt_tokens,
            max_completion_tokens=max_completion_tokens,
            truncation_strategy=truncation_strategy,
            tool_choice=tool_choice,
            parallel_tool_calls=parallel_tool_calls,
            response_format=response_format,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
        )
        return self._send_run(request, on_event)

    def stream_thread_and_run(
        self,
        assistant_id: str,
        *,
        event_handler: AssistantEventHandler | None = None,
        **params: Unpack[CreateThreadAndRunParams],
    ) -> AssistantStream:
        """Create a thread, start a run on it and stream the events (``thread.created`` first).

        Takes the arguments of :meth:`create_thread_and_run`; see :meth:`stream_run`.
        """
        return self._open_stream(
            self._thread_and_run_request(assistant_id, **params), event_handler
        )

    def list_runs(
        self,
        thread_id: str,
        *,
        limit: int | Omit = OMIT,
        order: str | Omit = OMIT,
        after: str | Omit = OMIT,
        before: str | Omit = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> SyncPage[RunResponse]:
        """List a thread's runs (``GET /threads/{thread_id}/runs``)."""
        path = f"/threads/{validate_id(thread_id, 'thread_id')}/runs"
        query = self._list_query(limit=limit, order=order, after=after, before=before)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._list(path, RunList, RunResponse, options, query)

    def get_run(
        self,
        thread_id: str,
        run_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> RunResponse:
        """Get a run (``GET /threads/{thread_id}/runs/{run_id}``)."""
        path = (
            f"/threads/{validate_id(thread_id, 'thread_id')}/runs/{validate_id(run_id, 'run_id')}"
        )
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("GET", path, RunResponse, options)

    def update_run(
        self,
        thread_id: str,
        run_id: str,
        *,
        metadata: Metadata | Omit | None = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> RunResponse:
        """Modify a run (``POST /threads/{thread_id}/runs/{run_id}``)."""
        path = (
            f"/threads/{validate_id(thread_id, 'thread_id')}/runs/{validate_id(run_id, 'run_id')}"
        )
        validate_metadata(metadata)
        body = build_body(metadata=metadata)
        validate_request_model(ModifyRunRequest, body)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("POST", path, RunResponse, options, body=body)

    def cancel_run(
        self,
        thread_id: str,
        run_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> RunResponse:
        """Cancel a run (``POST /threads/{thread_id}/runs/{run_id}/cancel``)."""
        path = (
            f"/threads/{validate_id(thread_id, 'thread_id')}"
            f"/runs/{validate_id(run_id, 'run_id')}/cancel"
        )
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("POST", path, RunResponse, options)

    def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        tool_outputs: Sequence[JSONObject],
        *,
        on_event: EventCallback | AssistantEventHandler | None = None,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> RunResponse:
        """Submit the outputs of a run's tool calls, all at once
        (``POST /threads/{thread_id}/runs/{run_id}/submit_tool_outputs``).

        With ``on_event`` the continuation is streamed, as in :meth:`create_run`.
        """
        request = self._tool_outputs_request(
            thread_id,
            run_id,
            tool_outputs,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            extra_query=extra_query,
            extra_body=extra_body,
        )
        return self._send_run(request, on_event)

    def stream_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        tool_outputs: Sequence[JSONObject],
        *,
        event_handler: AssistantEventHandler | None = None,
        **options: Unpack[_CallOptions],
    ) -> AssistantStream:
        """Submit tool outputs and stream the rest of the run; see :meth:`stream_run`."""
        request = self._tool_outputs_request(thread_id, run_id, tool_outputs, **options)
        return self._open_stream(request, event_handler)

    # -- running to the end -------------------------------------------------------------------

    def wait_for_run(
        self,
        thread_id: str,
        run_id: str,
        *,
        timeout: float = DEFAULT_RUN_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> RunResponse:
        """Poll a run until it is terminal or ``requires_action``, and return it.

        Waits ``poll_interval`` seconds between polls, or what the server asks for in
        ``openai-poll-after-ms``. Raises APITimeoutError when ``timeout`` seconds pass first.
        """
        path = (
            f"/threads/{validate_id(thread_id, 'thread_id')}/runs/{validate_id(run_id, 'run_id')}"
        )
        deadline = self._check_wait(timeout, poll_interval)
        transport = self._transport
        status = "unknown"
        while True:
            remaining = deadline - transport._clock()
            per_call = Timeout(connect=min(5.0, max(remaining, 0.001)), read=max(remaining, 0.001))
            # Near the deadline a failed poll is not retried: its backoff would overrun it.
            retries = None if remaining > 10.0 else 0
            options = RequestOptions(timeout=per_call, max_retries=retries)
            try:
                response = transport.request("GET", path, options=options)
            except APITimeoutError as exc:
                if transport._clock() < deadline:
                    raise
                # The poll itself ran into the overall deadline.
                raise APITimeoutError(
                    f"run {run_id} is still {status} after {timeout:g}s",
                    method="GET",
                    url=exc.url,
                    request_id=exc.request_id,
                ) from exc
            run = parse_model(response, RunResponse, transport.redact)
            status = run.status
            if run.is_terminal or run.status == "requires_action":
                return run
            wait = _poll_wait(response.headers.get(POLL_AFTER_HEADER), poll_interval)
            remaining = deadline - transport._clock()
            if remaining <= 0 or wait >= remaining:
                raise APITimeoutError(
                    f"run {run_id} is still {run.status} after {timeout:g}s",
                    method="GET",
                    url=response.url,
                    status_code=response.status_code,
                    request_id=response.request_id,
                )
            transport._sleep(wait)

    def create_run_and_wait(
        self,
        thread_id: str,
        assistant_id: str,
        *,
        wait_timeout: float = DEFAULT_RUN_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        **params: Unpack[CreateRunParams],
    ) -> RunResponse:
        """:meth:`create_run`, then :meth:`wait_for_run` (terminal or ``requires_action``)."""
        self._check_wait(wait_timeout, poll_interval)
        run = self.create_run(thread_id, assistant_id, **params)
        if run.is_terminal or run.status == "requires_action":
            return run
        return self.wait_for_run(
            thread_id, run.id, timeout=wait_timeout, poll_interval=poll_interval
        )

    def run_with_tools(
        self,
        thread_id: str,
        assistant_id: str,
        functions: Mapping[str, Callable[..., Any]],
        *,
        stream: bool = True,
        on_event: EventCallback | AssistantEventHandler | None = None,
        on_tool_error: ToolErrorPolicy = "report",
        max_rounds: int = MAX_TOOL_ROUNDS,
        wait_timeout: float = DEFAULT_RUN_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        **params: Unpack[CreateRunParams],
    ) -> RunResponse:
        """Run an assistant and answer its function calls until the run ends.

        Each requested call's JSON arguments are passed as keyword arguments to
        ``functions[name]``; its result (a str is sent as is, anything else as JSON) becomes
        the call's output, and all outputs of a round are submitted together. A function that
        raises becomes an error output the model can read (``on_tool_error="report"``), stops
        the loop (``"raise"``), or is turned into an output by your callable. A call to a name
        not in ``functions`` is an error output, not a crash.

        Streams by default (``on_event`` sees every event of every round); with
        ``stream=False`` it polls. Returns the final run (completed, failed, cancelled,
        expired or incomplete).
        """
        table = check_functions(functions)
        policy = check_tool_error_policy(on_tool_error)
        if not isinstance(max_rounds, int) or isinstance(max_rounds, bool) or max_rounds < 1:
            raise InvalidArgumentError("max_rounds must be a positive integer", param="max_rounds")
        self._check_wait(wait_timeout, poll_interval)
        handler = callback_handler(on_event)
        if stream:
            run = self._stream_to_end(self._run_request(thread_id, assistant_id, **params), handler)
        else:
            run = self.create_run_and_wait(
                thread_id,
                assistant_id,
                wait_timeout=wait_timeout,
                poll_interval=poll_interval,
                **params,
            )
        rounds = 0
        while run.status == "requires_action":
            rounds += 1
            if rounds > max_rounds:
                raise AssistantsError(
                    f"run {run.id} still asks for tool calls after {max_rounds} rounds"
                )
            outputs = run_tool_calls(run.required_tool_calls, table, policy)
            if stream:
                request = self._tool_outputs_request(thread_id, run.id, outputs)
                run = self._stream_to_end(request, handler)
            else:
                run = self.submit_tool_outputs(thread_id, run.id, outputs)
                if not (run.is_terminal or run.status == "requires_action"):
                    run = self.wait_for_run(
                        thread_id, run.id, timeout=wait_timeout, poll_interval=poll_interval
                    )
        return run

    # -- run plumbing -------------------------------------------------------------------------

    def _run_request(
        self,
        thread_id: str,
        assistant_id: str,
        *,
        include: list[str] | Omit = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
        **fields: Any,
    ) -> _RunRequest:
        path = f"/threads/{validate_id(thread_id, 'thread_id')}/runs"
        validate_id(assistant_id, "assistant_id")
        validate_metadata(fields.get("metadata", OMIT))
        query = self._include_query(include)
        fields["response_format"] = _response_format(fields.get("response_format", OMIT))
        body = build_body(assistant_id=assistant_id, **fields)
        validate_request_model(CreateRunRequest, body)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return _RunRequest(path, body, query, options)

    def _thread_and_run_request(
        self,
        assistant_id: str,
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
        **fields: Any,
    ) -> _RunRequest:
        validate_id(assistant_id, "assistant_id")
        validate_metadata(fields.get("metadata", OMIT))
        fields["response_format"] = _response_format(fields.get("response_format", OMIT))
        body = build_body(assistant_id=assistant_id, **fields)
        validate_request_model(CreateThreadAndRunRequest, body)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return _RunRequest("/threads/runs", body, {}, options)

    def _tool_outputs_request(
        self,
        thread_id: str,
        run_id: str,
        tool_outputs: Sequence[JSONObject],
        *,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> _RunRequest:
        path = (
            f"/threads/{validate_id(thread_id, 'thread_id')}"
            f"/runs/{validate_id(run_id, 'run_id')}/submit_tool_outputs"
        )
        if isinstance(tool_outputs, (str, bytes, Mapping)) or not isinstance(
            tool_outputs, Sequence
        ):
            raise InvalidArgumentError(
                "tool_outputs must be a list of {tool_call_id, output} objects",
                param="tool_outputs",
            )
        body = build_body(tool_outputs=tool_outputs)
        validate_request_model(SubmitToolOutputsRequest, body)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return _RunRequest(path, body, {}, options)

    def _send_run(
        self, request: _RunRequest, on_event: EventCallback | AssistantEventHandler | None
    ) -> RunResponse:
        if on_event is None:
            return self._call(
                "POST",
                request.path,
                RunResponse,
                request.options,
                body=request.body,
                query=request.query,
            )
        return self._stream_to_end(request, callback_handler(on_event))

    def _open_stream(
        self, request: _RunRequest, handler: AssistantEventHandler | None
    ) -> AssistantStream:
        if handler is not None and not isinstance(handler, AssistantEventHandler):
            raise InvalidArgumentError(
                "event_handler must be an AssistantEventHandler", param="event_handler"
            )
        body = {**request.body, "stream": True}
        transport = self._transport
        response = transport.request(
            "POST",
            request.path,
            query=request.query,
            body=body,
            options=request.options,
            stream=True,
        )
        content_type = response.headers.get("content-type", "")
        if content_type.split(";", 1)[0].strip().lower() != "text/event-stream":
            # A server that ignored `stream: true`, or a proxy's page: not an event stream.
            http = response.http_response
            try:
                excerpt = http.raw.read(STREAM_MISMATCH_EXCERPT, decode_content=True) or b""
            except Exception:
                excerpt = b""
            finally:
                http.close()
            raise APIResponseValidationError(
                transport.redact(
                    f"POST {request.path}: expected an event stream (text/event-stream), got content type "
                    f"{content_type!r}"
                ),
                method="POST",
                url=response.url,
                status_code=response.status_code,
                request_id=response.request_id,
                body=transport.redact(excerpt.decode("utf-8", errors="replace")),
            )
        return AssistantStream(
            transport.iter_stream(response),
            close=response.http_response.close,
            status_code=response.status_code,
            headers=response.headers,
            request_id=response.request_id,
            handler=handler,
            method="POST",
            url=response.url,
            redact=transport.redact,
        )

    def _stream_to_end(
        self, request: _RunRequest, handler: AssistantEventHandler | None
    ) -> RunResponse:
        with self._open_stream(request, handler) as stream:
            stream.until_done()
        run = stream.final_run
        if run is None:
            raise APIResponseValidationError(
                "the event stream ended without any run event",
                method="POST",
                request_id=stream.request_id,
                status_code=stream.status_code,
                partial=stream.snapshot,
            )
        return run

    def _check_wait(self, timeout: float, poll_interval: float) -> float:
        for name, value in (("timeout", timeout), ("poll_interval", poll_interval)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InvalidArgumentError(f"{name} must be a number >= 0", param=name)
        return self._transport._clock() + float(timeout)

    # -- run steps ----------------------------------------------------------------------------

    def list_run_steps(
        self,
        thread_id: str,
        run_id: str,
        *,
        limit: int | Omit = OMIT,
        order: str | Omit = OMIT,
        after: str | Omit = OMIT,
        before: str | Omit = OMIT,
        include: list[str] | Omit = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> SyncPage[RunStep]:
        """List a run's steps (``GET /threads/{thread_id}/runs/{run_id}/steps``)."""
        path = (
            f"/threads/{validate_id(thread_id, 'thread_id')}"
            f"/runs/{validate_id(run_id, 'run_id')}/steps"
        )
        query = self._list_query(limit=limit, order=order, after=after, before=before)
        query.update(self._include_query(include))
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._list(path, RunStepList, RunStep, options, query)

    def get_run_step(
        self,
        thread_id: str,
        run_id: str,
        step_id: str,
        *,
        include: list[str] | Omit = OMIT,
        timeout: TimeoutTypes | None = None,
        max_retries: int | None = None,
        extra_headers: ExtraHeaders | None = None,
        extra_query: ExtraQuery | None = None,
        extra_body: ExtraBody | None = None,
    ) -> RunStep:
        """Get a run step (``GET /threads/{thread_id}/runs/{run_id}/steps/{step_id}``)."""
        path = (
            f"/threads/{validate_id(thread_id, 'thread_id')}"
            f"/runs/{validate_id(run_id, 'run_id')}"
            f"/steps/{validate_id(step_id, 'step_id')}"
        )
        query = self._include_query(include)
        options = self._options(timeout, max_retries, extra_headers, extra_query, extra_body)
        return self._call("GET", path, RunStep, options, query=query)


class AssistantsClientWithRawResponse:
    """The same methods as :class:`AssistantsClient`, each returning a :class:`RawResponse`.

    Nothing is stored on the client: the raw view belongs to the call that asked for it.
    """

    def __init__(self, client: AssistantsClient) -> None:
        self.create_assistant = raw_response_wrapper(client.create_assistant)
        self.list_assistants = raw_response_wrapper(client.list_assistants)
        self.get_assistant = raw_response_wrapper(client.get_assistant)
        self.update_assistant = raw_response_wrapper(client.update_assistant)
        self.delete_assistant = raw_response_wrapper(client.delete_assistant)
        self.create_thread = raw_response_wrapper(client.create_thread)
        self.get_thread = raw_response_wrapper(client.get_thread)
        self.update_thread = raw_response_wrapper(client.update_thread)
        self.delete_thread = raw_response_wrapper(client.delete_thread)
        self.create_message = raw_response_wrapper(client.create_message)
        self.list_messages = raw_response_wrapper(client.list_messages)
        self.get_message = raw_response_wrapper(client.get_message)
        self.update_message = raw_response_wrapper(client.update_message)
        self.delete_message = raw_response_wrapper(client.delete_message)
        self.create_run = raw_response_wrapper(client.create_run)
        self.create_thread_and_run = raw_response_wrapper(client.create_thread_and_run)
        self.list_runs = raw_response_wrapper(client.list_runs)
        self.get_run = raw_response_wrapper(client.get_run)
        self.update_run = raw_response_wrapper(client.update_run)
        self.cancel_run = raw_response_wrapper(client.cancel_run)
        self.submit_tool_outputs = raw_response_wrapper(client.submit_tool_outputs)
        self.list_run_steps = raw_response_wrapper(client.list_run_steps)
        self.get_run_step = raw_response_wrapper(client.get_run_step)
