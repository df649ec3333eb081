"""25. file_search in runs: what a search round adds to a run, and what finding markers in a
streamed answer costs.

* A streamed run on the emulator (in this process, over loopback, no pacing) whose assistant
  has ``file_search`` over a store of 40 documents: the run searches for the question, writes
  the tool calls step, and answers with a cited sentence. The floor is the same streamed run
  by an assistant without the tool (one answer, no search). Both read with this library's
  ``stream_run(...).until_done()``, turn about.
* The marker finder (``file_search.Citer``) over an answer of 200,000 characters holding a
  marker every 500, fed in pieces of 4 characters as a backend streams them; the floor joins
  the same pieces (the least a server does with them).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from assistants_client import AssistantsClient
from assistants_client.emulator import Emulator
from assistants_client.emulator.server import Timing
from assistants_client.server.file_search import Citer
from bench.common import Row, interleaved

DOCUMENTS = 40
ANSWER_CHARS = 200_000
PIECE = 4
UNPACED = Timing(queued=0.0, in_progress=0.0, cancelling=0.0, stream_interval=0.0)


def _corpus(folder: Path) -> list[Path]:
    paths = []
    for n in range(DOCUMENTS):
        path = folder / f"runbook-{n:02d}.md"
        path.write_text(
            f"# Alert ERR-{4400 + n}\n\nERR-{4400 + n} means that service {n} lost its "
            f"volume number {n * 7}. Restart worker {n} and page team {n % 5}.\n\n"
            + "Background paragraph about logs, disks and rotations. "
            * 20,
            encoding="utf-8",
        )
        paths.append(path)
    return paths


def run_overhead() -> Row:
    with tempfile.TemporaryDirectory() as folder, Emulator(timing=UNPACED) as emulator:
        client = AssistantsClient(base_url=emulator.base_url, api_key="sk-bench", timeout=60)
        store = client.create_vector_store(name="runbooks")
        for path in _corpus(Path(folder)):
            uploaded = client.upload_file(path, "assistants")
            client.create_vector_store_file_and_poll(store.id, uploaded.id, timeout=60)
        searching = client.create_assistant(
            "gpt-4o",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        plain = client.create_assistant("gpt-4o")
        asked = iter(range(10**6))

        def one(assistant_id: str) -> None:
            number = next(asked) % DOCUMENTS
            question = f"What does ERR-{4400 + number} mean?"
            thread = client.create_thread(messages=[{"role": "user", "content": question}])
            with client.stream_run(thread.id, assistant_id) as stream:
                stream.until_done()

        times = interleaved(
            {"ours": lambda: one(searching.id), "floor": lambda: one(plain.id)},
            repeats=5,
            number=8,
        )
        client.close()
    ours, floor = times["ours"] * 1000, times["floor"] * 1000
    return {
        "benchmark": f"25. streamed run with file_search over {DOCUMENTS} documents "
        "(emulator, loopback), ms",
        "unit": "ms",
        "ours": ours,
        "peers": {},
        "floor": floor,
        "ratio": f"ours/floor {ours / floor:.2f}x",
        "ratio_value": ours / floor,
        "target": "-",
        "met": None,
        "note": f"a search round adds {ours - floor:.1f} ms; floor: the same streamed run "
        "without the tool",
    }


def marker_finding() -> Row:
    marker = "【0:0†runbook-00.md】"
    filler = "word " * ((500 - len(marker)) // 5)
    answer = ((filler + marker) * (ANSWER_CHARS // (len(filler) + len(marker)) + 1))[:ANSWER_CHARS]
    pieces = [answer[i : i + PIECE] for i in range(0, len(answer), PIECE)]
    results = [(0, 0, "file-1", "runbook-00.md")]

    def ours() -> None:
        citer = Citer(results)
        out = []
        for piece in pieces:
            out += citer.feed(piece)
        out += citer.flush()

    def floor() -> None:
        out = []
        for piece in pieces:
            out.append(piece)
        "".join(out)

    started = time.perf_counter()
    ours()
    assert time.perf_counter() - started < 60
    times = interleaved({"ours": ours, "floor": floor}, repeats=5, number=3)
    rate = ANSWER_CHARS / times["ours"] / 1e6
    return {
        "benchmark": f"25. citation markers found in a streamed answer ({PIECE}-character "
        "pieces), M characters/s",
        "unit": "M chars/s",
        "ours": rate,
        "peers": {},
        "floor": ANSWER_CHARS / times["floor"] / 1e6,
        "ratio": f"floor/ours {times['ours'] / times['floor']:.2f}x",
        "ratio_value": times["ours"] / times["floor"],
        "target": "-",
        "met": None,
        "note": "a marker every 500 characters; floor: joining the same pieces",
    }


def run() -> list[Row]:
    return [run_overhead(), marker_finding()]


if __name__ == "__main__":
    for row in run():
        print(row)
