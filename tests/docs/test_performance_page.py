"""`make bench` writes its table into docs/performance.md, between the page's markers, and
leaves the rest of the page (what each row measures, the targets missed and why) as written.
The README holds no table: it links to the page."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.__main__ import PERFORMANCE_PAGE, TABLE_END, TABLE_START, update_performance_page

ROOT = Path(__file__).resolve().parents[2]


def result(ours: float) -> dict[str, Any]:
    return {
        "date": "2030-01-02 03:04 UTC",
        "machine": {"nproc": 2, "cpu": "a test CPU", "python": "3.11.7"},
        "versions": {
            "assistants-client": "0.1.0",
            "openai": "3.54.0",
            "requests": "2.34.2",
            "cattrs": "26.2.1",
        },
        "total_seconds": 12.0,
        "rows": [
            {
                "benchmark": "1. parse 100-msg page (82 KB), ms",
                "unit": "ms",
                "ours": ours,
                "peers": {"openai": 6.5},
                "floor": 0.5,
                "ratio": "openai/ours 4.4x",
                "target": ">= 8x faster than openai",
                "met": False,
            }
        ],
    }


def test_the_page_holds_one_table_and_says_why_targets_were_missed() -> None:
    page = PERFORMANCE_PAGE.read_text(encoding="utf-8")
    assert PERFORMANCE_PAGE == ROOT / "docs" / "performance.md"
    assert page.count(TABLE_START) == 1 and page.count(TABLE_END) == 1
    assert "## Targets missed, and why" in page.split(TABLE_END, 1)[1]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert TABLE_START not in readme and "docs/performance.md" in readme


def test_make_bench_replaces_the_table_and_nothing_else(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    shutil.copy(PERFORMANCE_PAGE, page)
    before = page.read_text(encoding="utf-8")
    head, rest = before.split(TABLE_START, 1)
    tail = rest.split(TABLE_END, 1)[1]

    update_performance_page(result(1.47), page)
    once = page.read_text(encoding="utf-8")
    update_performance_page(result(2.5), page)
    twice = page.read_text(encoding="utf-8")

    assert once.startswith(head + TABLE_START) and once.endswith(TABLE_END + tail)
    table = once.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0]
    assert "Measured 2030-01-02 03:04 UTC on 2 cores, a test CPU" in table
    assert "| 1. parse 100-msg page (82 KB), ms | 1.47 |" in table
    assert twice == once.replace("| 1.47 |", "| 2.50 |")


def test_a_page_without_its_markers_is_refused_not_left_stale(tmp_path: Path) -> None:
    page = tmp_path / "performance.md"
    page.write_text("# Performance\n\nNo table here.\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="bench:table:start"):
        update_performance_page(result(1.0), page)
    assert page.read_text(encoding="utf-8") == "# Performance\n\nNo table here.\n"
