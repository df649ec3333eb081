"""The LICENSE goes out with the package: in the sdist, and in the wheel built from that sdist.

Both are built as a package index receives them: the PEP 517 hooks of the project's backend
(setuptools, a dev dependency), the sdist from a copy of the sources (the working tree is left
alone), then the wheel from the unpacked sdist, as pip builds it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LICENSE = (ROOT / "LICENSE").read_text(encoding="utf-8")
SOURCES = ["pyproject.toml", "README.md", "LICENSE", "MANIFEST.in", "assistants_client"]
TIMEOUT = 120

BUILD = """
import sys
from setuptools import build_meta

print(getattr(build_meta, sys.argv[1])(sys.argv[2]))
"""


def build(hook: str, source: Path, out: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-c", BUILD, hook, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return out / result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the sdist, the wheel built from it)."""
    work = tmp_path_factory.mktemp("dist")
    source = work / "source"
    source.mkdir()
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif path.exists():
            shutil.copy2(path, source / name)
    out = work / "out"
    sdist = build("build_sdist", source, out)
    unpacked = work / "unpacked"
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (top,) = unpacked.iterdir()
    wheel = build("build_wheel", top, out)
    return sdist, wheel


def metadata(text: str) -> tuple[str | None, list[str]]:
    message = Parser().parsestr(text)
    return message["License-Expression"], message.get_all("License-File") or []


def test_the_sdist_holds_the_license_and_declares_it(dist: tuple[Path, Path]) -> None:
    sdist, _ = dist
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        top = names[0].split("/")[0]
        license_file = archive.extractfile(f"{top}/LICENSE")
        pkg_info = archive.extractfile(f"{top}/PKG-INFO")
        assert license_file is not None and pkg_info is not None, names
        assert license_file.read().decode("utf-8") == LICENSE
        assert metadata(pkg_info.read().decode("utf-8")) == ("MIT", ["LICENSE"])


def test_the_wheel_holds_the_license_and_declares_it(dist: tuple[Path, Path]) -> None:
    _, wheel = dist
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        (info,) = {name.split("/")[0] for name in names if ".dist-info/" in name}
        assert f"{info}/licenses/LICENSE" in names, names
        assert archive.read(f"{info}/licenses/LICENSE").decode("utf-8") == LICENSE
        assert metadata(archive.read(f"{info}/METADATA").decode("utf-8")) == ("MIT", ["LICENSE"])
        # The package itself is there, with its type marker.
        assert "assistants_client/__init__.py" in names
        assert "assistants_client/py.typed" in names


def test_the_license_is_the_mit_license() -> None:
    assert LICENSE.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in LICENSE
