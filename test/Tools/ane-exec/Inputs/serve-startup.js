// Starts `ane-exec serve ARGS`, waits until it is ready, sends one chat
// request, prints the server's stderr and the request's usage, and stops
// it with SIGTERM. Usage: node serve-startup.js ANE_EXEC ARGS...
'use strict';
const { startServer, request, waitReady } = require('./serve-lib.js');

async function main() {
  const [aneExec, ...args] = process.argv.slice(2);
  const s = await startServer(aneExec, args);
  await waitReady(s.port);
  const r = await request(s.port, 'POST', '/v1/chat/completions',
                          { messages: [{ role: 'system', content: 'Be kind.' }, { role: 'user', content: 'Hi' }], max_tokens: 1 });
  s.child.kill('SIGTERM');
  const { code, stderr } = await s.exited;
  process.stdout.write(stderr);
  console.log(`chat: ${r.status} prompt_tokens ${JSON.parse(r.text).usage.prompt_tokens}`);
  process.exit(code);
}

main().catch((e) => { console.error(e); process.exit(1); });
