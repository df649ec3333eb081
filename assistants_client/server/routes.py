"""Routing: a request's method, path, query string and body into one call of the engine.

Part of the HTTP layer (``http.py``). One :class:`Route` per operation of the generated table
(``models/operations.py``), served by the engine's method of the operation's name; an operation
without one (new in the spec) is answered 501, naming it.

Paths are matched as they were sent. The request-target's path (``RAW_URI`` or ``REQUEST_URI``,
which gunicorn and the server of ``httpd.py`` set; else ``PATH_INFO`` quoted again, where an
encoded ``/`` can no longer be told from a plain one) is split on ``/``, and each segment is
decoded once: ``thread_x%2Fmessages`` is one id (no thread has it), never a path with one more
segment, and ``%25`` is a ``%`` in the id, never the start of another escape.

What the engine gets is typed: the path's ids as strings, a
:class:`~assistants_client.server.resources.ListQuery` (``limit`` an integer from 1 to 100,
``order`` ``asc`` or ``desc``, the cursors) for a list, other query parameters as strings (or,
for an array such as ``include[]``, lists) where its method takes them, the body checked
against the spec's schema of the operation (:class:`BodyCheck`), and the caller's ``project``
(the one its key stands for). A method gets only the arguments it takes.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from assistants_client._operation import Operation
from assistants_client.models.operations import OPERATIONS
from assistants_client.server.errors import ApiError
from assistants_client.server.objects import OPENAI_TOOL_RESOURCES
from assistants_client.server.resources import ListQuery
from assistants_client.server.validation import RequestSchemas, ValidationFailure, request_schemas

__all__ = ["BodyCheck", "Route", "Router", "path_segments"]

PAGE_PARAMS = frozenset({"limit", "order", "after", "before"})
# Lists whose pages are larger than the usual 1..100 (operationId -> most, default).
_PAGE_LIMITS: dict[str, tuple[int, int]] = {"listFiles": (10_000, 10_000)}
# What a path segment keeps unescaped when PATH_INFO is quoted again (RFC 3986's pchar).
_PCHAR = "!$&'()*+,;=:@-._~"

# Where request bodies carry tools and tool resources (operationId -> JSON paths).
_TOOL_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "createAssistant": (("tools",),),
    "modifyAssistant": (("tools",),),
    "createRun": (("tools",),),
    "createThreadAndRun": (("tools",),),
}
_RESOURCE_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "createAssistant": (("tool_resources",),),
    "modifyAssistant": (("tool_resources",),),
    "createThread": (("tool_resources",),),
    "modifyThread": (("tool_resources",),),
    "createThreadAndRun": (("tool_resources",), ("thread", "tool_resources")),
}


def path_segments(environ: Mapping[str, Any]) -> list[str]:
    """The segments of the request's path below ``SCRIPT_NAME``, each decoded once (see the
    module docstring). ``/a/b/`` is ``["a", "b", ""]``; ``/`` is ``[""]``."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        target = str(raw)
        if not target.startswith("/"):  # absolute-form: scheme://authority/path
            target = urlsplit(target).path or "/"
        path = target.split("?", 1)[0].split("#", 1)[0]
        script = environ.get("SCRIPT_NAME") or ""
        if script:
            quoted = quote(script.encode("latin-1"), safe="/" + _PCHAR)
            if path.startswith(quoted):
                path = path[len(quoted) :]
            elif path.startswith(script):
                path = path[len(script) :]
    else:
        info = str(environ.get("PATH_INFO") or "/")
        path = quote(info.encode("latin-1"), safe="/" + _PCHAR)
    return [unquote(segment, errors="replace") for segment in path.lstrip("/").split("/")]


