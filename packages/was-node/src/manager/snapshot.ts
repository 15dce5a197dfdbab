/**
 * Read-only views of the session table, for status pages and tests: one session as stored, and a
 * digest of every copy (two nodes with the same digest hold identical copies).
 */
import { createHash } from 'node:crypto'
import type { SessionTable } from './session-table.js'
import { formatStamp } from '../session/stamp.js'
import { decodeValue } from '../session/codec.js'
import { parseSessionId, sessionRef } from '../session/id.js'

export interface SessionSnapshot {
  id: string
  version: number
  stamp: string
  primary: boolean
  attributes: Record<string, unknown>
  maxInactiveInterval: number
  lastAccessedTime: number
  creationTime: number
  principal: unknown
  bytes: number
}

/** one stored session, decoded, or null */
export function inspectSession (table: SessionTable, id: string): SessionSnapshot | null {
  const p = parseSessionId(id)
  const rec = p ? table.get(p.base) : undefined
  if (!rec) return null
  return {
    id: rec.id,
    version: rec.stamp.version,
    stamp: formatStamp(rec.stamp),
    primary: rec.primary,
    attributes: Object.fromEntries([...rec.attributes].map(([k, v]) => [k, decodeValue(v)])),
    maxInactiveInterval: rec.maxInactiveInterval,
    lastAccessedTime: rec.lastAccessedTime, // why: on this node's monotonic clock (clock.ts), which reads as ms since the epoch
    creationTime: rec.creationTime,
    principal: rec.principal ? decodeValue(rec.principal) : null,
    bytes: rec.bytes
  }
}

/**
 * Each session's reference (never its id) with its stamp, and one SHA-256 over every session's
 * reference, stamp, route, attributes and principal.
 */
export function replicaDigest (table: SessionTable): { count: number, digest: string, sessions: Record<string, string> } {
  const rows = [...table.values()].map((rec) => ({ ref: sessionRef(rec.id), rec })).sort((a, b) => a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0)
  const all = createHash('sha256')
  const sessions: Record<string, string> = {}
  for (const { ref, rec } of rows) {
    const one = createHash('sha256').update(`${ref}|${formatStamp(rec.stamp)}|${rec.route}|${rec.maxInactiveInterval}|`)
    for (const name of [...rec.attributes.keys()].sort()) one.update(`${name.length}:${name}`).update(rec.attributes.get(name)!)
    one.update(rec.principal ?? new Uint8Array(0))
    const h = one.digest('hex')
    all.update(h)
    sessions[ref] = `${formatStamp(rec.stamp)} ${h.slice(0, 12)}`
  }
  return { count: rows.length, digest: all.digest('hex'), sessions }
}
