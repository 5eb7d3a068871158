// Recomputes each event's hash from an audit export (JSON Lines on stdin: `keyctl audit export`, or the
// console's export) with a standard RFC 8785 implementation, and prints "<position> ok" or the mismatch.
// Exits 1 if any event does not match. Usage: node scripts/recompute-hash.mjs < export.jsonl
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize'; // RFC 8785 (JCS), by one of the RFC's authors

// JSON Lines are split on "\n" alone: an event's text may hold U+2028 or U+2029 unescaped (JSON allows
// them, and JSON.stringify leaves them), which Node's readline treats as line ends.
async function* lines(input) {
  let rest = '';
  input.setEncoding('utf8');
  for await (const chunk of input) {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop();
    yield* parts;
  }
  if (rest !== '') yield rest;
}

let mismatches = 0;
for await (const line of lines(process.stdin)) {
  if (line.trim() === '') continue;
  const e = JSON.parse(line);
  const text = canonicalize({ prevHash: e.prev_hash, type: e.type, data: e.data, metadata: e.metadata, revision: e.revision });
  const hash = createHash('sha256').update(text, 'utf8').digest('hex');
  if (hash !== e.hash) mismatches++;
  console.log(`${e.position} ${hash === e.hash ? 'ok' : `MISMATCH: recomputed ${hash}, exported ${e.hash}`}`);
}
process.exitCode = mismatches === 0 ? 0 : 1;
