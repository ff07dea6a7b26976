// Drives `ane-exec serve` on stories260K with the official `openai` npm
// client and with plain HTTP. Usage:
//   node serve-openai.js ANE_EXEC MODELS_DIR
// Each scenario starts its own server on a free loopback port. Exits 1 on
// the first failed assertion, naming it.
'use strict';
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('node:child_process');
const http = require('node:http');
const OpenAI = require('openai').default;

const [aneExec, models] = process.argv.slice(2);
const modelArgs = ['-m', `${models}/stories260K.bin`, '-z', `${models}/tok512.bin`];

const lib = require('./serve-lib.js');
const { request, metric } = lib;
const startServer = (extra = []) => lib.startServer(aneExec, [...modelArgs, ...extra]);

// Polls /health until 200; before that it answers 503 with an error body.
async function waitReady(port) {
  for (let i = 0; i < 600; ++i) {
    const r = await request(port, 'GET', '/health').catch(() => null);
    if (r && r.status === 200) {
      assert.deepEqual(JSON.parse(r.text), { status: 'ok' });
      return;
    }
    if (r) {
      assert.equal(r.status, 503, 'health while loading');
      assert.ok(JSON.parse(r.text).error.message, 'an OpenAI error body while loading');
    }
    await new Promise((s) => setTimeout(s, 50));
  }
  throw new Error('the server never became ready');
}

async function stop(server) {
  server.child.kill('SIGTERM');
  const { code } = await server.exited;
  assert.equal(code, 0, `SIGTERM exits 0\n${server.log()}`);
}

