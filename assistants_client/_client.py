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

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeVar

import attrs
import requests

from assistants_client import _vector_stores as stores
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
from assistants_client._exceptions import InvalidArgumentError, PollTimeoutError, RunFailedError
from assistants_client._model_base import Model
from assistants_client._omit import OMIT, Omit
from assistants_client._operation import ListOperation, Operation
from assistants_client._pagination import SyncPage
from assistants_client._plan import Gather, Outcome, Plan, run_plan
from assistants_client._response import RawResponse, parse_model, raw_response_wrapper, respond
from assistants_client._retry import DEFAULT_RETRY_POLICY, RetryPolicy
from assistants_client._runs import (
    ToolErrorPolicy,
    Waiting,
    check_functions,
    check_max_rounds,
    check_tool_error_policy,
    check_wait,
    model_parser,
    poll_plan,
    stream_to_end_plan,
    tool_loop_plan,
    tool_outputs_plan,
    until_deadline,
    wait_for_run_plan,
    within,
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
    TransportResponse,
)
from assistants_client._uploads import FileInput, FileUpload, MultipartForm, form_fields
from assistants_client.models import (
    Assistant,
    AssistantDeleted,
    FileDeleted,
    FileObject,
    MessageDeleted,
    RunResponse,
    RunStep,
    Thread,
    ThreadDeleted,
    ThreadMessage,
    VectorStore,
    VectorStoreDeleted,
    VectorStoreFile,
    VectorStoreFileBatch,
    VectorStoreFileContent,
    VectorStoreFileDeleted,
    VectorStoreSearchResults,
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

logger = logging.getLogger("assistants_client")

JSONObject = Mapping[str, Any] | Model
"""A JSON object given as a plain dict or as a generated model."""
Metadata = Mapping[str, str]
ResponseFormat = str | JSONObject | type[Any]
"""``"auto"``, a response format object, or an attrs class (a strict JSON schema is sent)."""

DEFAULT_RUN_WAIT_TIMEOUT = 600.0
DEFAULT_POLL_INTERVAL = 0.5
MAX_TOOL_ROUNDS = 64
DEFAULT_INGEST_TIMEOUT = 600.0
DEFAULT_UPLOAD_CONCURRENCY = 5
MAX_FILES_LIMIT = 10_000
MAX_BATCH_FILES = 2000
# While a failed upload's siblings are deleted, each deletion gets this long.
CLEANUP_TIMEOUT = 10.0
Attributes = Mapping[str, str | float | bool]
"""A vector store file's attributes: at most 16 keys (of at most 64 characters), values a str
(at most 512 characters), a number or a bool."""


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
    form: MultipartForm | None = None


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
        ``{endpoint}/assistants...``, ``{endpoint}/threads...``, ``{endpoint}/files...`` and
        ``{endpoint}/vector_stores...`` with ``?api-version=<api_version>`` (default ``v1``). The credential is a Microsoft Entra ID
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
        """A checked call: the body through the operation's request model, the options.

        The body of a multipart operation (an upload) becomes a form, its file streamed.
        """
        checked = None
        if body is not None:
            checked = request_body(operation.request, body) if operation.request else dict(body)
        call_options = CallOptions.of(options, operation.name)
        form = None
        if checked is not None and operation.request_media_type == "multipart/form-data":
            form = MultipartForm(form_fields(checked))
            checked = None
        return _Request(operation, path, checked, dict(query or {}), call_options, form)

    def _run(self, plan: Plan[R]) -> R:
        """Carry out a plan (see ``_plan``), here blocking. Every method that does I/O checks
        its arguments, then ends here: the async client's core hands the plan back unrun."""
        return run_plan(plan, self._transport.policy.sleep)

    def _send(self, request: _Request, cls: type[M]) -> M:
        return self._run(self._send_plan(request, cls))

    def _answer_plan(self, request: _Request) -> Plan[TransportResponse]:
        """The request sent (a JSON body, or an upload's form), its answer read."""
        json_answer = request.operation.response_media_type == "application/json"
        return self._transport.request_plan(
            request.operation.method,
            request.path,
            query=request.query,
            body=request.body,
            options=request.options,
            form=request.form,
            accept="application/json" if json_answer else "*/*",
        )

    def _send_plan(self, request: _Request, cls: type[M]) -> Plan[M]:
        response = yield from self._answer_plan(request)
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
                has_more=bool(getattr(listing, "has_more", False)),
                first_id=getattr(listing, "first_id", None),
                last_id=getattr(listing, "last_id", None),
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
        stores.check_tool_resources(tool_resources)
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
        stores.check_tool_resources(tool_resources)
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
        check: bool = True,
        **params: Unpack[CreateRunParams],
    ) -> RunReply:
        """:meth:`run_with_tools` (``functions`` may be left out), returning the run and its reply.

        ``reply.run`` is the final run, ``reply.messages`` the messages it wrote and
        ``reply.text`` their text. Streamed (the default), the messages are the ones the
        streams delivered: no further request. With ``stream=False`` they are read with one
        listing of the run's messages once it has ended.

        A run that does not complete (``failed``, ``expired``, ``cancelled``, or ``incomplete``:
        its answer was cut short) raises RunFailedError, which carries the reply as it is
        (``err.reply``: the run, why it ended, and what it wrote). ``check=False`` returns that
        reply instead, whatever the run's status.
        """
        if not isinstance(check, bool):
            raise InvalidArgumentError("check must be True or False", param="check")
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
        plan = self._reply_plan(thread_id, loop, written, listed=not stream, check=check)
        return self._run(plan)

    def _reply_plan(
        self,
        thread_id: str,
        loop: Plan[RunResponse],
        written: list[ThreadMessage],
        *,
        listed: bool,
        check: bool,
    ) -> Plan[RunReply]:
        """The run with the messages it wrote: as streamed, or (``listed``) read once it ended;
        with ``check``, RunFailedError unless it completed."""
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
        reply = RunReply(run=run, messages=[m for m in written if m.role == "assistant"])
        if check and run.status != "completed":
            raise RunFailedError(reply)
        return reply

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
        stores.check_tool_resources(fields.get("tool_resources"))
        thread = fields.get("thread")
        if isinstance(thread, Mapping):
            stores.check_tool_resources(thread.get("tool_resources"), "thread")
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

    # -- files --------------------------------------------------------------------------------

    def upload_file(
        self,
        file: FileInput | FileUpload,
        purpose: str,
        *,
        expires_after: JSONObject | Omit = OMIT,
        filename: str | None = None,
        content_type: str | None = None,
        **options: Unpack[RequestOptions],
    ) -> FileObject:
        """Upload a file (``POST /files``, multipart/form-data); returns the file object.

        ``file`` is a path (str or ``os.PathLike``), bytes, or a file object open in binary
        mode. It is streamed: a path or a file object is read a piece at a time while it is
        sent, never held whole in memory. ``filename`` (required for bytes) defaults to the
        path's or the file object's name, ``content_type`` to the one its extension suggests.
        ``purpose`` is ``"assistants"`` for files that vector stores and runs use (also
        ``"batch"``, ``"fine-tune"``, ``"vision"``, ``"user_data"``, ``"evals"``);
        ``expires_after`` is ``{"anchor": "created_at", "seconds": 3600..2592000}``.

        A failed attempt is retried with the whole file sent again (a path is reopened, a file
        object rewound to where it was); a file object that cannot seek is sent once, without
        retries. A file that changes size while it is sent raises UploadSourceError. The read
        timeout bounds each attempt as a whole, sending included: give a large file on a slow
        link a ``timeout=`` to match.
        """
        upload = FileUpload.of(file, filename=filename, content_type=content_type)
        body = build_body(purpose=purpose, expires_after=expires_after)
        request = self._request(
            ops.UPLOAD_FILE, ops.UPLOAD_FILE.path, options, body={**body, "file": upload}
        )
        return self._send(request, FileObject)

    def list_files(
        self,
        *,
        purpose: str | Omit = OMIT,
        limit: int | Omit = OMIT,
        order: str | Omit = OMIT,
        after: str | Omit = OMIT,
        **options: Unpack[RequestOptions],
    ) -> SyncPage[FileObject]:
        """List uploaded files (``GET /files``), optionally of one ``purpose``.

        ``limit`` is 1 to 10,000 per page (the API's default: 10,000).
        """
        if not isinstance(purpose, Omit) and (not isinstance(purpose, str) or not purpose):
            raise InvalidArgumentError("purpose must be a non-empty str", param="purpose")
        query = self._list_query(limit=OMIT, order=order, after=after, before=OMIT, purpose=purpose)
        checked = validate_limit(limit, MAX_FILES_LIMIT)
        if not isinstance(checked, Omit):
            query["limit"] = checked
        return self._list(ops.LIST_FILES, ops.LIST_FILES.path, options, query)

    def get_file(self, file_id: str, **options: Unpack[RequestOptions]) -> FileObject:
        """Get a file object (``GET /files/{file_id}``); NotFoundError if missing."""
        path = ops.GET_FILE.path_for(file_id=file_id)
        return self._call(ops.GET_FILE, path, options)

    def delete_file(self, file_id: str, **options: Unpack[RequestOptions]) -> FileDeleted:
        """Delete a file (``DELETE /files/{file_id}``); it leaves every vector store too."""
        path = ops.DELETE_FILE.path_for(file_id=file_id)
        return self._call(ops.DELETE_FILE, path, options)

    def get_file_content(self, file_id: str, **options: Unpack[RequestOptions]) -> bytes:
        """The exact bytes of a file (``GET /files/{file_id}/content``).

        The whole content is read into memory, at most ``max_response_bytes`` (64 MiB by
        default; pass ``max_response_bytes=`` for a larger file) before ResponseTooLargeError.
        """
        path = ops.GET_FILE_CONTENT.path_for(file_id=file_id)
        return self._run(self._content_plan(self._request(ops.GET_FILE_CONTENT, path, options)))

    def _content_plan(self, request: _Request) -> Plan[bytes]:
        response = yield from self._answer_plan(request)
        return respond(response, lambda: response.content or b"")

    # -- vector stores ------------------------------------------------------------------------

    def create_vector_store(
        self,
        *,
        name: str | Omit = OMIT,
        description: str | Omit = OMIT,
        file_ids: Sequence[str] | Omit = OMIT,
        chunking_strategy: JSONObject | Omit = OMIT,
        expires_after: JSONObject | Omit = OMIT,
        metadata: Metadata | Omit | None = OMIT,
        **options: Unpack[RequestOptions],
    ) -> VectorStore:
        """Create a vector store (``POST /vector_stores``), optionally with files (at most 500).

        ``chunking_strategy`` is ``{"type": "auto"}`` (800-token chunks, 400 overlapping) or
        ``{"type": "static", "static": {"max_chunk_size_tokens": 100..4096,
        "chunk_overlap_tokens": at most half of it}}``; ``expires_after`` is
        ``{"anchor": "last_active_at", "days": 1..365}``. Files are processed in the
        background: see :meth:`create_file_batch_and_poll` to wait for them.
        """
        validate_metadata(metadata)
        if not isinstance(chunking_strategy, Omit):
            stores.check_chunking_strategy(chunking_strategy)
        body = build_body(
            name=name,
            description=description,
            file_ids=_ids(file_ids, "file_ids"),
            chunking_strategy=chunking_strategy,
            expires_after=expires_after,
            metadata=metadata,
        )
        operation = ops.CREATE_VECTOR_STORE
        return self._call(operation, operation.path, options, body=body)

    def list_vector_stores(
        self,
        *,
        limit: int | Omit = OMIT,
        order: str | Omit = OMIT,
        after: str | Omit = OMIT,
        before: str | Omit = OMIT,
        **options: Unpack[RequestOptions],
    ) -> SyncPage[VectorStore]:
        """List vector stores (``GET /vector_stores``); iterate the page for every one."""
        query = self._list_query(limit=limit, order=order, after=after, before=before)
        return self._list(ops.LIST_VECTOR_STORES, ops.LIST_VECTOR_STORES.path, options, query)

    def get_vector_store(
        self, vector_store_id: str, **options: Unpack[RequestOptions]
    ) -> VectorStore:
        """Get a vector store (``GET /vector_stores/{vector_store_id}``)."""
        path = ops.GET_VECTOR_STORE.path_for(vector_store_id=vector_store_id)
        return self._call(ops.GET_VECTOR_STORE, path, options)

    def update_vector_store(
        self,
        vector_store_id: str,
        *,
        name: str | Omit | None = OMIT,
        expires_after: JSONObject | Omit | None = OMIT,
        metadata: Metadata | Omit | None = OMIT,
        **options: Unpack[RequestOptions],
    ) -> VectorStore:
        """Modify a vector store (``POST /vector_stores/{vector_store_id}``); None clears."""
        path = ops.UPDATE_VECTOR_STORE.path_for(vector_store_id=vector_store_id)
        validate_metadata(metadata)
        body = build_body(name=name, expires_after=expires_after, metadata=metadata)
        return self._call(ops.UPDATE_VECTOR_STORE, path, options, body=body)

    def delete_vector_store(
        self, vector_store_id: str, **options: Unpack[RequestOptions]
    ) -> VectorStoreDeleted:
        """Delete a vector store (``DELETE /vector_stores/{vector_store_id}``); its files stay."""
        path = ops.DELETE_VECTOR_STORE.path_for(vector_store_id=vector_store_id)
        return self._call(ops.DELETE_VECTOR_STORE, path, options)

    def search_vector_store(
        self,
        vector_store_id: str,
        query: str | Sequence[str],
        *,
        max_num_results: int | Omit = OMIT,
        filters: JSONObject | Omit = OMIT,
        ranking_options: JSONObject | Omit = OMIT,
        rewrite_query: bool | Omit = OMIT,
        **options: Unpack[RequestOptions],
    ) -> VectorStoreSearchResults:
        """Search a vector store (``POST /vector_stores/{vector_store_id}/search``).

        ``query`` is a string or a list of them; ``max_num_results`` 1 to 50 (default 10);
        ``filters`` compare the files' attributes: ``{"type": "eq", "key": "team", "value":
        "ops"}`` (``eq ne gt gte lt lte``, and ``in``/``nin`` with a list), combined with
        ``{"type": "and" | "or", "filters": [...]}``; ``ranking_options`` is
        ``{"ranker": "none" | "auto" | "default-2024-11-15", "score_threshold": 0..1}``.
        Returns the page of results (``data``), best first, each with its file, score and
        matching chunks.
        """
        path = ops.SEARCH_VECTOR_STORE.path_for(vector_store_id=vector_store_id)
        stores.check_query(query)
        if not isinstance(filters, Omit):
            stores.check_filters(filters)
        body = build_body(
            query=list(query) if isinstance(query, (list, tuple)) else query,
            max_num_results=max_num_results,
            filters=filters,
            ranking_options=ranking_options,
            rewrite_query=rewrite_query,
        )
        return self._call(ops.SEARCH_VECTOR_STORE, path, options, body=body)

    # -- vector store files -------------------------------------------------------------------

    def create_vector_store_file(
        self,
        vector_store_id: str,
        file_id: str,
        *,
        attributes: Attributes | Omit | None = OMIT,
        chunking_strategy: JSONObject | Omit = OMIT,
        **options: Unpack[RequestOptions],
    ) -> VectorStoreFile:
        """Add an uploaded file to a vector store
        (``POST /vector_stores/{vector_store_id}/files``).

        It is processed in the background (``status`` is ``in_progress``); see
        :meth:`create_vector_store_file_and_poll`. ``attributes`` (at most 16; str, number or
        bool values) are what search ``filters`` compare.
        """
        request = self._vector_store_file_request(
            vector_store_id, file_id, attributes, chunking_strategy, options
        )
        return self._send(request, VectorStoreFile)

    def list_vector_store_files(
        self,
        vector_store_id: str,
        *,
        filter: str | Omit = OMIT,
        limit: int | Omit = OMIT,
        order: str | Omit = OMIT,
        after: str | Omit = OMIT,
        before: str | Omit = OMIT,
        **options: Unpack[RequestOptions],
    ) -> SyncPage[VectorStoreFile]:
        """List a vector store's files (``GET /vector_stores/{vector_store_id}/files``).

        ``filter`` keeps the files of one status: ``in_progress``, ``completed``, ``failed``
        or ``cancelled``.
        """
        path = ops.LIST_VECTOR_STORE_FILES.path_for(vector_store_id=vector_store_id)
        query = self._list_query(
            limit=limit,
            order=order,
            after=after,
            before=before,
            filter=stores.check_status_filter(filter),
        )
        return self._list(ops.LIST_VECTOR_STORE_FILES, path, options, query)

    def get_vector_store_file(
        self, vector_store_id: str, file_id: str, **options: Unpack[RequestOptions]
    ) -> VectorStoreFile:
        """Get a vector store file (``GET /vector_stores/{vector_store_id}/files/{file_id}``)."""
        operation = ops.GET_VECTOR_STORE_FILE
        path = operation.path_for(vector_store_id=vector_store_id, file_id=file_id)
        return self._call(operation, path, options)

    def update_vector_store_file(
        self,
        vector_store_id: str,
        file_id: str,
        *,
        attributes: Attributes | None,
        **options: Unpack[RequestOptions],
    ) -> VectorStoreFile:
        """Replace a vector store file's attributes
        (``POST /vector_stores/{vector_store_id}/files/{file_id}``); None clears them."""
        operation = ops.UPDATE_VECTOR_STORE_FILE
        path = operation.path_for(vector_store_id=vector_store_id, file_id=file_id)
        return self._call(operation, path, options, body=build_body(attributes=attributes))

    def delete_vector_store_file(
        self, vector_store_id: str, file_id: str, **options: Unpack[RequestOptions]
    ) -> VectorStoreFileDeleted:
        """Remove a file from a vector store
        (``DELETE /vector_stores/{vector_store_id}/files/{file_id}``); the file itself stays."""
        operation = ops.DELETE_VECTOR_STORE_FILE
        path = operation.path_for(vector_store_id=vector_store_id, file_id=file_id)
        return self._call(operation, path, options)

    def get_vector_store_file_content(
        self, vector_store_id: str, file_id: str, **options: Unpack[RequestOptions]
    ) -> VectorStoreFileContent:
        """A vector store file's parsed text, as the store holds it
        (``GET /vector_stores/{vector_store_id}/files/{file_id}/content``)."""
        operation = ops.GET_VECTOR_STORE_FILE_CONTENT
        path = operation.path_for(vector_store_id=vector_store_id, file_id=file_id)
        return self._call(operation, path, options)

    # -- file batches -------------------------------------------------------------------------

    def create_vector_store_file_batch(
        self,
        vector_store_id: str,
        *,
        file_ids: Sequence[str] | Omit = OMIT,
        files: Sequence[JSONObject] | Omit = OMIT,
        attributes: Attributes | Omit | None = OMIT,
        chunking_strategy: JSONObject | Omit = OMIT,
        **options: Unpack[RequestOptions],
    ) -> VectorStoreFileBatch:
        """Add up to 2,000 files to a vector store at once
        (``POST /vector_stores/{vector_store_id}/file_batches``).

        Give ``file_ids`` (with ``attributes`` and ``chunking_strategy`` for all of them), or
        ``files``: ``[{"file_id": ..., "attributes": ..., "chunking_strategy": ...}]``, each
        with its own; not both. See :meth:`create_file_batch_and_poll` to wait for it.
        """
        request = self._file_batch_request(
            vector_store_id, file_ids, files, attributes, chunking_strategy, options
        )
        return self._send(request, VectorStoreFileBatch)

    def get_vector_store_file_batch(
        self, vector_store_id: str, batch_id: str, **options: Unpack[RequestOptions]
    ) -> VectorStoreFileBatch:
        """Get a file batch
        (``GET /vector_stores/{vector_store_id}/file_batches/{batch_id}``)."""
        operation = ops.GET_VECTOR_STORE_FILE_BATCH
        path = operation.path_for(vector_store_id=vector_store_id, batch_id=batch_id)
        return self._call(operation, path, options)

    def cancel_vector_store_file_batch(
        self, vector_store_id: str, batch_id: str, **options: Unpack[RequestOptions]
    ) -> VectorStoreFileBatch:
        """Cancel the processing of a file batch's files
        (``POST /vector_stores/{vector_store_id}/file_batches/{batch_id}/cancel``)."""
        operation = ops.CANCEL_VECTOR_STORE_FILE_BATCH
        path = operation.path_for(vector_store_id=vector_store_id, batch_id=batch_id)
        return self._call(operation, path, options)

    def list_vector_store_file_batch_files(
        self,
        vector_store_id: str,
        batch_id: str,
        *,
        filter: str | Omit = OMIT,
        limit: int | Omit = OMIT,
        order: str | Omit = OMIT,
        after: str | Omit = OMIT,
        before: str | Omit = OMIT,
        **options: Unpack[RequestOptions],
    ) -> SyncPage[VectorStoreFile]:
        """List a file batch's files
        (``GET /vector_stores/{vector_store_id}/file_batches/{batch_id}/files``), optionally
        of one status (``filter``), e.g. ``filter="failed"`` to see which files failed."""
        operation = ops.LIST_VECTOR_STORE_FILE_BATCH_FILES
        path = operation.path_for(vector_store_id=vector_store_id, batch_id=batch_id)
        query = self._list_query(
            limit=limit,
            order=order,
            after=after,
            before=before,
            filter=stores.check_status_filter(filter),
        )
        return self._list(operation, path, options, query)

    # -- ingestion, waited for ----------------------------------------------------------------

    def create_vector_store_file_and_poll(
        self,
        vector_store_id: str,
        file_id: str,
        *,
        attributes: Attributes | Omit | None = OMIT,
        chunking_strategy: JSONObject | Omit = OMIT,
        timeout: float = DEFAULT_INGEST_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> VectorStoreFile:
        """:meth:`create_vector_store_file`, then wait until the file is processed.

        Returns the vector store file once its status is no longer ``in_progress``:
        ``completed``, ``failed`` (see ``last_error``) or ``cancelled``. Polls every
        ``poll_interval`` seconds, or as the server asks (``openai-poll-after-ms``). When
        ``timeout`` seconds pass first (counted from the call), PollTimeoutError is raised
        with the file as last seen in ``last``.
        """
        request = self._vector_store_file_request(
            vector_store_id, file_id, attributes, chunking_strategy, {}
        )
        waiting = self._waiting(f"vector store file {file_id}", timeout, poll_interval)
        return self._run(
            self._processed_plan(request, VectorStoreFile, waiting, poll_interval, vector_store_id)
        )

    def wait_for_vector_store_file(
        self,
        vector_store_id: str,
        file_id: str,
        *,
        timeout: float = DEFAULT_INGEST_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> VectorStoreFile:
        """Poll a vector store file until it is processed; see
        :meth:`create_vector_store_file_and_poll`."""
        operation = ops.GET_VECTOR_STORE_FILE
        path = operation.path_for(vector_store_id=vector_store_id, file_id=file_id)
        waiting = self._waiting(f"vector store file {file_id}", timeout, poll_interval)
        return self._run(self._poll_plan(path, VectorStoreFile, waiting, poll_interval))

    def create_file_batch_and_poll(
        self,
        vector_store_id: str,
        *,
        file_ids: Sequence[str] | Omit = OMIT,
        files: Sequence[JSONObject] | Omit = OMIT,
        attributes: Attributes | Omit | None = OMIT,
        chunking_strategy: JSONObject | Omit = OMIT,
        timeout: float = DEFAULT_INGEST_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> VectorStoreFileBatch:
        """:meth:`create_vector_store_file_batch`, then wait until its files are processed.

        Returns the batch once its status is no longer ``in_progress`` (``completed``,
        ``failed`` or ``cancelled``); its ``file_counts`` say how many files failed, and
        ``list_vector_store_file_batch_files(..., filter="failed")`` which. Waits as
        :meth:`create_vector_store_file_and_poll` does: PollTimeoutError after ``timeout``
        seconds, with the batch as last seen.
        """
        request = self._file_batch_request(
            vector_store_id, file_ids, files, attributes, chunking_strategy, {}
        )
        waiting = self._waiting("file batch", timeout, poll_interval)
        return self._run(
            self._processed_plan(
                request, VectorStoreFileBatch, waiting, poll_interval, vector_store_id
            )
        )

    def wait_for_file_batch(
        self,
        vector_store_id: str,
        batch_id: str,
        *,
        timeout: float = DEFAULT_INGEST_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> VectorStoreFileBatch:
        """Poll a file batch until its files are processed; see
        :meth:`create_file_batch_and_poll`."""
        operation = ops.GET_VECTOR_STORE_FILE_BATCH
        path = operation.path_for(vector_store_id=vector_store_id, batch_id=batch_id)
        waiting = self._waiting(f"file batch {batch_id}", timeout, poll_interval)
        return self._run(self._poll_plan(path, VectorStoreFileBatch, waiting, poll_interval))

    def upload_files_and_poll(
        self,
        vector_store_id: str,
        files: Sequence[FileInput | FileUpload],
        *,
        attributes: Attributes | Omit | None = OMIT,
        chunking_strategy: JSONObject | Omit = OMIT,
        max_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY,
        timeout: float = DEFAULT_INGEST_TIMEOUT,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> VectorStoreFileBatch:
        """Upload files (purpose ``assistants``), add them to a vector store as one batch, and
        wait until they are processed.

        ``files`` are paths, bytes (as ``FileUpload.of(data, filename=...)``) or binary file
        objects, at most 2,000; every one is checked before anything is sent. They are
        uploaded ``max_concurrency`` at a time, each streamed (in the async client, as tasks
        on the event loop). If one upload fails, none is started after it, and the files
        already uploaded are deleted before the error is raised; so are they when the batch
        cannot be created. ``timeout`` bounds the whole call, uploads included:
        PollTimeoutError then carries the batch as last seen (None when the deadline came
        during the uploads). Returns the batch, as :meth:`create_file_batch_and_poll` does.
        """
        vector_store_id = validate_id(vector_store_id, "vector_store_id")
        waiting = self._waiting("file batch", timeout, poll_interval)
        concurrency = stores.check_concurrency(max_concurrency, self._transport.pool_maxsize)
        if isinstance(files, (str, bytes)) or not isinstance(files, Sequence) or not files:
            raise InvalidArgumentError("files must be a non-empty list of files", param="files")
        if len(files) > MAX_BATCH_FILES:
            raise InvalidArgumentError(
                f"files: at most {MAX_BATCH_FILES} files make one batch, got {len(files)}",
                param="files",
            )
        uploads = [FileUpload.of(f, param=f"files[{i}]") for i, f in enumerate(files)]
        # Checked now with placeholder ids, so that a bad setting costs no upload.
        self._file_batch_request(
            vector_store_id,
            ["file-unknown"] * len(uploads),
            OMIT,
            attributes,
            chunking_strategy,
            {},
        )
        return self._run(
            self._upload_batch_plan(
                vector_store_id,
                uploads,
                attributes,
                chunking_strategy,
                concurrency,
                waiting,
                poll_interval,
            )
        )

    # -- waiting plumbing ---------------------------------------------------------------------

    def _waiting(self, what: str, timeout: float, poll_interval: float) -> Waiting[Any]:
        """A wait for a vector store file or a file batch (checked: before any I/O)."""
        deadline = check_wait(self._transport, timeout, poll_interval)
        return Waiting(what, stores.ingestion_status, timeout, deadline)

    def _poll_plan(
        self,
        path: str,
        cls: type[M],
        waiting: Waiting[Any],
        poll_interval: float,
        first: tuple[M, TransportResponse] | None = None,
    ) -> Plan[M]:
        return poll_plan(
            self._transport,
            path,
            parse=model_parser(self._transport, cls),
            is_done=stores.ingested,
            waiting=waiting,
            poll_interval=poll_interval,
            first=first,
        )

    def _within_plan(self, request: _Request, waiting: Waiting[Any]) -> Plan[TransportResponse]:
        """``request`` sent within the wait's deadline (PollTimeoutError at it)."""
        timed = request._replace(options=within(self._transport, waiting))
        return until_deadline(self._transport, waiting, self._answer_plan(timed))

    def _processed_plan(
        self,
        request: _Request,
        cls: type[M],
        waiting: Waiting[Any],
        poll_interval: float,
        vector_store_id: str,
    ) -> Plan[M]:
        """Create a vector store file or a file batch, then poll it until it is processed."""
        response = yield from self._within_plan(request, waiting)
        created = model_parser(self._transport, cls)(response)
        if isinstance(created, VectorStoreFileBatch):
            waiting = attrs.evolve(waiting, what=f"file batch {created.id}")
            path = ops.GET_VECTOR_STORE_FILE_BATCH.path_for(
                vector_store_id=vector_store_id, batch_id=created.id
            )
        else:
            path = ops.GET_VECTOR_STORE_FILE.path_for(
                vector_store_id=vector_store_id, file_id=getattr(created, "id", "")
            )
        return (yield from self._poll_plan(path, cls, waiting, poll_interval, (created, response)))

    def _upload_batch_plan(
        self,
        vector_store_id: str,
        uploads: list[FileUpload],
        attributes: Any,
        chunking_strategy: Any,
        concurrency: int,
        waiting: Waiting[Any],
        poll_interval: float,
    ) -> Plan[VectorStoreFileBatch]:
        parse = model_parser(self._transport, FileObject)

        def upload(item: FileUpload) -> Plan[FileObject]:
            body = {"file": item, "purpose": "assistants"}
            request = self._request(ops.UPLOAD_FILE, ops.UPLOAD_FILE.path, {}, body=body)
            return parse((yield from self._within_plan(request, waiting)))

        outcomes: list[Outcome] = yield Gather([upload(item) for item in uploads], concurrency)
        uploaded: list[FileObject] = [outcome.value for outcome in outcomes if outcome.ok]
        failure = next((outcome.error for outcome in outcomes if outcome.error), None)
        if failure is not None:
            yield from self._delete_quietly(uploaded)
            raise failure
        request = self._file_batch_request(
            vector_store_id, [f.id for f in uploaded], OMIT, attributes, chunking_strategy, {}
        )
        try:
            return (
                yield from self._processed_plan(
                    request, VectorStoreFileBatch, waiting, poll_interval, vector_store_id
                )
            )
        except PollTimeoutError as timed_out:
            if timed_out.last is None:  # the batch was not made: its files go
                yield from self._delete_quietly(uploaded)
            raise  # else its files are in the store, being processed: they stay
        except Exception:
            yield from self._delete_quietly(uploaded)
            raise

    def _delete_quietly(self, uploaded: Sequence[FileObject]) -> Plan[None]:
        """Delete the files of a call that failed; a failure to delete is logged, not raised
        over the call's own error."""
        for item in uploaded:
            path = ops.DELETE_FILE.path_for(file_id=item.id)
            options = {"timeout": CLEANUP_TIMEOUT, "max_retries": 0}
            try:
                yield from self._send_plan(
                    self._request(ops.DELETE_FILE, path, options), FileDeleted
                )
            except Exception as exc:
                logger.warning("could not delete %s after a failed upload: %s", item.id, exc)

    def _vector_store_file_request(
        self,
        vector_store_id: str,
        file_id: str,
        attributes: Any,
        chunking_strategy: Any,
        options: Mapping[str, Any],
    ) -> _Request:
        operation = ops.CREATE_VECTOR_STORE_FILE
        path = operation.path_for(vector_store_id=vector_store_id)
        validate_id(file_id, "file_id")
        if not isinstance(chunking_strategy, Omit):
            stores.check_chunking_strategy(chunking_strategy)
        body = build_body(
            file_id=file_id, attributes=attributes, chunking_strategy=chunking_strategy
        )
        return self._request(operation, path, options, body=body)

    def _file_batch_request(
        self,
        vector_store_id: str,
        file_ids: Any,
        files: Any,
        attributes: Any,
        chunking_strategy: Any,
        options: Mapping[str, Any],
    ) -> _Request:
        operation = ops.CREATE_VECTOR_STORE_FILE_BATCH
        path = operation.path_for(vector_store_id=vector_store_id)
        stores.check_batch(file_ids, files, attributes, chunking_strategy)
        body = build_body(
            file_ids=_ids(file_ids, "file_ids"),
            files=files,
            attributes=attributes,
            chunking_strategy=chunking_strategy,
        )
        return self._request(operation, path, options, body=body)


def _ids(value: Any, param: str) -> Any:
    """A list of ids, each checked (an empty or path-altering id is a mistake)."""
    if isinstance(value, Omit):
        return value
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise InvalidArgumentError(f"{param} must be a list of ids", param=param)
    for item in value:
        validate_id(item, param)
    return list(value)


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
