"""Every `pip install` line of the README and of docs/ works as written, in a fresh virtualenv.

The package is not on a package index, so each line installs from a checkout (`pip install .`,
`pip install -e .`, extras as `'.[name]'`) or from the repository's git URL, which the pages
write as one placeholder; here it becomes a `git+file` URL of a fresh checkout. The lines that
install the package alone are run for real; a line with extras is resolved by pip
(`--dry-run`), which must find every package the extra names. An editable install must be seen
by mypy and pyright from a project outside the checkout. Everything is installed offline, from
the package mirror pip is configured with.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import venv
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.docs.blocks import ROOT, fenced_blocks
from tests.docs.checkout import TIMEOUT, fresh_checkout, user_environment

if sys.version_info >= (3, 11):
    import tomllib
else:  # the dev extra installs tomli there
    import tomli as tomllib

GIT_URL = "https://git.example.com/assistants-client.git"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PYRIGHT = ROOT / "node_modules" / ".bin" / "pyright"
EXTRAS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
    "optional-dependencies"
]

# The forms a line may take: (name, pattern of its arguments after `pip install`).
CHECKOUT = re.compile(r"(?P<editable>-e )?(?P<quote>'?)\.(?:\[(?P<extras>[a-z,]+)\])?(?P=quote)")
GIT = re.compile(
    r'"assistants-client(?:\[(?P<extras>[a-z,]+)\])? @ git\+' + re.escape(GIT_URL) + r'(?:@\S+)?"'
)

USER_CODE = """\
from assistants_client import AssistantsClient
from assistants_client.models import RunResponse

def status(client: AssistantsClient, thread_id: str, run_id: str) -> str:
    run: RunResponse = client.get_run(thread_id, run_id)
    return run.status
"""


def install_lines() -> list[tuple[str, str]]:
    """(where, the arguments after `pip install`) for every such line of a shell block."""
    found = []
    for page in PAGES:
        for block in fenced_blocks(page.read_text(encoding="utf-8")):
            if block.language != "sh":
                continue
            for number, line in enumerate(block.code.splitlines(), start=block.line):
                command = line.split("  #")[0].strip()
                if command.startswith("pip install "):
                    where = f"{page.relative_to(ROOT)}:{number}"
                    found.append((where, command.removeprefix("pip install ")))
    return found


LINES = install_lines()


def extras_of(arguments: str) -> set[str]:
    match = CHECKOUT.fullmatch(arguments) or GIT.fullmatch(arguments)
    assert match is not None, arguments
    return set(filter(None, (match["extras"] or "").split(",")))


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fresh_checkout(tmp_path_factory.mktemp("clone") / "assistants-client")


class Virtualenv:
    """A new virtualenv, which this environment's pip (a recent one) installs into: an old
    pip cannot read a `git+file` URL without a host (the `git+https` form is fine)."""

    def __init__(self, path: Path) -> None:
        venv.EnvBuilder(with_pip=False, symlinks=True).create(path)
        self.python = path / "bin" / "python"

    def pip(self, arguments: str, cwd: Path, *options: str) -> str:
        """`pip install <arguments>` as a shell would split the line, plus ``options``."""
        pip = [sys.executable, "-m", "pip", "--python", str(self.python), "install"]
        return run([*pip, *options, *shlex.split(arguments)], cwd)

    def where_is_the_package(self, cwd: Path) -> Path:
        code = "import assistants_client; print(assistants_client.__file__)"
        return Path(run([str(self.python), "-c", code], cwd).strip()).parent


def run(command: list[str], cwd: Path) -> str:
    result = subprocess.run(
        command,
        cwd=cwd,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def fresh_venv(tmp_path: Path) -> Iterator[Virtualenv]:
    yield Virtualenv(tmp_path / "venv")


def test_every_install_line_is_a_form_that_works_without_a_package_index() -> None:
    forms = {arguments for _, arguments in LINES}
    assert {".", "-e .", f'"assistants-client @ git+{GIT_URL}"'} <= forms
    unknown = [
        (where, arguments)
        for where, arguments in LINES
        if not (CHECKOUT.fullmatch(arguments) or GIT.fullmatch(arguments))
    ]
    assert unknown == []
    for where, arguments in LINES:
        assert extras_of(arguments) <= set(EXTRAS), where


def test_pip_install_dot_installs_the_package_from_a_checkout(
    checkout: Path, fresh_venv: Virtualenv, tmp_path: Path
) -> None:
    fresh_venv.pip(".", checkout)

    installed = fresh_venv.where_is_the_package(tmp_path)
    assert "site-packages" in installed.parts
    assert (installed / "py.typed").exists()


def test_an_editable_install_is_seen_by_mypy_and_pyright_from_outside_the_checkout(
    checkout: Path, fresh_venv: Virtualenv, tmp_path: Path
) -> None:
    fresh_venv.pip("-e .", checkout)
    project = tmp_path / "my-project"
    project.mkdir()
    (project / "app.py").write_text(USER_CODE, encoding="utf-8")

    assert fresh_venv.where_is_the_package(project) == checkout / "assistants_client"
    mypy = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "app.py",
            "--python-executable",
            str(fresh_venv.python),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr
    if not PYRIGHT.exists():
        pytest.fail(f"{PYRIGHT} is missing: run `npm ci` (make test does)")
    pyright = subprocess.run(
        [str(PYRIGHT), "--outputjson", "--pythonpath", str(fresh_venv.python), "app.py"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    report = json.loads(pyright.stdout)
    assert report["summary"]["errorCount"] == 0, report["generalDiagnostics"]


def test_the_git_url_line_installs_from_a_git_repository(
    checkout: Path, fresh_venv: Virtualenv, tmp_path: Path
) -> None:
    (line,) = {a for _, a in LINES if GIT.fullmatch(a) and not extras_of(a)}

    fresh_venv.pip(line.replace(GIT_URL, checkout.as_uri()), tmp_path)

    assert "site-packages" in fresh_venv.where_is_the_package(tmp_path).parts


def test_every_extra_in_an_install_line_brings_its_packages(
    checkout: Path, fresh_venv: Virtualenv, tmp_path: Path
) -> None:
    lines = {a for _, a in LINES if extras_of(a)}
    assert {"server", "postgres", "django", "dev"} <= set().union(*map(extras_of, lines))
    for arguments in sorted(lines):
        report_path = tmp_path / "report.json"
        cwd = checkout if CHECKOUT.fullmatch(arguments) else tmp_path
        as_written = arguments.replace(GIT_URL, checkout.as_uri())
        options = ("--dry-run", "--ignore-installed", "--quiet", "--report", str(report_path))
        fresh_venv.pip(as_written, cwd, *options)
        report = json.loads(report_path.read_text(encoding="utf-8"))
        resolved = {item["metadata"]["name"].lower() for item in report["install"]}
        for extra in extras_of(arguments):
            for requirement in EXTRAS[extra]:
                marker = Requirement(requirement).marker
                if marker is not None and not marker.evaluate({"extra": extra}):
                    continue  # for another Python than this one
                name = re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower()
                assert name in resolved, f"{arguments}: {name} ({extra}) was not resolved"
