/**
 * msgpackr encode/decode speed for session deltas of one size, in its own process (a fresh,
 * monomorphic JIT like a node's). Encode-only, decode-only and encode+decode slices are
 * interleaved for about `ms` in total. Args: bytes ms [shape: tree (default) | wire]. Prints ops/s
 * of each and the encoded size.
 */
import { makeDeltas, packr, type DeltaShape } from '../lib/deltas.js'

const bytes = Number(process.argv[2] ?? 1024)
const ms = Number(process.argv[3] ?? 1500)
const shape: DeltaShape = process.argv[4] === 'wire' ? 'wire' : 'tree'
const deltas = makeDeltas(bytes, 64, shape)
const encoded = deltas.map((d) => packr.pack(d) as Buffer)
const mean = encoded.reduce((a, b) => a + b.length, 0) / encoded.length
let sink = 0

type Op = (i: number) => void
const ops: Record<'encode' | 'decode' | 'roundTrip', Op> = {
  encode: (i) => { sink += packr.pack(deltas[i & 63]).length },
  decode: (i) => { sink += (packr.unpack(encoded[i & 63]!) as { v?: number, version?: number }).version ?? 1 },
  roundTrip: (i) => { sink += (packr.unpack(packr.pack(deltas[i & 63])) as { v?: number, version?: number }).version ?? 1 }
}
const totals = { encode: { n: 0, ns: 0 }, decode: { n: 0, ns: 0 }, roundTrip: { n: 0, ns: 0 } }

// why: warm up every path first so the first slice does not pay for compilation
for (const op of Object.values(ops)) for (let i = 0; i < 5000; i++) op(i)
const sliceMs = 50
const rounds = Math.max(1, Math.floor(ms / (sliceMs * 3)))
for (let r = 0; r < rounds; r++) {
  for (const name of ['encode', 'decode', 'roundTrip'] as const) {
    const op = ops[name]
    const t0 = process.hrtime.bigint()
    const end = t0 + BigInt(sliceMs) * 1_000_000n
    let n = 0
    let now = t0
    while (now < end) { for (let k = 0; k < 64; k++) op(n++); now = process.hrtime.bigint() }
    totals[name].n += n
    totals[name].ns += Number(now - t0)
  }
}
const rate = (t: { n: number, ns: number }): number => t.n / (t.ns / 1e9)
process.stdout.write(JSON.stringify({
  event: 'done',
  bytes,
  encodedBytes: mean,
  encodeOps: rate(totals.encode),
  decodeOps: rate(totals.decode),
  roundTripOps: rate(totals.roundTrip),
  sink: sink & 1
}) + '\n')
