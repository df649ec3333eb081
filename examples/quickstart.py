"""Quick start: an assistant with a function tool, a streamed run, and the tool-call loop.

Run it with `make demo` (on the embedded emulator), or point it at a server:

    OPENAI_BASE_URL=http://127.0.0.1:8000/v1 python examples/quickstart.py
    OPENAI_API_KEY=... OPENAI_BASE_URL=https://... python examples/quickstart.py
    AZURE_OPENAI_ENDPOINT=... AZURE_OPENAI_API_KEY=... OPENAI_API_VERSION=... python examples/quickstart.py
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from assistants_client import AssistantsClient

MODEL = os.environ.get("ASSISTANTS_DEMO_MODEL", "gpt-4o")

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}


def get_weather(city: str) -> dict[str, Any]:
    """The demo's tool: a fixed forecast, so the output is reproducible."""
    return {"city": city, "temperature_c": 18, "sky": "partly cloudy"}


def make_client() -> AssistantsClient:
    if os.environ.get("AZURE_OPENAI_ENDPOINT"):
        return AssistantsClient.for_azure()
    return AssistantsClient()


def main() -> int:
    with make_client() as client:
        assistant = client.create_assistant(
            MODEL,
            name="Weather helper",
            instructions="You answer questions about the weather. Use get_weather.",
            tools=[WEATHER_TOOL],
        )
        thread = client.create_thread()
        print(f"assistant {assistant.id}, thread {thread.id}")

        client.create_message(thread.id, "user", "Hello! Who are you?")
        print("\n-- streamed run --")
        with client.stream_run(thread.id, assistant.id) as stream:
            for text in stream.text_deltas():
                print(text, end="", flush=True)
        print(
            f"\n[run {stream.final_run.id if stream.final_run else '?'}: "
            f"{stream.final_run.status if stream.final_run else '?'}]"
        )

        client.create_message(
            thread.id, "user", "What is the weather in Paris? Call get_weather with city=Paris."
        )
        print("\n-- run with tools (streamed) --")

        def show(event: Any) -> None:
            if event.event == "thread.message.delta":
                for part in event.data.delta.content or []:
                    if part.type == "text" and part.text and part.text.value:
                        print(part.text.value, end="", flush=True)
            elif event.event == "thread.run.requires_action":
                calls = event.data.required_action.submit_tool_outputs.tool_calls
                for call in calls:
                    print(f"[tool call {call.function.name}({call.function.arguments})]")

        run = client.run_with_tools(
            thread.id, assistant.id, functions={"get_weather": get_weather}, on_event=show
        )
        print(f"\n[run {run.id}: {run.status}]")
        if run.status != "completed":
            print(f"the run ended as {run.status}", file=sys.stderr)
            return 1

        answer = next(iter(client.list_messages(thread.id, order="desc", limit=1)))
        print("\n-- final answer --")
        print(answer.text)

        print("\n-- run steps --")
        for step in client.list_run_steps(thread.id, run.id, order="asc"):
            # Each step's details in full, as one line of JSON.
            details = json.dumps(step.step_details.to_dict(), ensure_ascii=False)
            print(f"{step.id} {step.type} {step.status}: {details}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
