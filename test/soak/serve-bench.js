// Aggregate decode throughput of `ane-exec serve` (or of llama.cpp's
// llama-server, for a figure beside it) at 1, 2, 4 and 8 parallel streams
// (not run in CI). Usage:
//   node test/soak/serve-bench.js ANE_EXEC TOKENS -- SERVE_ARGS...
//   node test/soak/serve-bench.js --llama-server LLAMA_SERVER TOKENS -- ARGS...
// For each N a server with N slots gets N concurrent requests of TOKENS
// new tokens each (greedy; a stream that ends early counts the tokens it
// made); prints tokens/s over all streams and per stream, and the mean
// batch of our decode steps.
'use strict';
const net = require('node:net');
const { spawn } = require('node:child_process');
const { startServer, request, waitReady, metric } = require('../Tools/ane-exec/Inputs/serve-lib.js');

const argv = process.argv.slice(2);
const peer = argv[0] === '--llama-server';
const [aneExec, tokens, sep, ...serveArgs] = peer ? argv.slice(1) : argv;
if (!aneExec || sep !== '--') {
  console.error('usage: serve-bench.js [--llama-server] SERVER TOKENS -- SERVE_ARGS...');
  process.exit(2);
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// llama-server with N slots on a free port; the same shape as startServer's.
async function startPeer(n) {
  const port = await freePort();
  const child = spawn(aneExec, [...serveArgs, '--host', '127.0.0.1', '--port', String(port), '-np', String(n)],
                      { stdio: ['ignore', 'ignore', 'ignore'] });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve({ code })));
  return { child, port, exited };
}
const prompts = ['Once upon a time', 'The little dog', 'Lily and Ben', 'One day, a bird', 'Tom had a red ball',
                 'The sun was', 'A big cat', 'Sam and Mia'];

async function main() {
  console.log('streams  aggregate tok/s  per stream  mean batch');
  for (const n of [1, 2, 4, 8]) {
    const server = peer ? await startPeer(n)
                        : await startServer(aneExec, [...serveArgs, '--parallel', String(n), '--metrics']);
    await waitReady(server.port);
    // One warm-up request (first-touch page faults of a mapped model).
    await request(server.port, 'POST', '/v1/completions', { prompt: 'Once', max_tokens: 4, temperature: 0 });
    const before = peer ? '' : (await request(server.port, 'GET', '/metrics')).text;
    const t0 = process.hrtime.bigint();
    const results = await Promise.all(Array.from({ length: n }, (_, k) =>
      request(server.port, 'POST', '/v1/completions', { prompt: prompts[k], max_tokens: Number(tokens), temperature: 0 })));
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    let made = 0;
    for (const r of results) {
      if (r.status !== 200) throw new Error(`${r.status} ${r.text}`);
      made += JSON.parse(r.text).usage.completion_tokens;
    }
    let batch = '-';
    if (!peer) {
      const after = (await request(server.port, 'GET', '/metrics')).text;
      const steps = metric(after, 'decode_steps_total') - metric(before, 'decode_steps_total');
      batch = ((metric(after, 'decode_step_tokens_total') - metric(before, 'decode_step_tokens_total')) / steps).toFixed(2);
    }
    console.log(`${String(n).padStart(7)}  ${(made / wall).toFixed(2).padStart(15)}  ${(made / wall / n).toFixed(2).padStart(10)}  ${batch.padStart(10)}`);
    server.child.kill('SIGTERM');
    await server.exited;
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
