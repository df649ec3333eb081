// The main Assistants flows of an openai-node user, run against the server at OPENAI_BASE_URL.
//
// tests/compat/test_openai_node.py starts the emulator, scripts its replies in the order these
// flows create runs, runs this script and asserts on the JSON summary it prints to stdout. The
// script only observes (what the SDK handed to each callback, which statuses and texts came
// back); judging them is the Python test's job, so one summary serves every assertion. A flow
// that throws is recorded under "errors" and the script exits 1 after printing the summary.

import OpenAI from 'openai';
import { VERSION } from 'openai/version';

const baseURL = process.env.OPENAI_BASE_URL;
if (!baseURL) {
  console.error('OPENAI_BASE_URL must name the server to test, e.g. http://127.0.0.1:8000/v1');
  process.exit(2);
}

const client = new OpenAI({ apiKey: 'sk-test', baseURL, maxRetries: 0, timeout: 10_000 });

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'The current weather in a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    },
  },
};

const summary = { sdk_version: VERSION, node_version: process.version, flows: {}, errors: {} };

function describeError(error) {
  if (error instanceof OpenAI.APIError) {
    return {
      class: error.constructor.name,
      status: error.status ?? null,
      message: error.message,
      body_message: error.error?.message ?? null,
      param: error.param ?? null,
      type: error.type ?? null,
      request_id: error.requestID ?? null,
    };
  }
  return {
    class: error?.constructor?.name ?? typeof error,
    message: String(error?.stack ?? error),
  };
}

async function flow(name, body) {
  try {
    summary.flows[name] = await body();
  } catch (error) {
    summary.errors[name] = describeError(error);
  }
}

function textOf(message) {
  return message.content
    .filter((part) => part.type === 'text')
    .map((part) => part.text.value)
    .join('');
}

function functionFields(call) {
  return {
    id: call.id ?? null,
    name: call.function?.name ?? null,
    arguments: call.function?.arguments ?? null,
  };
}

function requiredCalls(run) {
  return (run.required_action?.submit_tool_outputs?.tool_calls ?? []).map(functionFields);
}

function collapseRepeats(names) {
  return names.filter((name, index) => index === 0 || names[index - 1] !== name);
}

// Callbacks receive live snapshots the SDK keeps mutating, so plain copies are kept.
function observe(stream) {
  const seen = {
    events: [],
    text_deltas: [],
    texts_created: 0,
    texts_done: [],
    messages_done: [],
    steps_done: [],
    tool_calls_created: [],
    tool_call_argument_pieces: {},
    tool_calls_done: [],
  };
  stream
    .on('event', (event) => seen.events.push(event.event))
    .on('textCreated', () => {
      seen.texts_created += 1;
    })
    .on('textDelta', (delta) => seen.text_deltas.push(delta.value ?? ''))
    .on('textDone', (text) => seen.texts_done.push(text.value))
    .on('messageDone', (message) =>
      seen.messages_done.push({ id: message.id, status: message.status, text: textOf(message) }),
    )
    .on('runStepDone', (step) =>
      seen.steps_done.push({
        id: step.id,
        type: step.type,
        status: step.status,
        tool_calls:
          step.step_details.type === 'tool_calls'
            ? step.step_details.tool_calls.map((call) => ({
                ...functionFields(call),
                output: call.function?.output ?? null,
              }))
            : null,
      }),
    )
    .on('toolCallCreated', (call) =>
      seen.tool_calls_created.push({ type: call.type, ...functionFields(call) }),
    )
    .on('toolCallDelta', (delta) => {
      if (delta.type === 'function' && delta.function) {
        const pieces = (seen.tool_call_argument_pieces[delta.index] ??= []);
        pieces.push(delta.function.arguments ?? '');
      }
    })
    .on('toolCallDone', (call) =>
      seen.tool_calls_done.push({ type: call.type, ...functionFields(call) }),
    );
  return seen;
}

let assistant;
let thread;
let toolRun;

