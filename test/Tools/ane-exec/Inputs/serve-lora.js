// Per-request adapters: `ane-exec serve --lora A.gguf` serves the adapted
// model by default, and a request's `lora` field ([{id, scale}], adapters
// it does not list at scale 0) picks the scale; requests with different
// adapters in flight together each get their own. Usage:
//   node serve-lora.js ANE_EXEC MODELS_DIR ADAPTER.gguf
'use strict';
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { startServer, request, waitReady } = require('./serve-lib.js');

const [aneExec, models, adapter] = process.argv.slice(2);
const modelArgs = ['-m', `${models}/stories260K.bin`, '-z', `${models}/tok512.bin`];
const prompt = 'Once upon a time';

function runGreedy(extra) {
  const out = execFileSync(aneExec, ['run', ...modelArgs, ...extra, '-p', prompt, '-n', '32', '--temp', '0'],
                           { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return out.slice(prompt.length, -1);
}

async function complete(port, lora) {
  const body = { prompt, max_tokens: 32, temperature: 0 };
  if (lora !== undefined) body.lora = lora;
  const r = await request(port, 'POST', '/v1/completions', body);
  assert.equal(r.status, 200, r.text);
  return JSON.parse(r.text).choices[0].text;
}

async function main() {
  const base = runGreedy([]);
  const adapted = runGreedy(['--lora', adapter]);
  const half = runGreedy(['--lora-scaled', adapter, '0.5']);
  assert.notEqual(base, adapted, 'the adapter changes the greedy text');

  const s = await startServer(aneExec, [...modelArgs, '--lora', adapter, '--parallel', '3']);
  await waitReady(s.port);
  assert.equal(await complete(s.port), adapted, 'no lora field: the --lora adapters');
  assert.equal(await complete(s.port, [{ id: 0, scale: 1 }]), adapted);
  assert.equal(await complete(s.port, [{ id: 0, scale: 0 }]), base, 'scale 0: the base model');
  assert.equal(await complete(s.port, []), base, 'an empty list: every adapter at 0');
  assert.equal(await complete(s.port, [{ id: 0, scale: 0.5 }]), half, 'scale 0.5 = --lora-scaled A 0.5');
  // Three adapter mixes in flight at once.
  const together = await Promise.all([complete(s.port, [{ id: 0, scale: 0 }]), complete(s.port),
                                      complete(s.port, [{ id: 0, scale: 0.5 }])]);
  assert.deepEqual(together, [base, adapted, half]);
  for (const bad of [[{ id: 1, scale: 1 }], [{ id: 0 }], { id: 0, scale: 1 }, [{ id: 0, scale: 'big' }]]) {
    const r = await request(s.port, 'POST', '/v1/completions', { prompt, lora: bad });
    assert.equal(r.status, 400, JSON.stringify(bad));
  }
  s.child.kill('SIGTERM');
  assert.equal((await s.exited).code, 0);

  const plain = await startServer(aneExec, modelArgs);
  await waitReady(plain.port);
  const r = await request(plain.port, 'POST', '/v1/completions', { prompt, lora: [{ id: 0, scale: 1 }] });
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.text).error.message, /start it with --lora/);
  plain.child.kill('SIGTERM');
  assert.equal((await plain.exited).code, 0);
  console.log('serve-lora: all checks passed');
}

main().catch((e) => { console.error(e); process.exit(1); });
