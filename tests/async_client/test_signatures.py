"""AsyncAssistantsClient has every public member of AssistantsClient, with the same signature.

Same parameters (names, kinds, defaults, annotations, as written and as evaluated), the same
docstring (the async one may add a paragraph), and the return type awaited: ``T`` becomes a
coroutine function returning ``T``, ``SyncPage[X]`` one returning ``AsyncPage[X]``, and
``AssistantStream`` a plain method returning ``AsyncAssistantStream``.
"""

from __future__ import annotations

import inspect
import typing
from typing import Any

import pytest
import typing_extensions

from assistants_client import (
    AssistantsClient,
    AssistantStream,
    AsyncAssistantsClient,
    AsyncAssistantStream,
    AsyncPage,
    SyncPage,
)

HAND_WRITTEN = {"close", "__enter__", "__exit__"}
PUBLIC = sorted(
    name
    for name in vars(AssistantsClient)
    if (not name.startswith("_") or name == "__init__") and name not in HAND_WRITTEN
)
# Names that _client.py imports only under TYPE_CHECKING, for evaluating annotations.
TYPING_NAMES = {"Self": typing_extensions.Self, "Unpack": typing_extensions.Unpack}


def hints(function: Any) -> dict[str, Any]:
    return typing.get_type_hints(function, localns=TYPING_NAMES)


def test_there_are_members_to_compare() -> None:
    assert {"__init__", "for_azure", "base_url", "get_thread", "run_with_tools"} <= set(PUBLIC)
    assert len(PUBLIC) > 35


@pytest.mark.parametrize("name", PUBLIC)
def test_the_async_member_has_the_sync_members_signature_and_docstring(name: str) -> None:
    sync = inspect.getattr_static(AssistantsClient, name)
    mirror = inspect.getattr_static(AsyncAssistantsClient, name)
    assert type(mirror) is type(sync), name  # function, property, classmethod alike
    if isinstance(sync, property):
        assert isinstance(mirror, property)
        sync, mirror = sync.fget, mirror.fget
    elif isinstance(sync, classmethod):
        sync, mirror = sync.__func__, mirror.__func__
    sync_signature, async_signature = inspect.signature(sync), inspect.signature(mirror)
    assert list(async_signature.parameters.values()) == list(sync_signature.parameters.values())
    sync_hints, async_hints = hints(sync), hints(mirror)
    sync_return, async_return = sync_hints.pop("return", None), async_hints.pop("return", None)
    assert async_hints == sync_hints
    if name != "__init__":
        sync_doc, async_doc = inspect.getdoc(sync) or "", inspect.getdoc(mirror) or ""
        assert async_doc.startswith(sync_doc)
    if name == "__init__" or isinstance(inspect.getattr_static(AssistantsClient, name), property):
        assert async_return == sync_return
        assert not inspect.iscoroutinefunction(mirror)
        return
    if isinstance(inspect.getattr_static(AssistantsClient, name), classmethod):
        assert async_return == sync_return == typing_extensions.Self
        return
    assert_awaited_form(sync_return, async_return, mirror)


def assert_awaited_form(sync_return: Any, async_return: Any, mirror: Any) -> None:
    if sync_return is AssistantStream:
        assert async_return is AsyncAssistantStream
        assert not inspect.iscoroutinefunction(mirror)
    elif typing.get_origin(sync_return) is SyncPage:
        assert typing.get_origin(async_return) is AsyncPage
        assert typing.get_args(async_return) == typing.get_args(sync_return)
        assert inspect.iscoroutinefunction(mirror)
    else:
        assert async_return == sync_return
        assert inspect.iscoroutinefunction(mirror)


def test_the_async_client_has_no_public_member_the_sync_client_lacks() -> None:
    extra = {
        name
        for name in vars(AsyncAssistantsClient)
        if not name.startswith("_") and name not in vars(AssistantsClient)
    }
    assert extra == set()


def test_the_constructors_give_an_async_client_of_the_same_configuration() -> None:
    plain = AsyncAssistantsClient("sk-x", base_url="http://127.0.0.1:9/v1", max_retries=5)
    azure = AsyncAssistantsClient.for_azure(
        "https://res.openai.azure.com", api_key="k", api_version="2024-05-01-preview"
    )
    foundry = AsyncAssistantsClient.for_foundry(
        "https://res.services.ai.azure.com/api/projects/p", azure_ad_token="token"
    )
    assert isinstance(azure, AsyncAssistantsClient) and isinstance(foundry, AsyncAssistantsClient)
    assert (plain.base_url, plain.max_retries) == ("http://127.0.0.1:9/v1", 5)
    assert azure.base_url == "https://res.openai.azure.com/openai"
    assert foundry.base_url == "https://res.services.ai.azure.com/api/projects/p"
    assert "api_version='2024-05-01-preview'" in repr(azure)
    assert "sk-x" not in repr(plain)
