// A soak of `ane-exec serve` (not run in CI). Usage:
//   node test/soak/serve-soak.js ANE_EXEC SECONDS CLIENTS -- SERVE_ARGS...
// CLIENTS loops send mixed requests (chat and completions, streamed or not,
// short prompts and long ones, some cut off mid-stream, some whose client
// leaves before the answer) for SECONDS, then the script prints the errors
// (which must be 0), the RSS at the start and end, and p50/p99 latency; it
// exits 1 on any error.
'use strict';
const http = require('node:http');
const { startServer, request, waitReady, metric } = require('../Tools/ane-exec/Inputs/serve-lib.js');

const [aneExec, seconds, clients, sep, ...serveArgs] = process.argv.slice(2);
if (!aneExec || sep !== '--') {
  console.error('usage: serve-soak.js ANE_EXEC SECONDS CLIENTS -- SERVE_ARGS...');
  process.exit(2);
}
const prompts = ['Once upon a time', 'The little dog', 'Lily and Ben', 'One day, a bird', 'Tom had a red ball',
                 // Several prefill chunks, prefilled between the other slots' steps.
                 'Lily and Tom went to the park with their mom. They saw a big tree with red apples, a pond with ' +
                 'ducks, and a slide that was very tall. Tom wanted to go on the slide first, but Lily said'];

// A stream read until its first event, then dropped.
function cutStream(port, body) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/completions', headers: { 'content-type': 'application/json' } }, (res) => {
      res.once('data', () => { req.destroy(); resolve(res.statusCode); });
    });
    req.on('error', () => resolve(0));
    req.end(JSON.stringify(body));
  });
}

// A request that is not streamed, its client gone after `ms`.
function leave(port, body, ms) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/v1/completions', headers: { 'content-type': 'application/json' } });
    req.on('error', () => {});
    req.end(JSON.stringify(body));
    setTimeout(() => { req.destroy(); resolve(); }, ms);
  });
}

async function main() {
  const server = await startServer(aneExec, [...serveArgs, '--metrics']);
  await waitReady(server.port);
  const rssStart = metric((await request(server.port, 'GET', '/metrics')).text, 'resident_memory_bytes');
  const end = Date.now() + Number(seconds) * 1000;
  const latencies = [];
  const errors = [];
  let requests = 0, cut = 0, left = 0, tokens = 0, i = 0;
  await Promise.all(Array.from({ length: Number(clients) }, async (_, c) => {
    while (Date.now() < end) {
      const n = ++i;
      const prompt = prompts[n % prompts.length];
      const max = 8 + (n * 7) % 57;
      const stream = n % 3 === 0;
      if (n % 11 === 0) {
        await cutStream(server.port, { prompt, max_tokens: 200, stream: true });
        ++cut;
        continue;
      }
      if (n % 13 === 0) {
        await leave(server.port, { prompt, max_tokens: 200 }, 5 + n % 40);
        ++left;
        continue;
      }
      const chat = n % 2 === 0;
      const body = chat ? { messages: [{ role: 'user', content: prompt }], max_tokens: max, stream, temperature: 0.8, seed: n }
                        : { prompt, max_tokens: max, stream, temperature: 0.8, seed: n };
      const t0 = process.hrtime.bigint();
      const r = await request(server.port, 'POST', chat ? '/v1/chat/completions' : '/v1/completions', body).catch((e) => ({ status: 0, text: String(e) }));
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      ++requests;
      const ok = r.status === 200 && (stream ? r.text.endsWith('data: [DONE]\n\n') && !r.text.includes('"error"') : !!JSON.parse(r.text).usage);
      if (!ok) errors.push(`client ${c} request ${n}: ${r.status} ${r.text.slice(0, 200)}`);
      else if (!stream) tokens += JSON.parse(r.text).usage.completion_tokens;
    }
  }));
  const m = (await request(server.port, 'GET', '/metrics')).text;
  const rssEnd = metric(m, 'resident_memory_bytes');
  server.child.kill('SIGTERM');
  const { code } = await server.exited;
  if (code !== 0) errors.push(`the server exited ${code}`);
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))].toFixed(1);
  const mib = (b) => (b / 2 ** 20).toFixed(1);
  console.log(`soak: ${seconds} s, ${clients} clients: ${requests} requests + ${cut} cut off mid-stream + ` +
              `${left} left before the answer (${metric(m, 'requests_cancelled_total')} cancelled), ` +
              `${metric(m, 'tokens_predicted_total')} tokens generated`);
  console.log(`errors: ${errors.length}`);
  for (const e of errors.slice(0, 10)) console.log(`  ${e}`);
  console.log(`RSS: ${mib(rssStart)} MiB at the start, ${mib(rssEnd)} MiB at the end (drift ${mib(rssEnd - rssStart)} MiB), peak ${mib(metric(m, 'resident_memory_peak_bytes'))} MiB`);
  console.log(`latency: p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms`);
  process.exit(errors.length ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(1); });