// What `ane-exec run` prints after the prompt, greedy.
function runGreedy(prompt, n) {
  const out = execFileSync(aneExec, ['run', ...modelArgs, '-p', prompt, '-n', String(n), '--temp', '0'],
                           { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  assert.ok(out.startsWith(prompt) && out.endsWith('\n'));
  return out.slice(prompt.length, -1);
}

function expectError(r, status, what) {
  assert.equal(r.status, status, `${what}: status (${r.text})`);
  const body = JSON.parse(r.text);
  assert.equal(typeof body.error.message, 'string', `${what}: message`);
  assert.equal(typeof body.error.type, 'string', `${what}: type`);
  assert.ok('code' in body.error, `${what}: code`);
  return body.error;
}

const prompts = ['Once upon a time', 'The little dog', 'Lily and Ben', 'One day, a bird'];
const expected = {};

async function main() {
  for (const p of prompts) expected[p] = runGreedy(p, 24);

  // -- one server for the client, protocol, bad input and load -----------
  const s = await startServer(['--parallel', '4', '--metrics']);
  await waitReady(s.port);
  const client = new OpenAI({ baseURL: `http://127.0.0.1:${s.port}/v1`, apiKey: 'unused', maxRetries: 0 });

  // A second server on the same port says so and exits non-zero.
  const taken = spawn(aneExec, ['serve', ...modelArgs, '--port', String(s.port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let takenErr = '';
  taken.stderr.on('data', (d) => { takenErr += d; });
  const takenCode = await new Promise((r) => taken.on('exit', r));
  assert.notEqual(takenCode, 0, 'a taken port fails');
  assert.match(takenErr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${s.port}`));

  const models = await client.models.list();
  assert.equal(models.data[0].id, 'stories260K');

  const tok = JSON.parse((await request(s.port, 'POST', '/tokenize', { content: prompts[0], add_special: true })).text).tokens;
  const detok = JSON.parse((await request(s.port, 'POST', '/detokenize', { tokens: tok })).text).content;
  assert.equal(detok.trim(), prompts[0]);

  // Greedy output equals `ane-exec run`; usage counts are right.
  const c = await client.completions.create({ model: 'stories260K', prompt: prompts[0], max_tokens: 24, temperature: 0 });
  assert.equal(c.choices[0].text, expected[prompts[0]], 'completion equals ane-exec run');
  assert.equal(c.choices[0].finish_reason, 'length');
  assert.deepEqual(c.usage, { prompt_tokens: tok.length, completion_tokens: 24, total_tokens: tok.length + 24 });
  const chat = await client.chat.completions.create({ model: 'stories260K', messages: [{ role: 'user', content: prompts[0] }], max_tokens: 24, temperature: 0 });
  assert.equal(chat.object, 'chat.completion');
  assert.equal(chat.choices[0].message.role, 'assistant');
  assert.equal(chat.choices[0].message.content, expected[prompts[0]], 'chat (plain template) equals ane-exec run');

  // Streamed through the client: role first, then the same text, then the finish.
  const stream = await client.chat.completions.create({ messages: [{ role: 'user', content: prompts[1] }], max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true } });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant' });
  const ids = new Set(chunks.map((k) => k.id));
  assert.equal(ids.size, 1, 'one id per stream');
  const text = chunks.flatMap((k) => k.choices).map((ch) => ch.delta.content || '').join('');
  assert.equal(text, expected[prompts[1]]);
  const finish = chunks.filter((k) => k.choices.length && k.choices[0].finish_reason);
  assert.equal(finish.length, 1);
  assert.equal(finish[0].choices[0].finish_reason, 'length');
  assert.equal(chunks.at(-1).choices.length, 0, 'include_usage: a last chunk of usage alone');
  assert.equal(chunks.at(-1).usage.completion_tokens, 24);

  // The SSE bytes themselves.
  const raw = await request(s.port, 'POST', '/v1/chat/completions', { messages: [{ role: 'user', content: prompts[2] }], max_tokens: 8, temperature: 0, stream: true });
  assert.equal(raw.status, 200);
  assert.match(raw.headers['content-type'], /^text\/event-stream/);
  const events = raw.text.split('\n\n');
  assert.equal(events.pop(), '', 'every event ends in a blank line');
  assert.equal(events.at(-1), 'data: [DONE]');
  const parsed = events.slice(0, -1).map((e) => { assert.ok(e.startsWith('data: '), e); return JSON.parse(e.slice(6)); });
  for (const p of parsed) assert.equal(p.object, 'chat.completion.chunk');
  assert.deepEqual(parsed[0].choices[0].delta, { role: 'assistant' });
  const last = parsed.at(-1);
  assert.equal(last.choices[0].finish_reason, 'length');
  assert.equal(last.usage.completion_tokens, 8);
  for (const p of parsed.slice(1, -1)) assert.equal(p.choices[0].finish_reason, null);

  // Completions stream, and a stop string.
  const cs = await request(s.port, 'POST', '/v1/completions', { prompt: prompts[0], max_tokens: 24, temperature: 0, stream: true });
  const csText = cs.text.split('\n\n').filter((e) => e.startsWith('data: {')).map((e) => JSON.parse(e.slice(6)).choices[0].text).join('');
  assert.equal(csText, expected[prompts[0]]);
  const cut = expected[prompts[0]].indexOf(' girl');
  assert.ok(cut > 0);
  const stopped = await client.completions.create({ prompt: prompts[0], max_tokens: 24, temperature: 0, stop: [' girl'] });
  assert.equal(stopped.choices[0].text, expected[prompts[0]].slice(0, cut));
  assert.equal(stopped.choices[0].finish_reason, 'stop');

  // Bad input: the right status, an OpenAI error body, and still serving.
  const post = (body, path = '/v1/chat/completions') => request(s.port, 'POST', path, body);
  const msg = [{ role: 'user', content: 'Hi' }];
  expectError(await post('{"messages": [', ), 400, 'malformed JSON');
  expectError(await post({ messages: 'hi' }), 400, 'messages of the wrong type');
  expectError(await post({ messages: msg, max_tokens: 'ten' }), 400, 'max_tokens of the wrong type');
  expectError(await post({ messages: msg, temperature: true }), 400, 'temperature of the wrong type');
  expect(expectError(await post({ messages: msg, model: 'gpt-4o' }), 404, 'unknown model').code, 'model_not_found');
  expectError(await post({ messages: msg, max_tokens: -5 }), 400, 'negative max_tokens');
  expectError(await post({ messages: msg, max_tokens: 1e12 }), 400, 'huge max_tokens');
  expectError(await post({ messages: msg, max_tokens: 2 ** 70 }), 400, 'max_tokens past int64');
  expect(expectError(await post({ messages: [{ role: 'user', content: 'Once upon a time '.repeat(200) }] }), 400, 'a prompt longer than the context').code, 'context_length_exceeded');
  expectError(await post(Buffer.from('{"messages":[{"role":"user","content":"\xff\xfe"}]}', 'latin1')), 400, 'invalid UTF-8');
  expectError(await post(Buffer.alloc(10 << 20, 0x61)), 413, 'a 10 MB body');
  expectError(await request(s.port, 'GET', '/v1/nothing'), 404, 'an unknown endpoint');
  expectError(await post({ messages: [{ role: 'wizard', content: 'x' }] }), 400, 'an unknown role');
  expectError(await post({ prompt: [1, 99999] }, '/v1/completions'), 400, 'a token outside the vocabulary');

  // Fuzz-style: 300 damaged bodies (bytes flipped, cut, spliced) get a
  // status from the API's set, never a crash or a hang.
  let seed = 12345;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const valid = Buffer.from(JSON.stringify({ model: 'stories260K', messages: [{ role: 'user', content: 'Once' }], max_tokens: 3, temperature: 0.5, top_p: 0.9, top_k: 5, stop: ['x'], seed: 7, stream: false }));
  for (let i = 0; i < 300; ++i) {
    const b = Buffer.from(valid);
    for (let k = 0; k <= rand(4); ++k) b[rand(b.length)] = rand(256);
    const body = rand(3) === 0 ? b.subarray(0, rand(b.length)) : b;
    const r = await post(body, rand(2) ? '/v1/chat/completions' : '/v1/completions');
    assert.ok([200, 400, 404].includes(r.status), `damaged body ${i}: ${r.status} ${r.text}`);
    if (r.status !== 200) expectError(r, r.status, `damaged body ${i}`);
  }

  // A client that disconnects mid-stream frees its slot.
  await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: s.port, method: 'POST', path: '/v1/completions', headers: { 'content-type': 'application/json' } }, (res) => {
      res.once('data', () => { req.destroy(); resolve(); });
    });
    req.on('error', () => {});
    req.end(JSON.stringify({ prompt: 'Once', max_tokens: 400, temperature: 0, stream: true }));
    setTimeout(() => reject(new Error('no stream data')), 10000);
  });
  let processing = -1;
  for (let i = 0; i < 100 && processing !== 0; ++i) {
    await new Promise((r) => setTimeout(r, 50));
    const m = (await request(s.port, 'GET', '/metrics')).text;
    processing = Number(/^ane_requests_processing (\S+)$/m.exec(m)[1]);
  }
  assert.equal(processing, 0, 'the disconnected request left its slot');
  const after = await client.completions.create({ prompt: prompts[0], max_tokens: 24, temperature: 0 });
  assert.equal(after.choices[0].text, expected[prompts[0]], 'still serving after bad input');

  // Load: 8 clients x 20 requests, every output right.
  const before = (await request(s.port, 'GET', '/metrics')).text;
  let done = 0;
  await Promise.all(Array.from({ length: 8 }, async (_, k) => {
    for (let i = 0; i < 20; ++i) {
      const p = prompts[(k + i) % prompts.length];
      const r = await client.completions.create({ prompt: p, max_tokens: 24, temperature: 0 });
      assert.equal(r.choices[0].text, expected[p], `load: client ${k} request ${i}`);
      ++done;
    }
  }));
  assert.equal(done, 160);
  const m = (await request(s.port, 'GET', '/metrics')).text;
  const steps = metric(m, 'decode_steps_total') - metric(before, 'decode_steps_total');
  const tokens = metric(m, 'decode_step_tokens_total') - metric(before, 'decode_step_tokens_total');
  assert.ok(tokens / steps > 1.5, `decode steps were batched (${tokens} tokens in ${steps} steps)`);
  const peak = metric(m, 'resident_memory_peak_bytes');
  assert.ok(peak < 400 * (1 << 20), `peak RSS ${peak} stays bounded`);
  console.log(`load: 160 requests, ${(tokens / steps).toFixed(2)} tokens per decode step, peak RSS ${(peak / 2 ** 20).toFixed(1)} MiB`);

  // SIGTERM drains a request in flight.
  const inFlight = client.completions.create({ prompt: prompts[3], max_tokens: 24, temperature: 0 });
  await new Promise((r) => setTimeout(r, 5));
  s.child.kill('SIGTERM');
  assert.equal((await inFlight).choices[0].text, expected[prompts[3]], 'drained');
  assert.equal((await s.exited).code, 0);

  // -- API key -------------------------------------------------------------
  const k = await startServer(['--api-key', 'sekrit']);
  await waitReady(k.port);
  expect(expectError(await request(k.port, 'POST', '/v1/completions', { prompt: 'x' }), 401, 'no key').code, 'invalid_api_key');
  expectError(await request(k.port, 'POST', '/v1/completions', { prompt: 'x' }, { authorization: 'Bearer wrong' }), 401, 'a wrong key');
  assert.equal((await request(k.port, 'GET', '/v1/models')).status, 200, '/v1/models needs no key');
  const keyed = new OpenAI({ baseURL: `http://127.0.0.1:${k.port}/v1`, apiKey: 'sekrit', maxRetries: 0 });
  assert.equal((await keyed.completions.create({ prompt: prompts[0], max_tokens: 24, temperature: 0 })).choices[0].text, expected[prompts[0]]);
  await stop(k);

  // -- a full queue: 429, and the requests admitted still complete ----------
  const q = await startServer(['--parallel', '1', '--queue', '1', '--debug-step-delay', '0.02', '--metrics']);
  await waitReady(q.port);
  const burst = await Promise.all(Array.from({ length: 6 }, () => request(q.port, 'POST', '/v1/completions', { prompt: 'Once', max_tokens: 8, temperature: 0 })));
  const statuses = burst.map((r) => r.status).sort();
  assert.ok(statuses.includes(429), `a full queue answers 429 (${statuses})`);
  assert.ok(statuses.includes(200), `admitted requests complete (${statuses})`);
  for (const r of burst) if (r.status === 429) expectError(r, 429, 'queue full');
  assert.equal((await request(q.port, 'POST', '/v1/completions', { prompt: 'Once', max_tokens: 2 })).status, 200, 'serving after the burst');

  // A client of a request that is not streamed goes away: its slot is freed
  // long before the 400 steps (8 s) it asked for.
  const gone = http.request({ host: '127.0.0.1', port: q.port, method: 'POST', path: '/v1/completions', headers: { 'content-type': 'application/json' } });
  gone.on('error', () => {});
  gone.end(JSON.stringify({ prompt: 'Once', max_tokens: 400, temperature: 0 }));
  await new Promise((r) => setTimeout(r, 300));
  gone.destroy();
  const leftAt = Date.now();
  let busy = 1;
  while (busy !== 0 && Date.now() - leftAt < 2000) {
    await new Promise((r) => setTimeout(r, 50));
    busy = metric((await request(q.port, 'GET', '/metrics')).text, 'requests_processing');
  }
  assert.equal(busy, 0, 'the request whose client left still holds its slot');
  assert.equal(metric((await request(q.port, 'GET', '/metrics')).text, 'requests_cancelled_total'), 1);
  assert.equal((await request(q.port, 'POST', '/v1/completions', { prompt: 'Once', max_tokens: 2 })).status, 200, 'serving after the disconnect');
  await stop(q);

  // -- the watchdog ends a step that runs past --step-timeout ---------------
  const w = await startServer(['--step-timeout', '0.1', '--debug-step-delay', '0.4', '--metrics']);
  await waitReady(w.port);
  expect(expectError(await request(w.port, 'POST', '/v1/completions', { prompt: 'Once', max_tokens: 4 }), 500, 'a step past the timeout').code, 'step_timeout');
  assert.equal(metric((await request(w.port, 'GET', '/metrics')).text, 'step_timeouts_total'), 1);
  assert.equal((await request(w.port, 'GET', '/health')).status, 200, 'serving after the timeout');
  await stop(w);

  // -- the memory guard refuses what cannot fit ----------------------------
  const g = await startServer(['--memory-limit', '1000000', '--metrics']);
  await waitReady(g.port);
  const refused = expectError(await request(g.port, 'POST', '/v1/completions', { prompt: 'Once', max_tokens: 4 }), 503, 'over the memory limit');
  assert.equal(refused.code, 'insufficient_memory');
  assert.match(refused.message, /memory limit/);
  assert.equal(metric((await request(g.port, 'GET', '/metrics')).text, 'memory_guard_events_total'), 1);
  await stop(g);
  console.log('serve-openai: all checks passed');
}

function expect(a, b) { assert.equal(a, b); }

main().catch((e) => { console.error(e); process.exit(1); });