await flow('setup', async () => {
  assistant = await client.beta.assistants.create({
    model: 'gpt-4o',
    name: 'compat-node',
    instructions: 'Be brief.',
    tools: [WEATHER_TOOL],
  });
  const retrieved = await client.beta.assistants.retrieve(assistant.id);
  thread = await client.beta.threads.create();
  const message = await client.beta.threads.messages.create(thread.id, {
    role: 'user',
    content: 'What is the weather in Paris?',
  });
  return {
    assistant_id: assistant.id,
    retrieved_id: retrieved.id,
    retrieved_name: retrieved.name,
    tool_names: retrieved.tools.map((tool) => tool.function?.name ?? tool.type),
    thread_id: thread.id,
    message: { id: message.id, role: message.role, text: textOf(message), thread_id: message.thread_id },
  };
});

await flow('streamed_text', async () => {
  const stream = client.beta.threads.runs.stream(thread.id, { assistant_id: assistant.id });
  const seen = observe(stream);
  const run = await stream.finalRun();
  const messages = await stream.finalMessages();
  const steps = await stream.finalRunSteps();
  return {
    ...seen,
    events: collapseRepeats(seen.events),
    run: { id: run.id, status: run.status },
    final_messages: messages.map(textOf),
    final_step_types: steps.map((step) => step.type),
  };
});

await flow('tool_call_stream', async () => {
  const stream = client.beta.threads.runs.stream(thread.id, { assistant_id: assistant.id });
  const seen = observe(stream);
  const run = await stream.finalRun();
  toolRun = run;
  const steps = await stream.finalRunSteps();
  return {
    ...seen,
    events: collapseRepeats(seen.events),
    run: { id: run.id, status: run.status },
    required_calls: requiredCalls(run),
    final_step_tool_calls: steps
      .filter((step) => step.step_details.type === 'tool_calls')
      .flatMap((step) => step.step_details.tool_calls.map(functionFields)),
  };
});

await flow('submit_tool_outputs_stream', async () => {
  if (!toolRun) {
    throw new Error('no run from the tool_call_stream flow to answer');
  }
  // The ids come from required_action, not from the stream, so this flow checks the
  // continuation on its own even when the streamed snapshots are wrong.
  const tool_outputs = requiredCalls(toolRun).map((call) => ({
    tool_call_id: call.id,
    output: 'sunny, 18C',
  }));
  const stream = client.beta.threads.runs.submitToolOutputsStream(toolRun.id, {
    thread_id: thread.id,
    tool_outputs,
  });
  const seen = observe(stream);
  const run = await stream.finalRun();
  const messages = await stream.finalMessages();
  return {
    ...seen,
    events: collapseRepeats(seen.events),
    run: { id: run.id, status: run.status },
    final_messages: messages.map(textOf),
  };
});

await flow('create_and_poll', async () => {
  const run = await client.beta.threads.runs.createAndPoll(thread.id, {
    assistant_id: assistant.id,
  });
  const newest = await client.beta.threads.messages.list(thread.id, { limit: 1 });
  return {
    run: { id: run.id, status: run.status, thread_id: run.thread_id },
    usage_total: run.usage?.total_tokens ?? null,
    newest_message: { text: textOf(newest.data[0]), run_id: newest.data[0].run_id },
  };
});

await flow('messages_list', async () => {
  const messages = [];
  const pages = client.beta.threads.messages.list(thread.id, { order: 'asc', limit: 2 });
  for await (const message of pages) {
    messages.push({ role: message.role, text: textOf(message) });
  }
  const firstPage = await client.beta.threads.messages.list(thread.id, { order: 'asc', limit: 2 });
  return {
    messages,
    first_page_size: firstPage.data.length,
    first_page_has_more: firstPage.has_more,
  };
});

await flow('errors', async () => {
  const outcome = async (call) => {
    try {
      await call();
      return { class: null };
    } catch (error) {
      return {
        ...describeError(error),
        is_not_found: error instanceof OpenAI.NotFoundError,
        is_bad_request: error instanceof OpenAI.BadRequestError,
      };
    }
  };
  return {
    missing_assistant: await outcome(() => client.beta.assistants.retrieve('asst_missing')),
    bad_limit: await outcome(() => client.beta.threads.messages.list(thread.id, { limit: 1000 })),
  };
});

process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
process.exitCode = Object.keys(summary.errors).length === 0 ? 0 : 1;
