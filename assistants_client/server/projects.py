"""Projects: which client key belongs to which project.

A project is a namespace of objects: what a key of one project creates, a key of another does
not see (the store scopes every object and idempotency key by project; see ``store.py``). The
operator maps keys to projects where the keys are configured, one entry per key:

* ``PROJECT:KEY``: ``KEY`` belongs to ``PROJECT``; several keys of one project (for rotation)
  are several entries;
* ``KEY`` alone, or ``:KEY``: the key belongs to the shared namespace (the project ``""``),
  which is what every key was before projects: keys without a project see each other's objects,
  and no project's.

The first ``:`` of an entry ends the project's name, so a key that contains ``:`` itself is
written with its project in front: ``team-a:key:with:colons``, or ``:key:with:colons`` for the
shared namespace. (Real keys, ``sk-...`` or ``sk-proj-...``, have none.)

A project's name is 1 to 64 letters, digits, ``.``, ``_`` and ``-``, starting with a letter or a
digit. A key that no request could carry is refused, as is an entry that is not a key:
empty, with spaces at either end (``team-a: sk-a1``: the server strips them from what a client
sends), with control characters, or with characters outside Latin-1 (HTTP headers carry
bytes, which servers read as Latin-1). So is one key given to two projects. Errors name the
entry by its position, never its text: a key is a secret.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "PROJECT_NAME",
    "SHARED",
    "KeysError",
    "check_key",
    "check_project",
    "keys_by_project",
    "keys_from_file",
    "keys_from_list",
]

SHARED = ""  # the shared namespace: keys configured without a project
PROJECT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = (
    "1 to 64 letters, digits, '.', '_' and '-', starting with a letter or a digit; a key that "
    "contains ':' is written after its project, e.g. ':KEY' for the shared namespace"
)


class KeysError(ValueError):
    """Client keys the server refuses to start with; the message says which entry and why."""


def check_project(name: str) -> str:
    """``name`` if it is a project's name (see the module docstring), else ValueError."""
    if not PROJECT_NAME.fullmatch(name):
        raise ValueError(f"a project name is {NAME_RULE}")
    return name


def check_key(key: str) -> str:
    """``key`` if a request can carry it, else ValueError saying why (without the key)."""
    if not key:
        raise ValueError("the key is empty")
    if key != key.strip():
        raise ValueError("the key has spaces at an end, which no request can carry")
    if any(unicodedata.category(char) == "Cc" for char in key):
        raise ValueError("the key has control characters")
    try:
        key.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(
            "the key has characters outside Latin-1, which an HTTP header cannot carry"
        ) from None
    return key


def _entry(text: str) -> tuple[str, str]:
    """The project and the key of one entry (see the module docstring)."""
    project, colon, key = text.partition(":")
    if not colon:
        return SHARED, check_key(text)
    if project:
        check_project(project)
    return project, check_key(key)


def keys_by_project(entries: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Each key with its project, from ``(where, entry)`` pairs: ``where`` names the entry in
    an error (``ASSISTANTS_SERVER_API_KEYS entry 2``). Raises :class:`KeysError`."""
    found: dict[str, str] = {}
    first: dict[str, str] = {}
    for where, text in entries:
        try:
            project, key = _entry(text)
        except ValueError as problem:
            raise KeysError(f"{where}: {problem}") from None
        if key in found and found[key] != project:
            projects = ", ".join(repr(name) for name in (found[key], project))
            raise KeysError(
                f"{where}: the same key as {first[key]} is given to two projects ({projects})"
            )
        found.setdefault(key, project)
        first.setdefault(key, where)
    return found


def keys_from_list(value: str, name: str) -> list[tuple[str, str]]:
    """The entries of a comma-separated list (``name``: the variable it came from), each with
    where it is. Spaces around an entry are the list's, not the key's; a blank list has none,
    and an empty entry in another is an error (a stray comma may have cut a key)."""
    if not value.strip():
        return []
    found = []
    for number, text in enumerate(value.split(","), 1):
        where = f"{name} entry {number}"
        if not text.strip():
            raise KeysError(f"{where}: the entry is empty")
        found.append((where, text.strip()))
    return found


def keys_from_file(path: str) -> list[tuple[str, str]]:
    """The entries of a keys file: one a line; blank lines and lines starting with ``#`` are
    left out. The file must be readable by its owner only (``chmod 600``), as it holds
    secrets."""
    try:
        with open(path, encoding="utf-8") as file:
            mode = os.fstat(file.fileno()).st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeysError(
                    f"the keys file {path} can be read or written by other users (mode "
                    f"{stat.S_IMODE(mode):o}): make it its owner's only, e.g. chmod 600 {path}"
                )
            lines = file.read().splitlines()
    except UnicodeDecodeError:
        raise KeysError(f"the keys file {path} is not UTF-8 text") from None
    except OSError as problem:
        raise KeysError(f"cannot read the keys file {path}: {problem.strerror}") from None
    found = [
        (f"{Path(path).name} line {number}", line.strip())
        for number, line in enumerate(lines, 1)
        if line.strip() and not line.strip().startswith("#")
    ]
    if not found:
        raise KeysError(f"the keys file {path} holds no keys")
    return found
