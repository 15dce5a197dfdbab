/**
 * Session deltas of a given encoded size, in two shapes:
 *
 * - `wire` (what a node really sends; the default of bench:replication): was-node stores every
 *   attribute value as msgpackr bytes, so a delta is a small message (`t: 'delta'`, the session id,
 *   from/to stamps, action tuples `[0, name, bytes]`) whose big part is one opaque Buffer — the
 *   shape of packages/was-node/src/manager/messages.ts. tribes only copies those bytes.
 * - `tree` (the older bench shape): the same change as a deep object tree (a cart with hundreds
 *   of items) that tribes must msgpack-encode and -decode field by field. It tells what an app
 *   pays that sends big structured values straight over a channel.
 */
import { Packr } from 'msgpackr'

/** Same msgpackr setup as the tribes message envelope (plain maps, no records). */
export const packr = new Packr({ useRecords: false })
// the attribute codec of was-node (records inline, Maps kept): what its attribute bytes are
const attrPackr = new Packr({ mapsAsObjects: false, moreTypes: true, useRecords: true })

export type DeltaShape = 'wire' | 'tree'
export const DELTA_SHAPES: readonly DeltaShape[] = ['wire', 'tree']

export interface Delta {
  sessionId: string
  version: number
  ops: Array<{ op: 'set' | 'remove', key: string, value?: unknown }>
}

/** was-node's replication message for a delta (messages.ts: `{k, v, t: 'delta', id, from, to, a}`) */
export interface WireDelta {
  k: 'nodecat.session'
  v: 1
  t: 'delta'
  id: string
  from: [number, number, string]
  to: [number, number, string]
  a: Array<[0, string, Uint8Array] | [1, string]>
}

function item (i: number, seed: number): Record<string, unknown> {
  return { sku: `SKU-${(seed * 131 + i).toString(36).padStart(6, '0')}`, name: `Item ${i} of order ${seed}`, qty: 1 + (i % 3), price: 9.99 + i }
}

function sessionIdOf (seed: number): string {
  return `${(0x9e3779b1 * (seed + 1) >>> 0).toString(16).padStart(8, '0').repeat(4)}.node1`
}

/** One tree-shaped delta of about `bytes` encoded bytes (never less); `seed` makes the variants differ. */
export function makeDelta (bytes: number, seed = 0): Delta {
  const sessionId = sessionIdOf(seed)
  const delta: Delta = { sessionId, version: 1 + seed, ops: [{ op: 'set', key: 'lastAccess', value: 1_764_000_000_000 + seed }] }
  if (packr.pack(delta).length >= bytes) return delta
  const items: Array<Record<string, unknown>> = []
  const cart = { items, total: 0 }
  delta.ops.push({ op: 'set', key: 'cart', value: cart }, { op: 'remove', key: 'flash' })
  let note = ''
  // why: whole items first, then a short note to land within a few bytes of the target size
  while (packr.pack(delta).length + 60 < bytes) { items.push(item(items.length, seed)); cart.total = items.length * 10 }
  const gap = bytes - packr.pack(delta).length
  if (gap > 0) { note = 'x'.repeat(Math.max(0, gap - 8)); (cart as Record<string, unknown>).note = note }
  while (packr.pack(delta).length < bytes) { note += 'x'; (cart as Record<string, unknown>).note = note }
  return delta
}

/**
 * One wire-shaped delta of about `bytes` encoded bytes (never less): the same change as
 * {@link makeDelta} (lastAccess, and for bigger sizes the cart), its values already encoded as
 * was-node's attribute bytes, as the replicator hands it to the channel.
 */
export function makeWireDelta (bytes: number, seed = 0): WireDelta {
  const tree = makeDelta(bytes, seed)
  const route = 'node1'
  const at = 1_764_000_000_000 + seed
  const d: WireDelta = {
    k: 'nodecat.session',
    v: 1,
    t: 'delta',
    id: tree.sessionId,
    from: [tree.version, at - 1000, route],
    to: [tree.version + 1, at, route],
    a: tree.ops.map((o) => o.op === 'set' ? [0, o.key, attrPackr.pack(o.value)] as [0, string, Uint8Array] : [1, o.key] as [1, string])
  }
  // why: the attribute codec packs a cart a little tighter than the envelope's codec; pad the
  // largest value's bytes (opaque to tribes) until the whole message reaches the size
  let size = packr.pack(d).length
  if (size < bytes) {
    const last = d.a.findLast((x) => x[0] === 0) as [0, string, Uint8Array]
    const padded = Buffer.alloc(last[2].length + (bytes - size), 0x20)
    padded.set(last[2])
    last[2] = padded
    size = packr.pack(d).length
    while (size < bytes) { last[2] = Buffer.concat([last[2], Buffer.from(' ')]); size = packr.pack(d).length }
  }
  return d
}

/** `count` distinct deltas of about `bytes` bytes each, to rotate through. */
export function makeDeltas (bytes: number, count?: number): Delta[]
export function makeDeltas (bytes: number, count: number, shape: 'tree'): Delta[]
export function makeDeltas (bytes: number, count: number, shape: 'wire'): WireDelta[]
export function makeDeltas (bytes: number, count: number, shape: DeltaShape): Array<Delta | WireDelta>
export function makeDeltas (bytes: number, count = 64, shape: DeltaShape = 'tree'): Array<Delta | WireDelta> {
  return Array.from({ length: count }, (_, i) => shape === 'wire' ? makeWireDelta(bytes, i) : makeDelta(bytes, i))
}

/** encoded size of a delta of this size and shape (what the envelope codec makes of it) */
export function encodedSize (bytes: number, shape: DeltaShape): number {
  return packr.pack(shape === 'wire' ? makeWireDelta(bytes) : makeDelta(bytes)).length
}
