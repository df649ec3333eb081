"""A griffe extension for `make docs`: the Sphinx roles of the docstrings become links.

The docstrings use Sphinx's markup (``:param x:`` fields, which mkdocstrings reads with
``docstring_style: sphinx``, and roles such as :meth:`stream_run` that name another object).
mkdocstrings knows the fields but not the roles, which it would print as they are. Once the
package is loaded, this extension replaces each role with a cross-reference that mkdocs-autorefs
resolves: the name is looked up from where the docstring is (a method's siblings, its module's
names, imports followed), and the reference is marked optional, so that an object without an
entry in the API reference is shown as code rather than failing the strict build.
``:meth:`~x.y``` shows ``y``; ``!`` and a leading ``.`` are dropped, as Sphinx drops them.

mkdocs.yml loads it (``extensions: [docs/sphinx_roles.py:SphinxRoles]``); the site leaves it
out (``exclude_docs``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|exc|mod|obj|const):`(?P<target>[^`]+)`")


def resolve(scope: griffe.Object, name: str) -> str | None:
    """The full path of ``name`` as seen from ``scope``, or None."""
    first, _, rest = name.partition(".")
    if first == scope.package.name:
        return name
    try:
        found = scope.resolve(first)
    except griffe.NameResolutionError:
        return None
    return f"{found}.{rest}" if rest else found


def link(scope: griffe.Object, target: str) -> str:
    target = target.lstrip("!")
    short = target.startswith("~")
    name = target.lstrip("~.")
    shown = html.escape(name.rsplit(".", 1)[-1] if short else name)
    path = resolve(scope, name)
    if path is None:
        return f"<code>{shown}</code>"
    return f'<autoref identifier="{html.escape(path)}" optional><code>{shown}</code></autoref>'


def links(scope: griffe.Object, text: str) -> str:
    """``text`` with each role replaced by its link."""
    return ROLE.sub(lambda match: link(scope, match["target"]), text)


def documented(obj: griffe.Object) -> Iterator[griffe.Object]:
    """``obj`` and every object defined under it (aliases, which are imports, left out)."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from documented(member)  # type: ignore[arg-type]


class SphinxRoles(griffe.Extension):
    """Rewrites the roles of every docstring of a loaded package into autorefs."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        for obj in documented(pkg):
            docstring = obj.docstring
            if docstring is not None and ":" in docstring.value:
                docstring.value = links(obj, docstring.value)
