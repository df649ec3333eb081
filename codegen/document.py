"""Emit the trimmed spec as a Python module, so the package can read it without PyYAML.

The emulator validates request bodies and the tests validate responses against this document.
"""

from __future__ import annotations

import json
from typing import Any


class DocumentError(Exception):
    """The spec cannot be embedded safely."""


def render_document_module(document: dict[str, Any], header: str) -> str:
    text = json.dumps(document, indent=1, sort_keys=False, ensure_ascii=True)
    if '"""' in text:
        raise DocumentError("the spec contains a triple quote and cannot be embedded")
    return (
        f"{header}"
        '"""The trimmed OpenAPI document (openapi/assistants.yaml) as data."""\n\n'
        "import functools\n"
        "import json\n"
        "from typing import Any\n\n"
        '__all__ = ["load_document"]\n\n'
        f'_DOCUMENT_JSON = r"""{text}"""\n\n\n'
        "@functools.cache\n"
        "def load_document() -> dict[str, Any]:\n"
        '    """The parsed document; parsed once, on first use. Callers must not mutate it."""\n'
        "    document: dict[str, Any] = json.loads(_DOCUMENT_JSON)\n"
        "    return document\n"
    )
