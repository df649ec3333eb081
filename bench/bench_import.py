"""3. Import the library and construct a client, in a fresh process: time and peak RSS.

Each sample is a new interpreter (``python -c ...``) that times ``import X`` plus the client's
construction with ``time.perf_counter`` and reports its peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``). The floor is the same process doing nothing,
so it shows what the interpreter alone costs. The wall time of the whole process, as the
parent sees it (interpreter start-up and exit included), is a row of its own.

Byte code is cached as after any install (``PYTHONPYCACHEPREFIX`` points at a temporary
directory that the warm-up run fills, for both libraries alike), whatever
``PYTHONDONTWRITEBYTECODE`` says in the calling environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from bench.common import ROOT, Row, median

PROLOGUE = "import json, resource, time, warnings\nwarnings.simplefilter('ignore')\nt0 = time.perf_counter()\n"
EPILOGUE = (
    "t1 = time.perf_counter()\n"
    "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "print(json.dumps({'seconds': t1 - t0, 'rss_kb': rss}))\n"
)
SNIPPETS = {
    "ours": "import assistants_client\n"
    "cls = getattr(assistants_client, 'AssistantsClient', None)\n"
    "if cls is None:\n"
    "    from assistants_client._client import AssistantsClient as cls\n"
    "client = cls(api_key='sk-x')\n",
    "openai": "import openai\nclient = openai.OpenAI(api_key='sk-x')\n",
    "floor": "pass\n",
}
RUNS = 7


def _env(pycache: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OPENAI_", "AZURE_OPENAI_"))
        and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME", "PYTHONPYCACHEPREFIX")
    }
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def sample(name: str, pycache: str) -> dict[str, float]:
    code = PROLOGUE + SNIPPETS[name] + EPILOGUE
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=_env(pycache),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    wall = time.perf_counter() - started
    result = json.loads(out.strip().splitlines()[-1])
    return {"seconds": result["seconds"], "rss_mb": result["rss_kb"] / 1024, "wall": wall}


def run() -> list[Row]:
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in SNIPPETS}
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as pycache:
        for name in SNIPPETS:  # warm-up: writes the byte-code caches, fills the page cache
            sample(name, pycache)
        for _ in range(RUNS):
            for name in SNIPPETS:
                samples[name].append(sample(name, pycache))
    med = {
        name: {key: median([s[key] for s in runs]) for key in ("seconds", "rss_mb", "wall")}
        for name, runs in samples.items()
    }
    ours, openai, floor = med["ours"], med["openai"], med["floor"]
    return [
        {
            "benchmark": "3. import + construct client, s",
            "unit": "s",
            "ours": ours["seconds"],
            "peers": {"openai": openai["seconds"]},
            "floor": None,
            "ratio": f"openai/ours {openai['seconds'] / ours['seconds']:.1f}x",
            "ratio_value": openai["seconds"] / ours["seconds"],
            "target": "<= 0.25 s",
            "met": ours["seconds"] <= 0.25,
        },
        {
            "benchmark": "3. whole process incl. start-up, s",
            "unit": "s",
            "ours": ours["wall"],
            "peers": {"openai": openai["wall"]},
            "floor": floor["wall"],
            "ratio": f"openai/ours {openai['wall'] / ours['wall']:.1f}x",
            "ratio_value": openai["wall"] / ours["wall"],
            "target": "-",
            "met": None,
            "note": "floor = the bare interpreter",
        },
        {
            "benchmark": "3. import + construct, peak RSS, MB",
            "unit": "MB",
            "ours": ours["rss_mb"],
            "peers": {"openai": openai["rss_mb"]},
            "floor": floor["rss_mb"],
            "ratio": f"openai/ours {openai['rss_mb'] / ours['rss_mb']:.1f}x",
            "ratio_value": openai["rss_mb"] / ours["rss_mb"],
            "target": "<= 40 MB",
            "met": ours["rss_mb"] <= 40,
            "note": "floor = the bare interpreter",
        },
    ]


if __name__ == "__main__":
    for row in run():
        print(row)
