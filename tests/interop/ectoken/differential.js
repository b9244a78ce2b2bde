// Runs Edgecast token v3 operations through the npm `ectoken` package for fwtoken's
// differential test (tests/ectoken_interop.rs).
//
// usage: node differential.js CASES.json   (NODE_PATH or a node_modules next to it
//                                            must hold `ectoken`)
// CASES.json: [{"op": "encrypt", "key": K, "params": P} | {"op": "decrypt", "key": K, "token": T}, ...]
// stdout:     [{"ok": true, "value": V} | {"ok": false, "error": E}, ...] in the same order
'use strict';

const fs = require('fs');
const { V3 } = require('ectoken');

const cases = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const results = cases.map((c) => {
  try {
    if (c.op === 'encrypt') {
      return { ok: true, value: V3.encrypt(c.key, c.params) };
    }
    if (c.op === 'decrypt') {
      return { ok: true, value: String(V3.decrypt(c.key, c.token)) };
    }
    return { ok: false, error: `unknown op ${c.op}` };
  } catch (e) {
    return { ok: false, error: String(e && e.message ? e.message : e) };
  }
});
process.stdout.write(JSON.stringify(results));
