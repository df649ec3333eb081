"""17. The relay's own cost: 2,000 deltas from a backend that streams them at zero delay.

The fake Chat Completions backend (``bench/bench_server_backend.py``) sends its chunks as fast
as it can, so nothing waits on its pace: what limits a reader is the work of everyone on the
way. The same reader (``requests`` + ``sseclient.SSEClient`` + ``json.loads`` of every event,
``bench/bench_server_stream.py``) reads the answer three ways, turn about:

* ours: a streamed run through ``assistants-server`` (state, run steps and the Assistants
  events on the way), its text from the ``thread.message.delta`` events;
* floor: the backend directly, its text from the chunks' ``delta.content``;
* peer: the LiteLLM proxy in front of the same backend (``bench/litellm_proxy.py``), a
  pass-through of the Chat Completions chunks, read as the backend is.

Deltas per second are from the POST to the last piece of text. The CPU time each relay spent
(the server process; the proxy's process tree) is taken from ``/proc`` around each read, and
divided by the deltas of all the reads (``/proc`` counts in ticks of 10 ms: one read of 2,000
deltas is a few of them). It includes setting up the run (a thread, a run, its steps), which a
real answer pays too.
"""

from __future__ import annotations

import statistics
from contextlib import ExitStack
from typing import Any

from bench.bench_server_backend import backend, expected_text, server_process
from bench.bench_server_stream import Reader, direct_reader, server_reader
from bench.common import Row, cpu_seconds
from bench.litellm_proxy import MASTER_KEY, available, litellm_proxy

PACING = 0.0
TOKENS = 2_000
ROUNDS = 8
CPU_TARGET_US = 10.0


def measure(
    readers: dict[str, Reader], pids: dict[str, int]
) -> tuple[dict[str, float], dict[str, float]]:
    """Median deltas per second of each reader, and CPU µs per delta of each relay."""
    for read in readers.values():
        _, _, text = read(TOKENS)
        assert text == expected_text(TOKENS)
    rates: dict[str, list[float]] = {name: [] for name in readers}
    spent = dict.fromkeys(pids, 0.0)
    for _ in range(ROUNDS):
        for name, read in readers.items():
            pid = pids.get(name)
            before = cpu_seconds(pid) if pid is not None else 0.0
            _, total, text = read(TOKENS)
            if pid is not None:
                spent[name] += cpu_seconds(pid) - before
            assert text == expected_text(TOKENS), name
            rates[name].append(TOKENS / total)
    return (
        {name: statistics.median(values) for name, values in rates.items()},
        {name: seconds / (ROUNDS * TOKENS) * 1e6 for name, seconds in spent.items()},
    )


def run() -> list[Row]:
    missing = available()
    with ExitStack() as stack:
        backend_url = stack.enter_context(backend(PACING, TOKENS))
        base_url, proc = stack.enter_context(server_process(backend_url))
        readers = {"ours": server_reader(base_url), "floor": direct_reader(backend_url)}
        pids = {"ours": proc.pid}
        if missing is None:
            proxy_url, proxy = stack.enter_context(litellm_proxy(backend_url))
            readers["litellm"] = direct_reader(
                proxy_url, headers={"Authorization": f"Bearer {MASTER_KEY}"}
            )
            pids["litellm"] = proxy.pid
        rate, cpu = measure(readers, pids)
    share = rate["ours"] / rate["floor"]
    peers: dict[str, Any] = {"LiteLLM proxy": rate.get("litellm", "n/a")}
    cpu_note = f"CPU per delta: ours {cpu['ours']:.1f} µs"
    if "litellm" in cpu:
        cpu_note += f", LiteLLM proxy {cpu['litellm']:.1f} µs"
    else:
        cpu_note += f"; LiteLLM proxy not run: {missing}"
    rows: list[Row] = [
        {
            "benchmark": f"17. server relay, zero delay: {TOKENS:,} deltas, deltas/s",
            "unit": "items/s",
            "ours": rate["ours"],
            "peers": peers,
            "floor": rate["floor"],
            "ratio": f"ours/direct {share:.2f}x",
            "ratio_value": share,
            "target": ">= 0.5x direct",
            "met": share >= 0.5,
            "note": "floor: the backend read directly; peer: the LiteLLM proxy (a pass-through "
            "of the chunks) in front of it; the same reader for all three; " + cpu_note,
        },
    ]
    peer_cpu = cpu.get("litellm")
    rows.append(
        {
            "benchmark": "17. server relay, zero delay: CPU per delta, µs",
            "unit": "µs",
            "ours": cpu["ours"],
            "peers": {"LiteLLM proxy": peer_cpu if peer_cpu is not None else "n/a"},
            "floor": None,
            "ratio": f"LiteLLM/ours {peer_cpu / cpu['ours']:.2f}x" if peer_cpu else "-",
            "ratio_value": peer_cpu / cpu["ours"] if peer_cpu else None,
            "target": f"<= {CPU_TARGET_US:g} µs",
            "met": cpu["ours"] <= CPU_TARGET_US,
        }
    )
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
