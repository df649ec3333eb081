// An openai-node user's file_search flow, run against the server at OPENAI_BASE_URL.
//
// OPENAI_PACKAGE names the installed release to use: `openai` (the release package.json pins)
// or `openai-5` (openai@5.23.2, installed under that alias). tests/compat/test_file_search_runs.py
// starts the server, runs this script and asserts on the JSON summary it prints: upload three
// documents, make a vector store of them, create an assistant with file_search and the store,
// ask a question only one document answers with `runs.createAndPoll`, then again streamed with
// `runs.stream` and an event handler. The script only observes; the Python test judges.
//
// Indices: the server counts `start_index`/`end_index` in code points, JavaScript strings in
// UTF-16 units. They agree while no character outside the Basic Multilingual Plane precedes a
// marker (the markers' brackets and dagger are in it). `js_slices` records what
// `text.slice(start, end)` gives, `js_code_point_slices` what slicing `Array.from(text)` gives.

const packageName = process.env.OPENAI_PACKAGE || 'openai';
const { default: OpenAI, toFile } = await import(packageName);
const { VERSION } = await import(`${packageName}/version`);

const baseURL = process.env.OPENAI_BASE_URL;
if (!baseURL) {
  console.error('OPENAI_BASE_URL must name the server to test');
  process.exit(2);
}
const client = new OpenAI({ apiKey: 'sk-test', baseURL, maxRetries: 0, timeout: 20_000 });

const INCLUDE = ['step_details.tool_calls[*].file_search.results[*].content'];
const QUESTION = process.env.FILE_SEARCH_QUESTION || 'What does ERR-4411 mean?';
const documents = JSON.parse(process.env.FILE_SEARCH_DOCUMENTS || '{}');

function describeMessage(message) {
  return message.content
    .filter((part) => part.type === 'text')
    .map((part) => ({
      value: part.text.value,
      annotations: part.text.annotations,
      js_slices: part.text.annotations.map((a) => part.text.value.slice(a.start_index, a.end_index)),
      js_code_point_slices: part.text.annotations.map((a) =>
        Array.from(part.text.value).slice(a.start_index, a.end_index).join(''),
      ),
    }));
}

async function listSteps(threadId, runId, include) {
  const steps = [];
  const query = { thread_id: threadId, order: 'asc', ...(include ? { include: INCLUDE } : {}) };
  for await (const step of client.beta.threads.runs.steps.list(runId, query)) steps.push(step);
  return steps;
}

const summary = { sdk_version: VERSION, errors: {} };

async function flow(name, body) {
  try {
    summary[name] = await body();
  } catch (error) {
    summary.errors[name] = String(error?.stack ?? error);
  }
}

await flow('setup', async () => {
  const files = {};
  for (const [name, text] of Object.entries(documents)) {
    const made = await client.files.create({
      file: await toFile(Buffer.from(text, 'utf-8'), name),
      purpose: 'assistants',
    });
    files[name] = made.id;
  }
  let store = await client.vectorStores.create({ name: 'manuals', file_ids: Object.values(files) });
  const deadline = Date.now() + 20_000;
  while (store.status === 'in_progress' && Date.now() < deadline) {
    await new Promise((done) => setTimeout(done, 50));
    store = await client.vectorStores.retrieve(store.id);
  }
  const assistant = await client.beta.assistants.create({
    model: 'gpt-4o',
    instructions: 'Answer from the manuals and cite them.',
    tools: [{ type: 'file_search' }],
    tool_resources: { file_search: { vector_store_ids: [store.id] } },
  });
  return { files, store: { status: store.status, file_counts: store.file_counts }, assistant_id: assistant.id };
});
const assistant = { id: summary.setup?.assistant_id };

await flow('polled', async () => {
  const thread = await client.beta.threads.create();
  await client.beta.threads.messages.create(thread.id, { role: 'user', content: QUESTION });
  const run = await client.beta.threads.runs.createAndPoll(
    thread.id,
    { assistant_id: assistant.id, include: INCLUDE },
    { pollIntervalMs: 50 },
  );
  const [reply] = (await client.beta.threads.messages.list(thread.id, { order: 'desc', limit: 1 })).data;
  return {
    status: run.status,
    steps: await listSteps(thread.id, run.id, false),
    steps_included: await listSteps(thread.id, run.id, true),
    message: describeMessage(reply),
  };
});

await flow('streamed', async () => {
  const streamedThread = await client.beta.threads.create();
  await client.beta.threads.messages.create(streamedThread.id, { role: 'user', content: QUESTION });
  const events = [];
  const annotationDeltas = [];
  const toolCallsSeen = [];
  let text = '';
  let fromDeltas = null; // the SDK's snapshot after the last delta, before the completed event
  const stream = client.beta.threads.runs
    .stream(streamedThread.id, { assistant_id: assistant.id, include: INCLUDE })
    .on('event', ({ event }) => events.push(event))
    .on('textDelta', (delta) => {
      text += delta.value ?? '';
      for (const annotation of delta.annotations ?? []) annotationDeltas.push(annotation);
    })
    .on('messageDelta', (_delta, snapshot) => {
      fromDeltas = structuredClone(snapshot);
    })
    .on('toolCallDone', (call) => toolCallsSeen.push(call.type));
  const finalRun = await stream.finalRun();
  const finalMessages = await stream.finalMessages();
  const [completed] = finalMessages;
  if (!completed) throw new Error(`the stream delivered no message (events: ${[...new Set(events)]})`);
  const stored = await client.beta.threads.messages.retrieve(completed.id, { thread_id: streamedThread.id });
  return {
    status: finalRun.status,
    events: [...new Set(events)],
    text_from_deltas: text,
    annotation_deltas: annotationDeltas,
    tool_calls_done: toolCallsSeen,
    completed: describeMessage(completed),
    stored: describeMessage(stored),
    from_deltas_content: fromDeltas?.content ?? null,
    stored_content: stored.content,
    steps: await listSteps(streamedThread.id, finalRun.id, false),
  };
});
console.log(JSON.stringify(summary));
process.exit(Object.keys(summary.errors).length ? 1 : 0);
