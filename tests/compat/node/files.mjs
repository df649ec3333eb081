// An openai-node user's files and vector stores flow, run against the server at OPENAI_BASE_URL.
//
// tests/files/test_openai_node.py starts the server, runs this script and asserts on the JSON
// summary it prints: upload three text files and a binary one, read one back, batch them into
// a vector store, search it with a filter, delete what was made. The script only observes.

import OpenAI, { toFile } from 'openai';

const baseURL = process.env.OPENAI_BASE_URL;
if (!baseURL) {
  console.error('OPENAI_BASE_URL must name the server to test');
  process.exit(2);
}
const client = new OpenAI({ apiKey: 'sk-test', baseURL, maxRetries: 0, timeout: 20_000 });

const texts = {
  'runbook.md': '# Disk alerts\n\nERR-4411 means the data volume is full.\n',
  'billing.txt': 'A refund takes five to seven days to reach the card.\n',
  'garden.txt': 'Water the tomato plants every morning.\n',
};
const binary = new Uint8Array(4096).map((_, n) => n % 256);

const summary = {};
try {
  const uploaded = [];
  for (const [name, text] of Object.entries(texts)) {
    uploaded.push(await client.files.create({ file: await toFile(Buffer.from(text), name), purpose: 'assistants' }));
  }
  uploaded.push(await client.files.create({ file: await toFile(binary, 'firmware.bin'), purpose: 'assistants' }));
  summary.files = uploaded.map((f) => ({ filename: f.filename, bytes: f.bytes, keys: Object.keys(f).sort() }));
  const content = await client.files.content(uploaded[3].id);
  summary.binary_back = Buffer.from(await content.arrayBuffer()).equals(Buffer.from(binary));
  summary.listed = (await client.files.list({ purpose: 'assistants' })).data.length;

  const store = await client.vectorStores.create({ name: 'node' });
  const batch = await client.vectorStores.fileBatches.createAndPoll(store.id, {
    file_ids: uploaded.map((f) => f.id),
  }, { pollIntervalMs: 50 });
  summary.batch = { status: batch.status, counts: batch.file_counts };
  await client.vectorStores.files.update(uploaded[0].id, { vector_store_id: store.id, attributes: { team: 'ops' } });
  const results = [];
  for await (const hit of client.vectorStores.search(store.id, {
    query: 'What does ERR-4411 mean?',
    filters: { type: 'eq', key: 'team', value: 'ops' },
    ranking_options: { score_threshold: 0.0 },
  })) {
    results.push({ filename: hit.filename, score: hit.score, text: hit.content[0].text });
  }
  summary.search = results;
  summary.deleted_store = (await client.vectorStores.delete(store.id)).deleted;
  summary.deleted_file = (await client.files.delete(uploaded[1].id)).deleted;
} catch (error) {
  summary.error = String(error?.stack ?? error);
}
console.log(JSON.stringify(summary));
process.exit(summary.error ? 1 : 0);
