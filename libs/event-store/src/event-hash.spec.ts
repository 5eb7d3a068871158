import canonicalize from 'canonicalize';
import { spawnSync } from 'node:child_process';
import { createHash, randomInt } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChainVerifier, canonicalJson, eventHash } from './event-hash';
import { StoredEvent } from './event-store.port';

/** RFC 8785 (JSON Canonicalization Scheme): the examples of §3.2.2-3.2.3 and the number vectors of Appendix B. */
describe('canonicalJson is RFC 8785 (JCS)', () => {
  it('writes the §3.2.2 example as the RFC does', () => {
    const input = JSON.parse(
      '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}',
    );
    expect(canonicalJson(input)).toBe('{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}');
  });

  it('sorts members by UTF-16 code units (§3.2.3)', () => {
    const input = JSON.parse(
      '{"\\u20ac": "Euro Sign", "\\r": "Carriage Return", "\\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One", "\\ud83d\\ude00": "Emoji: Grinning Face", "\\u0080": "Control", "\\u00f6": "Latin Small Letter O With Diaeresis"}',
    );
    const names = Object.keys(JSON.parse(canonicalJson(input)) as object);
    // JSON.parse orders integer-like names first; read the order from the text instead.
    const text = canonicalJson(input);
    const order = ['\\r', '1', '\u0080', 'ö', '€', '😀', '\ufb33'].map((name) => text.indexOf(`"${name}"`));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect(names).toHaveLength(7);
  });

  // Appendix B: IEEE-754 bit patterns and their canonical text.
  it.each([
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ])('writes the double 0x%s as %s', (bits, text) => {
    expect(canonicalJson(Buffer.from(bits, 'hex').readDoubleBE(0))).toBe(text);
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a lone surrogate', { name: 'a\ud800b' }],
  ])('refuses %s, which I-JSON has not', (_what, value) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });

  it('agrees with the canonicalize package (by the RFC co-author) on generated values', () => {
    const pick = <T>(items: readonly T[]): T => items[randomInt(items.length)];
    const strings = ['', 'a', 'é', '€', '😀', '\u0000', '\u001f', '"\\', '\u2028', 'דּ', 'key', 'Key', '1', '10', '_'];
    const numbers = [0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789.123, Number.MAX_SAFE_INTEGER, 5e-324, -1.5e300];
    const generate = (depth: number): unknown => {
      const kind = randomInt(depth > 3 ? 4 : 6);
      if (kind === 0) return pick(strings) + pick(strings);
      if (kind === 1) return pick(numbers) * (randomInt(1000) + 1);
      if (kind === 2) return pick([true, false, null]);
      if (kind === 3) return pick(numbers);
      if (kind === 4) return Array.from({ length: randomInt(4) }, () => generate(depth + 1));
      return Object.fromEntries(Array.from({ length: randomInt(5) }, () => [pick(strings) + pick(strings), generate(depth + 1)]));
    };
    for (let i = 0; i < 2000; i++) {
      const value = generate(0);
      expect(canonicalJson(value)).toBe(canonicalize(value));
    }
  });
});

describe('eventHash', () => {
  it('is SHA-256 in hex over the canonical JSON of {prevHash, type, data, metadata, revision}', () => {
    const event = { type: 'ModelAccessKeyCreated', data: { name: 'k', b: [1, 2] }, metadata: { actor: 'u1' }, revision: 0 };
    const text = '{"data":{"b":[1,2],"name":"k"},"metadata":{"actor":"u1"},"prevHash":null,"revision":0,"type":"ModelAccessKeyCreated"}';
    expect(eventHash(null, event)).toBe(createHash('sha256').update(text, 'utf8').digest('hex'));
  });
});

/**
 * An export written on 2026-12-01 by the build before the hash was declared RFC 8785 (`keyctl audit
 * export`: model access keys created, renamed, regenerated and deleted, a Gcore key with non-ASCII,
 * quoted, escaped and U+2028 text). Stored chains must still verify.
 */
describe('chains stored before RFC 8785 was declared', () => {
  const fixture = path.join(__dirname, '../../../test/fixtures/audit-export-before-jcs.jsonl');
  const exported = fs
    .readFileSync(fixture, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line));

  it('verify with the chain verifier', () => {
    const verifier = new ChainVerifier();
    for (const e of exported) {
      const stored: StoredEvent = { ...e, streamId: e.stream_id, prevHash: e.prev_hash, recordedAt: e.recorded_at };
      expect(verifier.check(stored)).toBeNull();
    }
    expect(verifier.events).toBe(8);
  });

  it("recompute with the README's few lines of Node (scripts/recompute-hash.mjs), and a changed byte is caught", () => {
    const script = path.join(__dirname, '../../../scripts/recompute-hash.mjs');
    const run = (input: string) => spawnSync(process.execPath, [script], { input, encoding: 'utf8' });
    const intact = run(fs.readFileSync(fixture, 'utf8'));
    expect(intact.status).toBe(0);
    expect(intact.stdout.trim().split('\n')).toEqual(exported.map((e) => `${e.position} ok`));
    const tampered = run(fs.readFileSync(fixture, 'utf8').replace('"name":"fixture-key"', '"name":"fixture-kez"'));
    expect(tampered.status).toBe(1);
    expect(tampered.stdout).toMatch(/^1 MISMATCH: recomputed [0-9a-f]{64}, exported [0-9a-f]{64}$/m);
  });
});
