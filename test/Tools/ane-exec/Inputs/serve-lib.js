// What the serve tests, the soak and the benchmark share: start
// `ane-exec serve` on a free port, plain HTTP requests, and metric lookup.
'use strict';
const { spawn } = require('node:child_process');
const http = require('node:http');

// Servers still running when the script exits (a failed check) are killed,
// so that a red test leaves no server behind.
const running = new Set();
process.on('exit', () => { for (const child of running) child.kill('SIGKILL'); });

// Starts `aneExec serve ARGS --port 0`; resolves once it says where it
// listens, with {child, port, exited, log}.
function startServer(aneExec, args) {
  const child = spawn(aneExec, ['serve', ...args, '--port', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  running.add(child);
  child.on('exit', () => running.delete(child));
  let stderr = '';
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal, stderr })));
  return new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      stderr += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stderr);
      if (m && !child.port) {
        child.port = Number(m[1]);
        resolve({ child, port: child.port, exited, log: () => stderr });
      }
    });
    child.on('exit', () => reject(new Error(`the server exited early:\n${stderr}`)));
  });
}

// One request; resolves with {status, headers, text}. A Buffer or string
// body goes as is, anything else as JSON.
function request(port, method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined
      : Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = http.request({
      host: '127.0.0.1', port, method, path,
      headers: { 'content-type': 'application/json', ...(data ? { 'content-length': data.length } : {}), ...headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

// Polls /health until 200; every answer before is 503.
async function waitReady(port) {
  for (let i = 0; i < 36000; ++i) {
    const r = await request(port, 'GET', '/health').catch(() => null);
    if (r && r.status === 200) return;
    if (r && r.status !== 503) throw new Error(`/health answered ${r.status} while loading`);
    await new Promise((s) => setTimeout(s, 50));
  }
  throw new Error('the server never became ready');
}

// The value of ane_NAME in a /metrics text.
function metric(text, name) {
  const m = new RegExp(`^ane_${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no metric ane_${name}`);
  return Number(m[1]);
}

module.exports = { startServer, request, waitReady, metric };
