"""``python -m bench``: run every benchmark, print one table, write ``bench/results/latest.json``.

Each benchmark module runs in a fresh interpreter (``python -m bench --child NAME``), so one
cannot warm caches, grow the heap or trace memory for another; a benchmark that fails is
reported as failed and the others still run. ``--only NAME`` runs a subset
(``parse stream import roundtrip paginate throughput server-stream server-concurrency
server-roundtrip django pool server-postgres-throughput server-postgres-paginate
server-postgres-cancel server-idle server-relay server-postgres-runs async
server-sqlite-sync retrieval retrieval-postgres file-search``).

The table also goes into ``docs/performance.md``, between its markers; the rest of that page (what
each row measures, the targets missed and why) is written by hand.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import RESULTS, ROOT, Row, machine, versions

BENCHMARKS = {
    "parse": "bench.bench_parse",
    "stream": "bench.bench_stream",
    "import": "bench.bench_import",
    "roundtrip": "bench.bench_roundtrip",
    "paginate": "bench.bench_paginate",
    "throughput": "bench.bench_throughput",
    "server-stream": "bench.bench_server_stream",
    "server-concurrency": "bench.bench_server_concurrency",
    "server-roundtrip": "bench.bench_server_roundtrip",
    "django": "bench.bench_django",
    "pool": "bench.bench_pool",
    "server-postgres-throughput": "bench.bench_server_postgres_throughput",
    "server-postgres-paginate": "bench.bench_server_postgres_paginate",
    "server-postgres-cancel": "bench.bench_server_postgres_cancel",
    "server-idle": "bench.bench_server_idle",
    "server-relay": "bench.bench_server_relay",
    "server-postgres-runs": "bench.bench_server_postgres_runs",
    "async": "bench.bench_async",
    "server-sqlite-sync": "bench.bench_server_sqlite_sync",
    "retrieval": "bench.bench_retrieval",
    "retrieval-postgres": "bench.bench_retrieval_postgres",
    "file-search": "bench.bench_file_search",
}
CHILD_TIMEOUT = 240
MARKER = "BENCH-ROWS:"
PERFORMANCE_PAGE = ROOT / "docs" / "performance.md"  # holds the latest table
TABLE_START = "<!-- bench:table:start -->"
TABLE_END = "<!-- bench:table:end -->"
COLUMNS = ("benchmark", "ours", "openai-python", "floor", "ratio", "target", "met?")


def child(name: str) -> None:
    module = importlib.import_module(BENCHMARKS[name])
    rows = module.run()
    print(MARKER + json.dumps(rows))


def run_child(name: str) -> tuple[list[Row], float]:
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "bench", "--child", name],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=CHILD_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return [_failed(name, f"timed out after {CHILD_TIMEOUT} s")], time.perf_counter() - started
    elapsed = time.perf_counter() - started
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER) :]), elapsed
    tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
    return [_failed(name, f"failed (exit {proc.returncode}): {tail}")], elapsed


def _failed(name: str, why: str) -> Row:
    return {
        "benchmark": name,
        "unit": "",
        "ours": None,
        "peers": {},
        "floor": None,
        "ratio": "-",
        "ratio_value": None,
        "target": "-",
        "met": False,
        "note": why,
    }


# -- formatting --------------------------------------------------------------------------------


def fmt(value: Any, unit: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if unit in ("events/s", "req/s", "items/s", "connections"):
        return f"{value:,.0f}"
    if unit == "MB":
        return f"{value:.1f}"
    if unit == "s":
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def _peers(row: Row) -> str:
    peers = row.get("peers") or {}
    if not peers:
        return "n/a"
    unit = row.get("unit", "")
    main = fmt(peers.get("openai"), unit)
    rest = [f"{k.replace('openai', '').strip()} {fmt(v, unit)}" for k, v in peers.items()]
    rest = [r for r, k in zip(rest, peers, strict=True) if k != "openai"]
    return main + (f" ({', '.join(rest)})" if rest else "")


def _met(row: Row) -> str:
    met = row.get("met")
    if met is None:
        return "-" if row.get("target") in ("-", None) else "n/a"
    return "yes" if met else "NO"


def table_cells(rows: list[Row]) -> list[tuple[str, ...]]:
    cells = []
    for row in rows:
        unit = row.get("unit", "")
        cells.append(
            (
                row["benchmark"],
                fmt(row.get("ours"), unit),
                _peers(row),
                fmt(row.get("floor"), unit),
                row.get("ratio") or "-",
                row.get("target") or "-",
                _met(row),
            )
        )
    return cells


def notes(rows: list[Row]) -> list[str]:
    found: list[str] = []
    for row in rows:
        note = row.get("note")
        if note and f"{row['benchmark']}: {note}" not in found:
            found.append(f"{row['benchmark']}: {note}")
    return found


def text_table(rows: list[Row]) -> str:
    cells = [COLUMNS, *table_cells(rows)]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    right = {1, 2, 3}

    def line(values: tuple[str, ...]) -> str:
        return " | ".join(
            v.rjust(w) if i in right else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    out = [line(COLUMNS), "-+-".join("-" * w for w in widths)]
    out += [line(c) for c in cells[1:]]
    out += [f"  note - {n}" for n in notes(rows)]
    return "\n".join(out)


def markdown_table(rows: list[Row]) -> str:
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] * len(COLUMNS)) + "|"]
    for c in table_cells(rows):
        out.append("| " + " | ".join(v.replace("|", "\\|") for v in c) + " |")
    found = notes(rows)
    if found:
        out.append("")
        out += [f"- {n}" for n in found]
    return "\n".join(out)


def update_performance_page(result: dict[str, Any], page: Path = PERFORMANCE_PAGE) -> None:
    """Put the table of ``result`` between the page's markers, in place of the previous one."""
    text = page.read_text(encoding="utf-8")
    if text.count(TABLE_START) != 1 or text.count(TABLE_END) != 1:
        raise SystemExit(f"{page} must hold {TABLE_START} and {TABLE_END} once each")
    m = result["machine"]
    v = result["versions"]
    block = "\n".join(
        [
            TABLE_START,
            f"Measured {result['date']} on {m['nproc']} cores, {m['cpu']}, Python {m['python']}; "
            f"assistants-client {v['assistants-client']}, openai {v['openai']}, "
            f"requests {v['requests']}, cattrs {v['cattrs']}. "
            f"`make bench` took {result['total_seconds']:.0f} s.",
            "",
            markdown_table(result["rows"]),
            TABLE_END,
        ]
    )
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    page.write_text(head + block + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--child", choices=sorted(BENCHMARKS), help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME")
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    names = args.only or list(BENCHMARKS)
    started = time.perf_counter()
    rows: list[Row] = []
    durations: dict[str, float] = {}
    for name in names:
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        found, durations[name] = run_child(name)
        rows.extend(found)
    total = time.perf_counter() - started
    result = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "make bench",
        "machine": machine(),
        "versions": versions(),
        "total_seconds": total,
        "seconds_per_benchmark": durations,
        "rows": rows,
    }
    print()
    print(text_table(rows))
    print()
    m = result["machine"]
    print(f"machine: {m['nproc']} cores, {m['cpu']}, Python {m['python']}")
    print(f"versions: {', '.join(f'{k} {v}' for k, v in result['versions'].items())}")
    print(f"total: {total:.1f} s ({', '.join(f'{k} {v:.0f} s' for k, v in durations.items())})")
    if args.only is None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / "latest.json"
        path.write_text(json.dumps(result, indent=2) + "\n")
        update_performance_page(result)
        print(f"written: {path.relative_to(ROOT)}, {PERFORMANCE_PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
