/**
 * The codec baseline of bench:transfer: msgpackr encode + decode of the same session set a state
 * transfer moves (N typical small sessions as FullSession records, their attributes msgpackr-
 * encoded, in all-data chunks of 1000), in a fresh process. Building the set is not timed;
 * attributes are not decoded (nodes keep them as bytes).
 * Args: count. Prints {"event":"done", ms, bytes, chunks}.
 */
import { Packr } from 'msgpackr'

const count = Number(process.argv[2] ?? 10_000)
// why: the tribes envelope's setup (plain maps); attribute values use the same
const packr = new Packr({ useRecords: false })
const CHUNK = 1000

function session (i: number): Record<string, unknown> {
  const base = (i * 2654435761 >>> 0).toString(16).padStart(8, '0').repeat(4)
  const at = 1_795_000_000_000 + i
  return {
    id: `${base}.node1`,
    created: at,
    idle: 1000,
    max: 1800,
    principal: null,
    stamp: [5, at, 'node1'],
    history: [[4, at - 1, 'node1']],
    attrs: [
      ['user', packr.pack(`user-${i}@example.org`)],
      ['count', packr.pack(i % 50)],
      ['cart', packr.pack(['apple', 'pear', `item-${i % 100}`])],
      ['loginAt', packr.pack(at)]
    ]
  }
}

const chunks: Array<Array<Record<string, unknown>>> = []
for (let i = 0; i < count; i += CHUNK) chunks.push(Array.from({ length: Math.min(CHUNK, count - i) }, (_, k) => session(i + k)))
// why: a warm JIT, as in a node that has been running; a cold first chunk would dominate small sets
for (let k = 0; k < 5; k++) packr.unpack(packr.pack({ k: 'nodecat.session', v: 1, t: 'all-data', xfer: 0, seq: k, s: chunks[0] }))
let bytes = 0
let decoded = 0
const t0 = performance.now()
for (let seq = 0; seq < chunks.length; seq++) {
  const buf = packr.pack({ k: 'nodecat.session', v: 1, t: 'all-data', xfer: 1, seq, s: chunks[seq] })
  bytes += buf.length
  // why: attributes stay encoded on both sides (a node stores them as bytes), so only the envelope counts
  decoded += (packr.unpack(buf) as { s: unknown[] }).s.length
}
const ms = performance.now() - t0
process.stdout.write(JSON.stringify({ event: 'done', count, decoded, chunks: chunks.length, bytes, ms }) + '\n')
