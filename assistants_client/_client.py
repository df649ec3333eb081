"""``AssistantsClient``: the Assistants API as flat, typed methods.

Each method checks its arguments (ids, body fields, and the spec's constraints through the
operation's generated request model) before any network I/O, sends one logical request through
the transport (retries included) and parses the answer into a generated model. Where a method
sends it and what it answers comes from the generated operations table
(``assistants_client.models.operations``); the signatures, docstrings and argument checks are
written here.

Optional body fields are keyword-only and default to ``OMIT`` (left out of the body); an
explicit ``None`` is sent as JSON ``null``, which clears a field on update. Values may be plain
dicts or generated models. Every method also takes the per-call options of
:class:`RequestOptions` (``timeout``, ``max_retries``, ``extra_headers``, ``extra_query``,
``extra_body``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeVar

import attrs
import requests

from assistants_client._arguments import (
    build_body,
    request_body,
    validate_content,
    validate_cursor,
    validate_id,
    validate_include,
    validate_limit,
    validate_metadata,
    validate_order,
)
from assistants_client._config import (
    DEFAULT_MAX_EVENT_BYTES,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    ClientConfig,
    Timeout,
    TimeoutTypes,
    azure_config,
    foundry_config,
    openai_config,
)
from assistants_client._exceptions import InvalidArgumentError
from assistants_client._model_base import Model
from assistants_client._omit import OMIT, Omit
from assistants_client._operation import ListOperation, Operation
from assistants_client._pagination import SyncPage
from assistants_client._plan import Plan, run_plan
from assistants_client._response import RawResponse, parse_model, raw_response_wrapper, respond
from assistants_client._retry import DEFAULT_RETRY_POLICY, RetryPolicy
from assistants_client._runs import (
    ToolErrorPolicy,
    check_functions,
    check_max_rounds,
    check_tool_error_policy,
    check_wait,
    stream_to_end_plan,
    tool_loop_plan,
    tool_outputs_plan,
    wait_for_run_plan,
)
from assistants_client._streaming import (
    AssistantEventHandler,
    AssistantStream,
    EventCallback,
    callback_handler,
    check_handler,
    open_stream_plan,
)
from assistants_client._structured import is_structured_output_class, response_format_for
from assistants_client._transport import (
    POOL_MAXSIZE,
    CallOptions,
    QueryValue,
    RequestOptions,
    Transport,
)
from assistants_client.models import (
    Assistant,
    AssistantDeleted,
    MessageDeleted,
    RunResponse,
    RunStep,
    Thread,
    ThreadDeleted,
    ThreadMessage,
)
from assistants_client.models import operations as ops

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack

__all__ = [
    "AssistantsClient",
    "AssistantsClientWithRawResponse",
    "CreateRunParams",
    "CreateThreadAndRunParams",
    "RunReply",
]

M = TypeVar("M", bound=Model)
R = TypeVar("R")

JSONObject = Mapping[str, Any] | Model
"""A JSON object given as a plain dict or as a generated model."""
Metadata = Mapping[str, str]
ResponseFormat = str | JSONObject | type[Any]
"""``"auto"``, a response format object, or an attrs class (a strict JSON schema is sent)."""

DEFAULT_RUN_WAIT_TIMEOUT = 600.0
DEFAULT_POLL_INTERVAL = 0.5
MAX_TOOL_ROUNDS = 64


class _RunFields(RequestOptions, total=False):
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


_RUN_OPTION_NAMES = frozenset(RequestOptions.__annotations__)


def _response_format(value: Any) -> Any:
    """An attrs class given as response format becomes its strict json_schema format."""
    return response_format_for(value) if is_structured_output_class(value) else value


def _optional(value: object) -> Any:
    """``None`` for an omitted value (list models may omit their cursors)."""
    return None if isinstance(value, Omit) else value


def _after(query: Mapping[str, QueryValue], cursor: str) -> dict[str, QueryValue]:
    """The query of the page after ``cursor``."""
    following = {k: v for k, v in query.items() if k != "before"}
    following["after"] = cursor
    return following


@attrs.frozen
class RunReply:
    """A run that has ended, with the messages it wrote (oldest first)."""

    run: RunResponse
    messages: list[ThreadMessage]

    @property
    def text(self) -> str:
        """The text of the run's messages, one paragraph per message."""
        return "\n\n".join(text for message in self.messages if (text := message.text))


