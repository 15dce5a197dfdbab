/**
 * Realistic session deltas of a given encoded size: what a node sends after a request changed a
 * session (a session id with its route, a version, and the attribute operations). Small deltas
 * touch a timestamp; bigger ones carry a shopping cart whose item count sets the size.
 */
import { Packr } from 'msgpackr'

/** Same msgpackr setup as the tribes message envelope (plain maps, no records). */
export const packr = new Packr({ useRecords: false })

export interface Delta {
  sessionId: string
  version: number
  ops: Array<{ op: 'set' | 'remove', key: string, value?: unknown }>
}

function item (i: number, seed: number): Record<string, unknown> {
  return { sku: `SKU-${(seed * 131 + i).toString(36).padStart(6, '0')}`, name: `Item ${i} of order ${seed}`, qty: 1 + (i % 3), price: 9.99 + i }
}

/** One delta of about `bytes` encoded bytes (never less); `seed` makes the variants differ. */
export function makeDelta (bytes: number, seed = 0): Delta {
  const sessionId = `${(0x9e3779b1 * (seed + 1) >>> 0).toString(16).padStart(8, '0').repeat(4)}.node1`
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

/** `count` distinct deltas of about `bytes` bytes each, to rotate through. */
export function makeDeltas (bytes: number, count = 64): Delta[] {
  return Array.from({ length: count }, (_, i) => makeDelta(bytes, i))
}
