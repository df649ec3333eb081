"""The pages of docs/ run as written, are all in the site's navigation, and `make docs` builds them.

Each page's ```python blocks run in order in a namespace of their own, against an emulator
(tests/docs/blocks.py), except a block right after ``<!-- not run: reason -->``. A block that
defines pytest tests (the pytest plugin example of docs/emulator.md) is written to a file and
run by pytest, as a user's own test suite would run it. Python never hides in a block of another
language. The build is `make docs`: mkdocs in strict mode, where any warning (a broken link, a
docstring that does not render) fails, and no Sphinx role may be left raw in the HTML.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import assistants_client
from assistants_client import _exceptions
from assistants_client.emulator import Emulator
from tests.docs.blocks import (
    ROOT,
    Block,
    fenced_blocks,
    overwritten_calls,
    python_blocks,
    run_blocks,
)

DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
TIMEOUT = 120
# Other names of Python for a fence: a block under one of them would not be run.
PYTHON_ALIASES = {"py", "python3", "py3", "pycon", "pyi", "ipython", "ipython3", "python-repl"}
RAW_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|exc|mod|obj|const|param|raises):")


def blocks_of(path: Path) -> list[Block]:
    return python_blocks(path.read_text(encoding="utf-8"))


def is_pytest_example(block: Block) -> bool:
    return "def test_" in block.code


PYTEST_EXAMPLES = [
    pytest.param(block, id=f"{path.name}:{block.line}")
    for path in PAGES
    for block in blocks_of(path)
    if block.skip_reason is None and is_pytest_example(block)
]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


def nav_pages(entries: list[object]) -> set[str]:
    found: set[str] = set()
    for entry in entries:
        if isinstance(entry, str):
            found.add(entry)
        elif isinstance(entry, dict):
            for value in entry.values():
                found |= nav_pages(value) if isinstance(value, list) else {str(value)}
    return found


def mkdocs_config() -> dict[str, object]:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def test_every_page_of_docs_is_in_the_sites_navigation() -> None:
    nav = mkdocs_config()["nav"]
    assert isinstance(nav, list)
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages - nav_pages(nav) == set()
    assert {p for p in nav_pages(nav) if not (DOCS / p).exists()} == set()


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_python_hides_in_no_block_of_another_language(page: Path) -> None:
    languages = {block.language for block in fenced_blocks(page.read_text(encoding="utf-8"))}
    assert languages & PYTHON_ALIASES == set()


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_no_block_of_a_page_shows_two_alternative_calls_as_consecutive_statements(
    page: Path,
) -> None:
    problems = [
        f"{page.name}:{block.line}: {statement}"
        for block in blocks_of(page)
        for statement in overwritten_calls(block.code)
    ]
    assert problems == []


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_a_pages_python_blocks_run_in_order_and_import_what_they_use(
    page: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", emulator.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-docs")
    blocks = [block for block in blocks_of(page) if not is_pytest_example(block)]

    reading = run_blocks(page.name, blocks)

    assert reading.problems == []
    assert reading.ran == sum(block.skip_reason is None for block in blocks)


@pytest.mark.parametrize("block", PYTEST_EXAMPLES)
def test_the_pytest_plugin_example_passes_as_a_users_test_suite(
    block: Block, tmp_path: Path
) -> None:
    (tmp_path / "test_example.py").write_text(block.code, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_example.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    tests = len(re.findall(r"^def test_", block.code, flags=re.MULTILINE))
    assert f"{tests} passed" in result.stdout, result.stdout


def test_the_emulator_guide_has_a_pytest_plugin_example() -> None:
    assert len(PYTEST_EXAMPLES) == 1
    assert "assistants_emulator" in PYTEST_EXAMPLES[0].values[0].code


def make_docs_command() -> list[str]:
    """The command of `make docs`, as the Makefile says it (its one recipe line)."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^docs:.*\n\t(?P<command>.+)$", makefile, flags=re.MULTILINE)
    assert recipe is not None, "the Makefile has no `docs` target"
    command = recipe["command"].split()
    assert command[:1] == ["$(PY)"] and "--strict" in command, command
    return [sys.executable, *command[1:]]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    built = tmp_path_factory.mktemp("docs") / "site"
    result = subprocess.run(
        [*make_docs_command(), "--site-dir", str(built)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output
    return built


def test_make_docs_builds_every_page_and_the_reference(site: Path) -> None:
    for page in PAGES:
        name = "index.html" if page.stem == "index" else f"{page.stem}/index.html"
        assert (site / name).exists(), name
    models = (site / "reference" / "models" / "index.html").read_text(encoding="utf-8")
    assert "MessageContentBase" in models and "UnknownMessageContent" in models
    client = (site / "reference" / "client" / "index.html").read_text(encoding="utf-8")
    assert "run_with_tools" in client
    assert not (site / "sphinx_roles.py").exists()
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "stream_run" in home and "retired on 2026-08-26" in home


def test_the_reference_shows_no_raw_sphinx_role_and_links_the_objects_they_name(
    site: Path,
) -> None:
    raw: list[str] = []
    for page in site.rglob("*.html"):
        text = re.sub(r"<code>.*?</code>", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
        raw += [f"{page.relative_to(site)}: {m[0]}" for m in RAW_ROLE.finditer(text)]
    assert raw == []
    client = (site / "reference" / "client" / "index.html").read_text(encoding="utf-8")
    # AssistantsClient's docstring names :meth:`for_azure`: a link to its entry on the page.
    assert re.search(
        r'<a class="autorefs autorefs-internal"[^>]*'
        r'href="#assistants_client\.AssistantsClient\.for_azure"><code>for_azure</code></a>',
        client,
    )


@pytest.mark.parametrize(
    ("where", "text"),
    [
        ("docs/retries.md", (DOCS / "retries.md").read_text(encoding="utf-8")),
        ("_exceptions.py", _exceptions.__doc__ or ""),
    ],
)
def test_the_error_tree_names_every_error_class_and_only_those(where: str, text: str) -> None:
    tree = text.split("AssistantsError\n", 1)[1].split("\n\n", 1)[0]
    named = set(re.findall(r"\b([A-Z]\w*Error)\b", tree)) - {"ValueError"}
    public = {
        name
        for name in dir(assistants_client)
        if isinstance(cls := getattr(assistants_client, name), type)
        and issubclass(cls, assistants_client.AssistantsError)
    } - {"AssistantsError"}
    assert named == public, where