class _Request(NamedTuple):
    """One checked call of an operation, ready to send (or to stream)."""

    operation: Operation[Any]
    path: str
    body: dict[str, Any] | None
    query: dict[str, QueryValue]
    options: CallOptions


class AssistantsClient:
    """A client for the Assistants API (v2). Safe to share between threads.

    ``AssistantsClient()`` reads ``OPENAI_API_KEY``, ``OPENAI_BASE_URL``, ``OPENAI_ORG_ID`` and
    ``OPENAI_PROJECT_ID``; explicit arguments win. An API key is required for
    api.openai.com and optional for any other host (a local server). For Azure OpenAI use
    :meth:`for_azure`.

    ``timeout`` is a number of seconds, a ``(connect, read)`` pair or a :class:`Timeout`
    (default: 5 s to connect, 600 s to read; it may also bound a call as a whole, ``total``,
    and a stream, ``stream_idle`` and ``stream_total``). ``max_retries`` (default 2) bounds
    the retries of each call; ``retry_policy`` says which failures are retried and how long to
    wait (see :class:`RetryPolicy` and ``docs/retries.md``). A ``session`` you pass is used as
    is and not closed by :meth:`close`. ``max_response_bytes`` (64 MiB, decompressed) and
    ``max_event_bytes`` (16 MiB) bound what one answer, or one event of a stream, may hold:
    past them ``ResponseTooLargeError`` is raised.

    One client serves a whole process (every thread, every user of a web application). It
    keeps no cookie a server sets, and pools ``pool_maxsize`` connections per host (64): a
    call made while all are busy (a streamed run holds one for its whole length) waits for a
    free one, at most the connect timeout, rather than opening one more. Give it at least as
    many as the threads that use it at once. A ``session`` you pass is used as it is: its
    pool and its cookie jar are yours.

    Responses are read as real servers send them: a required field that a server leaves out
    reads as ``None`` (or ``[]`` for an array) where that is sensible, and the deviations
    servers are known for (``openapi/overlay.yaml``) are part of the models' types.
    ``strict_responses=True`` reads them as the spec says instead, for testing a server
    against the spec.

    ``client.with_raw_response.<method>(...)`` returns a :class:`RawResponse` with the status
    code, headers and request id of that call, and ``parse()`` for the model.
    """

    _transport: Transport
    with_raw_response: AssistantsClientWithRawResponse
    # Whether `async def` tool functions and event callbacks are accepted (the async client's).
    _awaits_callables: ClassVar[bool] = False

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        default_headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        strict_responses: bool = False,
        pool_maxsize: int = POOL_MAXSIZE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        config = openai_config(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            strict_responses=strict_responses,
        )
        self._setup(
            config, session, retry_policy, pool_maxsize, max_response_bytes, max_event_bytes
        )

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
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        default_headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        strict_responses: bool = False,
        pool_maxsize: int = POOL_MAXSIZE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
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
            strict_responses=strict_responses,
        )
        client = cls.__new__(cls)
        client._setup(
            config, session, retry_policy, pool_maxsize, max_response_bytes, max_event_bytes
        )
        return client

    @classmethod
    def for_foundry(
        cls,
        endpoint: str | None = None,
        *,
        token_provider: Callable[[], str] | None = None,
        azure_ad_token: str | None = None,
        api_version: str | None = None,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_policy: RetryPolicy = DEFAULT_RETRY_POLICY,
        default_headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        strict_responses: bool = False,
        pool_maxsize: int = POOL_MAXSIZE,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> Self:
        """A client for the classic agents of an Azure AI Foundry project (Agent Service).

        ``endpoint`` is the project endpoint,
        ``https://<resource>.services.ai.azure.com/api/projects/<project>``; requests go to
        ``{endpoint}/assistants...`` and ``{endpoint}/threads...`` with
        ``?api-version=<api_version>`` (default ``v1``). The credential is a Microsoft Entra ID
        bearer token for the scope ``https://ai.azure.com/.default``: a ``token_provider``
        called before every attempt (tokens expire), usually
        ``azure.identity.get_bearer_token_provider(DefaultAzureCredential(),
        "https://ai.azure.com/.default")``, or a static ``azure_ad_token``; exactly one.
        Reads ``AZURE_AI_PROJECT_ENDPOINT`` and ``AZURE_AI_AGENTS_API_VERSION`` for what is
        not given. Foundry's own tool types (``azure_ai_search``, ``bing_grounding``...) are
        read as ``Unknown...`` variants and sent back as they are.
        """
        config = foundry_config(
            endpoint=endpoint,
            api_version=api_version,
            azure_ad_token=azure_ad_token,
            token_provider=token_provider,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            strict_responses=strict_responses,
        )
        client = cls.__new__(cls)
        client._setup(
            config, session, retry_policy, pool_maxsize, max_response_bytes, max_event_bytes
        )
        return client

    def _setup(
        self,
        config: ClientConfig,
        session: requests.Session | None,
        retry_policy: RetryPolicy,
        pool_maxsize: int,
        max_response_bytes: int,
        max_event_bytes: int,
    ) -> None:
        config = config.with_limits(max_response_bytes, max_event_bytes)
        self._transport = Transport(config, session, _check_policy(retry_policy), pool_maxsize)
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

    @property
    def retry_policy(self) -> RetryPolicy:
        return self._transport.policy

    @property
    def strict_responses(self) -> bool:
        return self._transport.config.strict_responses

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
    def _request(
        operation: Operation[Any],
        path: str,
        options: Mapping[str, Any],
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, QueryValue] | None = None,
    ) -> _Request:
        """A checked call: the body through the operation's request model, the options."""
        checked = None
        if body is not None:
            checked = request_body(operation.request, body) if operation.request else dict(body)
        call_options = CallOptions.of(options, operation.name)
        return _Request(operation, path, checked, dict(query or {}), call_options)

    def _run(self, plan: Plan[R]) -> R:
        """Carry out a plan (see ``_plan``), here blocking. Every method that does I/O checks
        its arguments, then ends here: the async client's core hands the plan back unrun."""
        return run_plan(plan, self._transport.policy.sleep)

    def _send(self, request: _Request, cls: type[M]) -> M:
        return self._run(self._send_plan(request, cls))

    def _send_plan(self, request: _Request, cls: type[M]) -> Plan[M]:
        response = yield from self._transport.request_plan(
            request.operation.method,
            request.path,
            query=request.query,
            body=request.body,
            options=request.options,
        )
        redact = self._transport.redact
        strict = self._transport.config.strict_responses
        return respond(response, lambda: parse_model(response, cls, redact, strict=strict))

    def _call(
        self,
        operation: Operation[M],
        path: str,
        options: Mapping[str, Any],
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, QueryValue] | None = None,
    ) -> M:
        request = self._request(operation, path, options, body=body, query=query)
        return self._send(request, operation.response)

    def _list(
        self,
        operation: ListOperation[Any, M],
        path: str,
        options: Mapping[str, Any],
        query: dict[str, QueryValue],
    ) -> SyncPage[M]:
        return self._list_page(operation, path, CallOptions.of(options, operation.name), query)

    def _list_page(
        self,
        operation: ListOperation[Any, M],
        path: str,
        options: CallOptions,
        query: dict[str, QueryValue],
    ) -> SyncPage[M]:
        return self._run(self._list_plan(operation, path, options, query))

    def _list_plan(
        self,
        operation: ListOperation[Any, M],
        path: str,
        options: CallOptions,
        query: dict[str, QueryValue],
    ) -> Plan[SyncPage[M]]:
        response = yield from self._transport.request_plan(
            "GET", path, query=query, options=options
        )
        redact = self._transport.redact
        strict = self._transport.config.strict_responses

        def fetch_after(cursor: str) -> SyncPage[M]:
            return self._list_page(operation, path, options, _after(query, cursor))

        def parse() -> SyncPage[M]:
            listing = parse_model(response, operation.response, redact, strict=strict)
            items: list[M] = list(getattr(listing, "data", []))
            return SyncPage(
                data=items,
                has_more=bool(_optional(getattr(listing, "has_more", False))),
                first_id=_optional(getattr(listing, "first_id", None)),
                last_id=_optional(getattr(listing, "last_id", None)),
                fetch_after=fetch_after,
            )

        return respond(response, parse)

    def _list_all_plan(
        self,
        operation: ListOperation[Any, M],
        path: str,
        options: CallOptions,
        query: dict[str, QueryValue],
    ) -> Plan[list[M]]:
        """Every item of a list, page after page."""
        page = yield from self._list_plan(operation, path, options, query)
        items = list(page.data)
        cursor = page._next_cursor()
        while cursor is not None and page.data:
            page = yield from self._list_plan(operation, path, options, _after(query, cursor))
            items.extend(page.data)
            cursor = page._next_cursor()
        return items

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
        **options: Unpack[RequestOptions],
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
        return self._call(ops.CREATE_ASSISTANT, ops.CREATE_ASSISTANT.path, options, body=body)

    def list_assistants(
        self,
        *,
        limit: int | Omit = OMIT,
        order: str | Omit = OMIT,
        after: str | Omit = OMIT,
        before: str | Omit = OMIT,
        **options: Unpack[RequestOptions],
    ) -> SyncPage[Assistant]:
        """List assistants (``GET /assistants``); iterate the page for every assistant."""
        query = self._list_query(limit=limit, order=order, after=after, before=before)
        return self._list(ops.LIST_ASSISTANTS, ops.LIST_ASSISTANTS.path, options, query)

    def get_assistant(self, assistant_id: str, **options: Unpack[RequestOptions]) -> Assistant:
        """Get an assistant (``GET /assistants/{assistant_id}``); NotFoundError if missing."""
        path = ops.GET_ASSISTANT.path_for(assistant_id=assistant_id)
        return self._call(ops.GET_ASSISTANT, path, options)

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
        **options: Unpack[RequestOptions],
    ) -> Assistant:
        """Modify an assistant (``POST /assistants/{assistant_id}``)."""
        path = ops.UPDATE_ASSISTANT.path_for(assistant_id=assistant_id)
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
        return self._call(ops.UPDATE_ASSISTANT, path, options, body=body)

    def delete_assistant(
        self, assistant_id: str, **options: Unpack[RequestOptions]
    ) -> AssistantDeleted:
        """Delete an assistant (``DELETE /assistants/{assistant_id}``)."""
        path = ops.DELETE_ASSISTANT.path_for(assistant_id=assistant_id)
        return self._call(ops.DELETE_ASSISTANT, path, options)

    # -- threads ------------------------------------------------------------------------------

    def create_thread(
        self,
        *,
        messages: Sequence[JSONObject] | Omit = OMIT,
        tool_resources: JSONObject | Omit | None = OMIT,
        metadata: Metadata | Omit | None = OMIT,
        **options: Unpack[RequestOptions],
    ) -> Thread:
        """Create a thread (``POST /threads``), optionally with its first messages."""
        validate_metadata(metadata)
        body = build_body(messages=messages, tool_resources=tool_resources, metadata=metadata)
        return self._call(ops.CREATE_THREAD, ops.CREATE_THREAD.path, options, body=body)

    def get_thread(self, thread_id: str, **options: Unpack[RequestOptions]) -> Thread:
        """Get a thread (``GET /threads/{thread_id}``); NotFoundError if missing."""
        path = ops.GET_THREAD.path_for(thread_id=thread_id)
        return self._call(ops.GET_THREAD, path, options)

    def update_thread(
        self,
        thread_id: str,
        *,
        tool_resources: JSONObject | Omit | None = OMIT,
        metadata: Metadata | Omit | None = OMIT,
        **options: Unpack[RequestOptions],
    ) -> Thread:
        """Modify a thread (``POST /threads/{thread_id}``)."""
        path = ops.UPDATE_THREAD.path_for(thread_id=thread_id)
        validate_metadata(metadata)
        body = build_body(tool_resources=tool_resources, metadata=metadata)
        return self._call(ops.UPDATE_THREAD, path, options, body=body)

    def delete_thread(self, thread_id: str, **options: Unpack[RequestOptions]) -> ThreadDeleted:
        """Delete a thread (``DELETE /threads/{thread_id}``)."""
        path = ops.DELETE_THREAD.path_for(thread_id=thread_id)
        return self._call(ops.DELETE_THREAD, path, options)

    # -- messages -----------------------------------------------------------------------------

    def create_message(
        self,
        thread_id: str,
        role: str,
        content: str | Sequence[JSONObject],
        *,
        attachments: Sequence[JSONObject] | Omit | None = OMIT,
        metadata: Metadata | Omit | None = OMIT,
        **options: Unpack[RequestOptions],
    ) -> ThreadMessage:
        """Add a message to a thread (``POST /threads/{thread_id}/messages``).

        ``role`` is ``"user"`` or ``"assistant"`` (checked by the request model).
        """
        path = ops.CREATE_MESSAGE.path_for(thread_id=thread_id)
        validate_content(content)
        validate_metadata(metadata)
        body = build_body(role=role, content=content, attachments=attachments, metadata=metadata)
        return self._call(ops.CREATE_MESSAGE, path, options, body=body)

    def list_messages(
        self,
        thread_id: str,
        *,
        limit: int | Omit = OMIT,
        order: str | Omit = OMIT,
        after: str | Omit = OMIT,
        before: str | Omit = OMIT,
        run_id: str | Omit = OMIT,
        **options: Unpack[RequestOptions],
    ) -> SyncPage[ThreadMessage]:
        """List a thread's messages (``GET /threads/{thread_id}/messages``)."""
        path = ops.LIST_MESSAGES.path_for(thread_id=thread_id)
        query = self._list_query(
            limit=limit,
            order=order,
            after=after,
            before=before,
            run_id=validate_cursor(run_id, "run_id"),
        )
        return self._list(ops.LIST_MESSAGES, path, options, query)

    def get_message(
        self, thread_id: str, message_id: str, **options: Unpack[RequestOptions]
    ) -> ThreadMessage:
        """Get a message (``GET /threads/{thread_id}/messages/{message_id}``)."""
        path = ops.GET_MESSAGE.path_for(thread_id=thread_id, message_id=message_id)
        return self._call(ops.GET_MESSAGE, path, options)

    def update_message(
        self,
        thread_id: str,
        message_id: str,
        *,
        metadata: Metadata | Omit | None = OMIT,
        **options: Unpack[RequestOptions],
    ) -> ThreadMessage:
        """Modify a message (``POST /threads/{thread_id}/messages/{message_id}``)."""
        path = ops.UPDATE_MESSAGE.path_for(thread_id=thread_id, message_id=message_id)
        validate_metadata(metadata)
        return self._call(ops.UPDATE_MESSAGE, path, options, body=build_body(metadata=metadata))

    def delete_message(
        self, thread_id: str, message_id: str, **options: Unpack[RequestOptions]
    ) -> MessageDeleted:
        """Delete a message (``DELETE /threads/{thread_id}/messages/{message_id}``)."""
        path = ops.DELETE_MESSAGE.path_for(thread_id=thread_id, message_id=message_id)
        return self._call(ops.DELETE_MESSAGE, path, options)

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
        **options: Unpack[RequestOptions],
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
            **options,
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
        return self._stream(self._run_request(thread_id, assistant_id, **params), event_handler)

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
        **options: Unpack[RequestOptions],
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
            **options,
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
        return self._stream(self._thread_and_run_request(assistant_id, **params), event_handler)

    def list_runs(
        self,
        thread_id: str,
        *,
        limit: int | Omit = OMIT,
        order: str | Omit = OMIT,
        after: str | Omit = OMIT,
        before: str | Omit = OMIT,
        **options: Unpack[RequestOptions],
    ) -> SyncPage[RunResponse]:
        """List a thread's runs (``GET /threads/{thread_id}/runs``)."""
        path = ops.LIST_RUNS.path_for(thread_id=thread_id)
        query = self._list_query(limit=limit, order=order, after=after, before=before)
        return self._list(ops.LIST_RUNS, path, options, query)

    def get_run(
        self, thread_id: str, run_id: str, **options: Unpack[RequestOptions]
    ) -> RunResponse:
        """Get a run (``GET /threads/{thread_id}/runs/{run_id}``)."""
        path = ops.GET_RUN.path_for(thread_id=thread_id, run_id=run_id)
        return self._call(ops.GET_RUN, path, options)

    def update_run(
        self,
        thread_id: str,
        run_id: str,
        *,
        metadata: Metadata | Omit | None = OMIT,
        **options: Unpack[RequestOptions],
    ) -> RunResponse:
        """Modify a run (``POST /threads/{thread_id}/runs/{run_id}``)."""
        path = ops.UPDATE_RUN.path_for(thread_id=thread_id, run_id=run_id)
        validate_metadata(metadata)
        return self._call(ops.UPDATE_RUN, path, options, body=build_body(metadata=metadata))

    def cancel_run(
        self, thread_id: str, run_id: str, **options: Unpack[RequestOptions]
    ) -> RunResponse:
        """Cancel a run (``POST /threads/{thread_id}/runs/{run_id}/cancel``)."""
        path = ops.CANCEL_RUN.path_for(thread_id=thread_id, run_id=run_id)
        return self._call(ops.CANCEL_RUN, path, options)

    def submit_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        tool_outputs: Sequence[JSONObject],
        *,
        on_event: EventCallback | AssistantEventHandler | None = None,
        **options: Unpack[RequestOptions],
    ) -> RunResponse:
        """Submit the outputs of a run's tool calls, all at once
        (``POST /threads/{thread_id}/runs/{run_id}/submit_tool_outputs``).

        With ``on_event`` the continuation is streamed, as in :meth:`create_run`.
        """
        request = self._tool_outputs_request(thread_id, run_id, tool_outputs, options)
        return self._send_run(request, on_event)

    def stream_tool_outputs(
        self,
        thread_id: str,
        run_id: str,
        tool_outputs: Sequence[JSONObject],
        *,
        event_handler: AssistantEventHandler | None = None,
        **options: Unpack[RequestOptions],
    ) -> AssistantStream:
        """Submit tool outputs and stream the rest of the run; see :meth:`stream_run`."""
        request = self._tool_outputs_request(thread_id, run_id, tool_outputs, options)
        return self._stream(request, event_handler)

    def call_functions(
        self,
        run: RunResponse,
        functions: Mapping[str, Callable[..., Any]],
        *,
        on_tool_error: ToolErrorPolicy = "report",
    ) -> list[dict[str, str]]:
        """Call the functions a ``requires_action`` run asks for; return their outputs.

        One ``{"tool_call_id", "output"}`` per call, in order, ready for
        :meth:`submit_tool_outputs` or :meth:`stream_tool_outputs`: one round of
        :meth:`run_with_tools`, for code that drives the rounds itself (a run streamed to a
        page, one stream per round). Calls are made, and failures reported or raised, as in
        :meth:`run_with_tools`; with ``on_tool_error="raise"`` the run is left as it is (cancel
        it, or its thread stays locked until it expires). A run that waits for nothing gives
        ``[]``. Sends no request.
        """
        if not isinstance(run, RunResponse):
            raise InvalidArgumentError("run must be a RunResponse", param="run")
        table = check_functions(functions, allow_async=self._awaits_callables)
        policy = check_tool_error_policy(on_tool_error)
        return self._run(tool_outputs_plan(run, table, policy))

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
        path = ops.GET_RUN.path_for(thread_id=thread_id, run_id=run_id)
        check_wait(self._transport, timeout, poll_interval)
        return self._run(
            wait_for_run_plan(
                self._transport, path, run_id, timeout=timeout, poll_interval=poll_interval
            )
        )

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
        check_wait(self._transport, wait_timeout, poll_interval)
        created = self._send_plan(self._run_request(thread_id, assistant_id, **params), RunResponse)
        return self._run(self._until_done(thread_id, created, wait_timeout, poll_interval))

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
        the call's output, and all outputs of a round are submitted together.

        A call fails when it names a function not in ``functions``, when its arguments are not
        JSON or cannot be bound to the function's parameters (the model's mistake: checked
        before calling), or when the function raises (a tool failure). With
        ``on_tool_error="report"`` (the default) the error becomes the call's output, which
        the model can read, and is logged at WARNING on the ``assistants_client`` logger with
        the run id, the call id and the function name; the error output never lists your
        other functions. With ``"raise"`` the run is cancelled (and waited for, so that its
        thread is free again) and ``ToolCallError`` is raised, with ``run_id``,
        ``tool_call_id``, ``function_name``, ``reason`` and the original exception as its
        ``__cause__``. A callable ``(call, exception) -> output`` decides the output for an
        exception raised inside a function; the model's mistakes are reported as above. A loop
        that runs past ``max_rounds`` cancels the run too.

        Streams by default (``on_event`` sees every event of every round); with
        ``stream=False`` it polls. Returns the final run (completed, failed, cancelled,
        expired or incomplete).
        """
        loop = self._tool_loop(
            thread_id,
            assistant_id,
            functions,
            None,
            stream=stream,
            on_event=on_event,
            on_tool_error=on_tool_error,
            max_rounds=max_rounds,
            wait_timeout=wait_timeout,
            poll_interval=poll_interval,
            **params,
        )
        return self._run(loop)

    def run_and_get_reply(
        self,
        thread_id: str,
        assistant_id: str,
        functions: Mapping[str, Callable[..., Any]] | None = None,
        *,
        stream: bool = True,
        on_event: EventCallback | AssistantEventHandler | None = None,
        on_tool_error: ToolErrorPolicy = "report",
        max_rounds: int = MAX_TOOL_ROUNDS,
        wait_timeout: float = DEFAULT_RUN_WAIT_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        **params: Unpack[CreateRunParams],
    ) -> RunReply:
        """:meth:`run_with_tools` (``functions`` may be left out), returning the run and its reply.

        ``reply.run`` is the final run, ``reply.messages`` the messages it wrote and
        ``reply.text`` their text. Streamed (the default), the messages are the ones the
        streams delivered: no further request. With ``stream=False`` they are read with one
        listing of the run's messages once it has ended.
        """
        written: list[ThreadMessage] = []
        loop = self._tool_loop(
            thread_id,
            assistant_id,
            {} if functions is None else functions,
            written,
            stream=stream,
            on_event=on_event,
            on_tool_error=on_tool_error,
            max_rounds=max_rounds,
            wait_timeout=wait_timeout,
            poll_interval=poll_interval,
            **params,
        )
        return self._run(self._reply_plan(thread_id, loop, written, listed=not stream))

    def _reply_plan(
        self,
        thread_id: str,
        loop: Plan[RunResponse],
        written: list[ThreadMessage],
        *,
        listed: bool,
    ) -> Plan[RunReply]:
        """The run with the messages it wrote: as streamed, or (``listed``) read once it ended."""
        run = yield from loop
        if listed:
            operation = ops.LIST_MESSAGES
            query = self._list_query(
                limit=OMIT,
                order="asc",
                after=OMIT,
                before=OMIT,
                run_id=validate_cursor(run.id, "run_id"),
            )
            path = operation.path_for(thread_id=thread_id)
            options = CallOptions.of({}, operation.name)
            written = yield from self._list_all_plan(operation, path, options, query)
        return RunReply(run=run, messages=[m for m in written if m.role == "assistant"])

    def _tool_loop(
        self,
        thread_id: str,
        assistant_id: str,
        functions: Mapping[str, Callable[..., Any]],
        written: list[ThreadMessage] | None,
        *,
        stream: bool,
        on_event: EventCallback | AssistantEventHandler | None,
        on_tool_error: ToolErrorPolicy,
        max_rounds: int,
        wait_timeout: float,
        poll_interval: float,
        **params: Any,
    ) -> Plan[RunResponse]:
        """The tool loop's plan, every argument checked first; streamed rounds add the
        messages they delivered to ``written``."""
        table = check_functions(functions, allow_async=self._awaits_callables)
        policy = check_tool_error_policy(on_tool_error)
        rounds = check_max_rounds(max_rounds)
        check_wait(self._transport, wait_timeout, poll_interval)
        handler = callback_handler(on_event, allow_async=self._awaits_callables)
        opening = self._run_request(thread_id, assistant_id, **params)

        def answered(request: _Request) -> Plan[RunResponse]:
            if stream:
                return stream_to_end_plan(self._stream_plan(request, handler), written)
            sent = self._send_plan(request, RunResponse)
            return self._until_done(thread_id, sent, wait_timeout, poll_interval)

        def submit(run: RunResponse, outputs: list[dict[str, str]]) -> Plan[RunResponse]:
            return answered(self._tool_outputs_request(thread_id, run.id, outputs, {}))

        def cancel(run: RunResponse) -> Plan[RunResponse]:
            path = ops.CANCEL_RUN.path_for(thread_id=thread_id, run_id=run.id)
            sent = self._send_plan(self._request(ops.CANCEL_RUN, path, {}), RunResponse)
            return self._until_done(thread_id, sent, wait_timeout, poll_interval)

        return tool_loop_plan(answered(opening), submit, table, policy, rounds, cancel)

    # -- run plumbing -------------------------------------------------------------------------

    def _until_done(
        self, thread_id: str, sent: Plan[RunResponse], wait_timeout: float, poll_interval: float
    ) -> Plan[RunResponse]:
        """The run ``sent`` answers with, polled until terminal or ``requires_action``."""
        run = yield from sent
        if run.is_terminal or run.status == "requires_action":
            return run
        path = ops.GET_RUN.path_for(thread_id=thread_id, run_id=run.id)
        return (
            yield from wait_for_run_plan(
                self._transport, path, run.id, timeout=wait_timeout, poll_interval=poll_interval
            )
        )

    def _run_request(
        self,
        thread_id: str,
        assistant_id: str,
        *,
        include: list[str] | Omit = OMIT,
        **fields: Any,
    ) -> _Request:
        path = ops.CREATE_RUN.path_for(thread_id=thread_id)
        validate_id(assistant_id, "assistant_id")
        options = {k: fields.pop(k) for k in list(fields) if k in _RUN_OPTION_NAMES}
        validate_metadata(fields.get("metadata", OMIT))
        query = self._include_query(include)
        fields["response_format"] = _response_format(fields.get("response_format", OMIT))
        body = build_body(assistant_id=assistant_id, **fields)
        return self._request(ops.CREATE_RUN, path, options, body=body, query=query)

    def _thread_and_run_request(self, assistant_id: str, **fields: Any) -> _Request:
        validate_id(assistant_id, "assistant_id")
        options = {k: fields.pop(k) for k in list(fields) if k in _RUN_OPTION_NAMES}
        validate_metadata(fields.get("metadata", OMIT))
        fields["response_format"] = _response_format(fields.get("response_format", OMIT))
        body = build_body(assistant_id=assistant_id, **fields)
        operation = ops.CREATE_THREAD_AND_RUN
        return self._request(operation, operation.path, options, body=body)

    def _tool_outputs_request(
        self,
        thread_id: str,
        run_id: str,
        tool_outputs: Sequence[JSONObject],
        options: Mapping[str, Any],
    ) -> _Request:
        path = ops.SUBMIT_TOOL_OUTPUTS.path_for(thread_id=thread_id, run_id=run_id)
        if isinstance(tool_outputs, (str, bytes, Mapping)) or not isinstance(
            tool_outputs, Sequence
        ):
            raise InvalidArgumentError(
                "tool_outputs must be a list of {tool_call_id, output} objects",
                param="tool_outputs",
            )
        body = build_body(tool_outputs=tool_outputs)
        return self._request(ops.SUBMIT_TOOL_OUTPUTS, path, options, body=body)

    def _send_run(
        self, request: _Request, on_event: EventCallback | AssistantEventHandler | None
    ) -> RunResponse:
        if on_event is None:
            return self._send(request, RunResponse)
        handler = callback_handler(on_event, allow_async=self._awaits_callables)
        return self._run(stream_to_end_plan(self._stream_plan(request, handler)))

    def _stream(self, request: _Request, handler: AssistantEventHandler | None) -> AssistantStream:
        return self._run(self._stream_plan(request, check_handler(handler)))

    def _stream_plan(
        self, request: _Request, handler: AssistantEventHandler | None
    ) -> Plan[AssistantStream]:
        return open_stream_plan(
            self._transport,
            request.path,
            body={**(request.body or {}), "stream": True},
            query=request.query,
            options=request.options,
            handler=handler,
        )

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
        **options: Unpack[RequestOptions],
    ) -> SyncPage[RunStep]:
        """List a run's steps (``GET /threads/{thread_id}/runs/{run_id}/steps``)."""
        path = ops.LIST_RUN_STEPS.path_for(thread_id=thread_id, run_id=run_id)
        query = self._list_query(limit=limit, order=order, after=after, before=before)
        query.update(self._include_query(include))
        return self._list(ops.LIST_RUN_STEPS, path, options, query)

    def get_run_step(
        self,
        thread_id: str,
        run_id: str,
        step_id: str,
        *,
        include: list[str] | Omit = OMIT,
        **options: Unpack[RequestOptions],
    ) -> RunStep:
        """Get a run step (``GET /threads/{thread_id}/runs/{run_id}/steps/{step_id}``)."""
        path = ops.GET_RUN_STEP.path_for(thread_id=thread_id, run_id=run_id, step_id=step_id)
        query = self._include_query(include)
        return self._call(ops.GET_RUN_STEP, path, options, query=query)


def _check_policy(policy: Any) -> RetryPolicy:
    if not isinstance(policy, RetryPolicy):
        raise InvalidArgumentError("retry_policy must be a RetryPolicy", param="retry_policy")
    return policy


class AssistantsClientWithRawResponse:
    """The client's API methods, one per operation of the table, each returning a RawResponse.

    ``client.with_raw_response.get_thread("thread_1")`` makes the same call as
    ``client.get_thread("thread_1")`` and returns its :class:`RawResponse` (status code,
    headers, request id; ``parse()`` gives the thread). Nothing is stored on the client: the
    raw view belongs to the call that asked for it.
    """

    def __init__(self, client: AssistantsClient) -> None:
        for operation in ops.OPERATIONS:
            method = getattr(client, operation.name, None)
            if method is not None:
                setattr(self, operation.name, raw_response_wrapper(method))

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Callable[..., RawResponse[Any]]: ...