def _one(query: Mapping[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values and values[-1] != "" else None


def list_query(query: Mapping[str, list[str]], most: int = 100, default: int = 20) -> ListQuery:
    """A list's page from its query parameters (400 naming the one that is wrong): ``limit``
    from 1 to ``most`` (``default`` when not given)."""
    raw_limit = _one(query, "limit")
    limit = default
    if raw_limit is not None:
        try:
            limit = int(raw_limit)
        except ValueError:
            raise ApiError(
                400, f"limit: expected an integer, got {raw_limit!r}", param="limit"
            ) from None
        if not 1 <= limit <= most:
            raise ApiError(400, f"limit: must be between 1 and {most}", param="limit")
    order = _one(query, "order") or "desc"
    if order not in ("asc", "desc"):
        raise ApiError(400, f"order: {order!r} is not one of ['asc', 'desc']", param="order")
    return ListQuery(
        limit=limit,
        order="asc" if order == "asc" else "desc",
        after=_one(query, "after"),
        before=_one(query, "before"),
    )


def _at(body: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


class BodyCheck:
    """Request bodies checked against the spec's schemas (400 naming the offending field).

    ``extra_tool_types`` are tool types accepted beyond the spec's (a vendor's own, such as
    Foundry's): tool resources are checked here against the tool types known, extra tool types
    stand in as a code interpreter for the schema (at the same position, so that an error
    elsewhere still names the right index), and their resources are left out of the check. The
    body itself is kept as given.
    """

    def __init__(self, extra_tool_types: frozenset[str] = frozenset()) -> None:
        self.extra_tool_types = extra_tool_types
        self.schemas: RequestSchemas = request_schemas()

    def __call__(self, operation_id: str, body: Any) -> Any:
        """The body to call the operation with; ``{}`` when it has none."""
        if operation_id not in self.schemas.body_checks:
            return {} if body is None else body
        if body is None:
            if self.schemas.body_required.get(operation_id):
                raise ApiError(400, "body: a JSON request body is required", param="body")
            body = {}
        try:
            self.schemas.validate_body(operation_id, self._as_openai_body(operation_id, body))
        except ValidationFailure as failure:
            raise ApiError(400, str(failure), param=failure.path) from None
        return body

    def _as_openai_body(self, operation_id: str, body: Any) -> Any:
        known = OPENAI_TOOL_RESOURCES | self.extra_tool_types
        for path in _RESOURCE_PATHS.get(operation_id, ()):
            resources = _at(body, path)
            if isinstance(resources, dict):
                for key in resources:
                    if key not in known:
                        where = ".".join(("body", *path, key))
                        raise ApiError(
                            400,
                            f"{where}: unknown tool resource {key!r}",
                            param=where,
                            code="unknown_parameter",
                        )
        if not self.extra_tool_types or not isinstance(body, dict):
            return body
        checked = copy.copy(body)
        for path in _TOOL_PATHS.get(operation_id, ()):
            tools = _at(checked, path)
            if isinstance(tools, list):
                checked[path[0]] = [
                    {"type": "code_interpreter"}
                    if isinstance(tool, dict) and tool.get("type") in self.extra_tool_types
                    else tool
                    for tool in tools
                ]
        for path in _RESOURCE_PATHS.get(operation_id, ()):
            resources = _at(checked, path)
            if isinstance(resources, dict):
                trimmed = {k: v for k, v in resources.items() if k in OPENAI_TOOL_RESOURCES}
                if len(path) == 1:
                    checked[path[0]] = trimmed
                elif isinstance(checked.get(path[0]), dict):
                    checked[path[0]] = {**checked[path[0]], path[1]: trimmed}
        return checked


@dataclass(frozen=True)
class Route:
    """One operation: its path's segments (``{name}`` for an id), and the engine's method
    that serves it, with the names of the arguments it takes (None: not served, 501)."""

    operation: Operation[Any]
    segments: tuple[str, ...]
    handler: Callable[..., Any] | None
    takes: frozenset[str]

    @property
    def operation_id(self) -> str:
        return self.operation.id

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        """The path's ids when ``segments`` are this route's path, else None."""
        if segments and segments[-1] == "" and len(segments) == len(self.segments) + 1:
            segments = segments[:-1]  # one trailing slash is the same path
        if len(segments) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for mine, theirs in zip(self.segments, segments, strict=True):
            if mine[:1] == "{":
                if not theirs:
                    return None
                params[mine[1:-1]] = theirs
            elif mine != theirs:
                return None
        return params

    def call(
        self,
        params: Mapping[str, str],
        query: Mapping[str, list[str]],
        body: Any,
        check: BodyCheck,
        *,
        project: str,
    ) -> Any:
        """The operation's answer for a caller of ``project`` (raises ApiError: 501 when it is
        not served)."""
        if self.handler is None:
            raise ApiError(
                501, f"The server does not implement {self.operation.id}.", code="not_implemented"
            )
        body = check(self.operation.id, body)
        arguments: dict[str, Any] = dict(params)
        takes = self.takes
        if "page" in takes and PAGE_PARAMS & set(self.operation.query_params):
            arguments["page"] = list_query(query, *_PAGE_LIMITS.get(self.operation.id, (100, 20)))
        for name in self.operation.query_params:
            if name in PAGE_PARAMS:
                continue
            if name.endswith("[]"):
                if name[:-2] in takes:
                    arguments[name[:-2]] = [value for value in query.get(name, []) if value]
            elif name in takes:
                arguments[name] = _one(query, name)
        if "body" in takes:
            arguments["body"] = body
        if "project" in takes:
            arguments["project"] = project
        return self.handler(**arguments)


class Router:
    """The routes of the operations table over ``engine`` (an object with a method per
    operation it serves)."""

    def __init__(self, engine: object) -> None:
        routes = []
        for operation in OPERATIONS:
            handler = getattr(engine, operation.name, None)
            takes = frozenset(inspect.signature(handler).parameters) if handler else frozenset()
            segments = tuple(operation.path.lstrip("/").split("/"))
            routes.append(Route(operation, segments, handler, takes))
        self.routes: tuple[Route, ...] = tuple(routes)

    def match(self, method: str, segments: Sequence[str]) -> tuple[Route, dict[str, str]]:
        """The route for ``method`` and the path's ``segments`` (below the API's prefix), and
        the path's ids; ApiError 404 or 405 (with ``Allow``) otherwise."""
        allowed: list[str] = []
        for route in self.routes:
            params = route.match(segments)
            if params is None:
                continue
            if route.operation.method == method:
                return route, params
            allowed.append(route.operation.method)
        path = "/" + "/".join(segments)
        if allowed:
            raise ApiError(
                405,
                f"Method {method} is not allowed for {path}; allowed: {', '.join(allowed)}.",
                code="method_not_allowed",
                headers={"Allow": ", ".join(sorted(set(allowed)))},
            )
        raise ApiError(404, f"Unknown request URL: {method} {path}.", code="unknown_url")
