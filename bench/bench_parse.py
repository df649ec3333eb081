"""1. Parse a 100-message list page (``bench/fixtures/messages_page.json``, about 85 KB).

* ours: ``MessageList.from_json(body)`` - the public path; it is what ``list_messages`` runs
  on a response body (``json.loads`` then the cattrs converter, with strict type checks).
* openai-python: what ``client.beta.threads.messages.list()`` runs on the body: an
  ``httpx2.Response`` over the bytes, wrapped in ``openai._response.APIResponse`` with
  ``cast_to=SyncCursorPage[Message]`` and the page's post-parser, then ``.parse()``. With the
  client's default ``_strict_response_validation=False`` this builds the models with
  ``construct_type`` (no validation); the strict client (``validate_type``, pydantic
  validation) is reported beside it.
* floor: ``json.loads(body)``.

Each side is timed in fresh processes of its own (three each, alternating), beside
``json.loads`` in the same process: importing openai-python and pydantic brings some 110,000 more objects under the
garbage collector, which slows every allocation-heavy parse in that process (ours by about
10 %), so a shared process would charge openai-python's footprint to us.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any

from bench.common import ROOT, Row, interleaved, median
from bench.payloads import load_messages_page

warnings.filterwarnings("ignore", category=DeprecationWarning)

SIDE_RUNS = 3


def ours_parser(body: bytes) -> Callable[[], Any]:
    from assistants_client.models import MessageList

    def parse() -> Any:
        return MessageList.from_json(body)

    return parse


def openai_parser(body: bytes, *, strict: bool = False) -> Callable[[], Any]:
    import httpx2
    import openai
    from openai._models import FinalRequestOptions
    from openai._response import APIResponse
    from openai.pagination import SyncCursorPage
    from openai.types.beta.threads import Message

    client = openai.OpenAI(
        api_key="sk-x", base_url="http://127.0.0.1:9/v1", _strict_response_validation=strict
    )
    url = "http://127.0.0.1:9/v1/threads/thread_bench/messages"
    request = httpx2.Request("GET", url)
    cast_to = SyncCursorPage[Message]

    def parse() -> Any:
        options = FinalRequestOptions.construct(method="get", url="/threads/thread_bench/messages")

        def post_parser(page: Any) -> Any:
            page._set_private_attributes(client=client, model=Message, options=options)
            return page

        options.post_parser = post_parser
        raw = httpx2.Response(
            200,
            content=body,
            headers={"content-type": "application/json", "x-request-id": "req_bench"},
            request=request,
        )
        response = APIResponse(
            raw=raw,
            cast_to=cast_to,
            client=client,
            stream=False,
            stream_cls=None,
            options=options,
        )
        return response.parse()

    return parse


def check(body: bytes) -> None:
    """Both parsers must read the same page before they are timed."""
    expected = json.loads(body)
    ours = ours_parser(body)()
    theirs = openai_parser(body)()
    assert len(ours.data) == len(theirs.data) == len(expected["data"]) == 100
    for mine, other, raw in zip(ours.data, theirs.data, expected["data"], strict=True):
        assert mine.id == other.id == raw["id"]
        value = raw["content"][0]["text"]["value"]
        assert mine.content[0].text.value == other.content[0].text.value == value
        assert len(mine.content[0].text.annotations) == len(
            raw["content"][0]["text"]["annotations"]
        )


def measure(side: str) -> dict[str, float]:
    """Seconds per parse for one side, each against ``json.loads`` in the same process."""
    body = load_messages_page()
    floor = {"floor": lambda: json.loads(body)}
    if side == "ours":
        contenders = {"ours": ours_parser(body), **floor}
    else:
        contenders = {
            "openai": openai_parser(body),
            "openai_strict": openai_parser(body, strict=True),
            **floor,
        }
    return interleaved(contenders, repeats=5, target=0.1)


def _side(side: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_parse", "--side", side],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def run() -> list[Row]:
    body = load_messages_page()
    check(body)
    # The two sides alternate, three processes each, so that a busy moment of the machine
    # does not fall on one side only; each figure is the median of the three.
    runs: dict[str, list[dict[str, float]]] = {"ours": [], "openai": []}
    for _ in range(SIDE_RUNS):
        for side in runs:
            runs[side].append(_side(side))
    timings = {
        "ours": median([r["ours"] for r in runs["ours"]]),
        "floor": median([r["floor"] for r in runs["ours"]]),
        "openai": median([r["openai"] for r in runs["openai"]]),
        "openai_strict": median([r["openai_strict"] for r in runs["openai"]]),
    }
    ms = {name: value * 1000 for name, value in timings.items()}
    vs_openai = ms["openai"] / ms["ours"]
    vs_floor = ms["ours"] / ms["floor"]
    name = f"1. parse 100-msg page ({len(body) // 1024} KB), ms"
    peers = {"openai": ms["openai"], "openai strict": ms["openai_strict"]}
    return [
        {
            "benchmark": name,
            "unit": "ms",
            "ours": ms["ours"],
            "peers": peers,
            "floor": ms["floor"],
            "ratio": f"openai/ours {vs_openai:.1f}x",
            "ratio_value": vs_openai,
            "target": ">= 8x faster than openai",
            "met": vs_openai >= 8,
        },
        {
            "benchmark": name,
            "unit": "ms",
            "ours": ms["ours"],
            "peers": peers,
            "floor": ms["floor"],
            "ratio": f"ours/json.loads {vs_floor:.1f}x",
            "ratio_value": vs_floor,
            "target": "<= 3x json.loads",
            "met": vs_floor <= 3,
        },
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--side"]:
        print(json.dumps(measure(sys.argv[2])))
    else:
        for row in run():
            print(row)
