"""11. One client, more threads than its pool has connections: connections opened, calls/s.

32 threads share one client whose pool holds 8 connections, each thread calling
``get_thread`` 100 times against the emulator (in its own process).

* ours: ``AssistantsClient(pool_maxsize=8)``: a call that finds the 8 connections busy waits
  for one (at most the connect timeout);
* peer ("requests"): a ``requests.Session`` with requests' own adapter and the same pool size,
  which opens one more connection for such a call and throws it away after it (urllib3's
  "Connection pool is full, discarding connection");
* floor: ours with a pool as large as the threads (32): every thread keeps its connection.

Connections opened are counted by urllib3's pool (``num_connections``); the goal is that ours
opens no more than its pool holds, whatever the number of threads.
"""

from __future__ import annotations

import logging
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from bench.common import Row, client_class, emulator

THREADS = 32
POOL = 8
CALLS = 100
ROUNDS = 3


def drive(get: Any, thread_ids: list[str]) -> float:
    """Calls per second of ``get(thread_id)`` from THREADS threads, CALLS each."""

    def worker(thread_id: str) -> None:
        for _ in range(CALLS):
            get(thread_id)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(worker, thread_ids))
    return THREADS * CALLS / (time.perf_counter() - started)


def opened(session: requests.Session, url: str) -> int:
    """Connections the session's pools for ``url``'s scheme opened (urllib3 counts them)."""
    manager = session.get_adapter(url).poolmanager
    keys = manager.pools.keys()  # urllib3's container refuses to be iterated itself
    return sum(int(manager.pools[key].num_connections) for key in keys)


def run() -> list[Row]:
    # urllib3 warns once per discarded connection; the count is what is measured here.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    AssistantsClient = client_class()
    with emulator() as info:
        base_url = info["base_url"]
        setup = AssistantsClient(base_url=base_url)
        thread_ids = [setup.create_thread().id for _ in range(THREADS)]
        rates: dict[str, list[float]] = {"ours": [], "requests": [], "floor": []}
        connections: dict[str, list[int]] = {"ours": [], "requests": [], "floor": []}
        for _ in range(ROUNDS):
            ours = AssistantsClient(base_url=base_url, pool_maxsize=POOL)
            rates["ours"].append(drive(ours.get_thread, thread_ids))
            connections["ours"].append(opened(ours._transport.session, base_url))
            ours.close()

            floor = AssistantsClient(base_url=base_url, pool_maxsize=THREADS)
            rates["floor"].append(drive(floor.get_thread, thread_ids))
            connections["floor"].append(opened(floor._transport.session, base_url))
            floor.close()

            session = requests.Session()
            session.mount("http://", HTTPAdapter(pool_maxsize=POOL))

            def peer_get(thread_id: str, session: requests.Session = session) -> Any:
                response = session.get(f"{base_url}/threads/{thread_id}", timeout=(5, 60))
                response.raise_for_status()
                return response.json()

            rates["requests"].append(drive(peer_get, thread_ids))
            connections["requests"].append(opened(session, base_url))
            session.close()
    calls = THREADS * CALLS
    rate = {name: statistics.median(values) for name, values in rates.items()}
    count = {name: statistics.median(values) for name, values in connections.items()}
    note = (
        f"{THREADS} threads x {CALLS} calls; pool of {POOL}; floor: a pool of {THREADS}; "
        "peer: a bare requests session (no parsing), same pool size"
    )
    return [
        {
            "benchmark": f"11. pool of {POOL}, {THREADS} threads: connections opened "
            f"({calls:,} calls)",
            "unit": "connections",
            "ours": count["ours"],
            "peers": {"requests": count["requests"]},
            "floor": count["floor"],
            "ratio": f"ours/pool size {count['ours'] / POOL:.2f}x",
            "ratio_value": count["ours"] / POOL,
            "target": "<= pool size",
            "met": count["ours"] <= POOL,
            "note": note,
        },
        {
            "benchmark": f"11. pool of {POOL}, {THREADS} threads: get_thread, req/s",
            "unit": "req/s",
            "ours": rate["ours"],
            "peers": {"requests": rate["requests"]},
            "floor": rate["floor"],
            "ratio": f"ours/floor {rate['ours'] / rate['floor']:.2f}x",
            "ratio_value": rate["ours"] / rate["floor"],
            "target": "-",
            "met": None,
            "note": note,
        },
    ]


if __name__ == "__main__":
    for result in run():
        print(result)
