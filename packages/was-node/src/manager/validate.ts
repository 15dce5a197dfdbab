/**
 * Shape checks for every incoming replication message. A message that fails is dropped and counted
 * under a reason (never applied, never thrown): forged types, wrong field types, truncated
 * tuples, oversized arrays or values, ids that are not ours.
 */
import { parseSessionId } from '@nodecat/protocol'
import type { ActionTuple, FullSession, SessionMessage, StampTuple } from './messages.js'
import { KIND, MESSAGE_TYPES, PROTOCOL } from './messages.js'
import { decodeValue } from '../session/codec.js'

export interface MessageLimits {
  maxSessionBytes: number
  /** attributes in one session, actions in one delta */
  maxEntries: number
  /** sessions in one all-data message, entries in one digest message */
  maxChunkSessions: number
}

export type Checked = { ok: true, message: SessionMessage } | { ok: false, reason: string }

class Drop extends Error {}
const drop = (reason: string): never => { throw new Drop(reason) }

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x) && !(x instanceof Uint8Array)
const isInt = (x: unknown, min = 0): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= min
const isBytes = (x: unknown, max: number): x is Uint8Array => x instanceof Uint8Array && x.length <= max
const isName = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= 256

/** value bytes must decode here, or the app would meet the corruption at get() */
function value (x: unknown, lim: MessageLimits): boolean {
  if (!isBytes(x, lim.maxSessionBytes)) return false
  try { decodeValue(x); return true } catch { return drop('undecodable-value') }
}

function id (x: unknown, field: string): string {
  if (parseSessionId(x) === null) drop(`bad-${field}`)
  return x as string
}

function stamp (x: unknown, field: string): StampTuple {
  if (!Array.isArray(x) || x.length !== 3 || !isInt(x[0]) || !isInt(x[1]) || typeof x[2] !== 'string' || x[2].length > 64) drop(`bad-${field}`)
  return x as StampTuple
}

function action (x: unknown, lim: MessageLimits): ActionTuple {
  if (!Array.isArray(x)) return drop('bad-action')
  switch (x[0]) {
    case 0: if (x.length === 3 && isName(x[1]) && value(x[2], lim)) return x as ActionTuple; break
    case 1: if (x.length === 2 && isName(x[1])) return x as ActionTuple; break
    case 2: if (x.length === 2 && isInt(x[1], -2_000_000_000)) return x as ActionTuple; break
    case 3: if (x.length === 2 && (x[1] === null || value(x[1], lim))) return x as ActionTuple; break
  }
  return drop('bad-action')
}

function full (x: unknown, lim: MessageLimits): FullSession {
  if (!isObj(x)) return drop('bad-session')
  id(x.id, 'session-id')
  if (!isInt(x.created) || !isInt(x.idle) || !isInt(x.max, -2_000_000_000)) drop('bad-session-times')
  if (x.principal !== null && !value(x.principal, lim)) drop('bad-session-principal')
  stamp(x.stamp, 'session-stamp')
  if (!Array.isArray(x.history) || x.history.length > 64) drop('bad-session-history')
  for (const h of x.history as unknown[]) stamp(h, 'session-history')
  if (!Array.isArray(x.attrs) || x.attrs.length > lim.maxEntries) drop('bad-session-attrs')
  let bytes = 0
  for (const a of x.attrs as unknown[]) {
    if (!Array.isArray(a) || a.length !== 2 || !isName(a[0]) || !value(a[1], lim)) drop('bad-session-attrs')
    bytes += (a as [string, Uint8Array])[1].length
  }
  if (bytes > lim.maxSessionBytes * 2) drop('session-too-large') // why: a little slack for peers with a larger limit
  return x as unknown as FullSession
}

/** Check one incoming message; `null` when it is not a session message at all (someone else's). */
export function checkMessage (raw: unknown, lim: MessageLimits): Checked | null {
  if (!isObj(raw) || raw.k !== KIND) return null
  try {
    if (raw.v !== PROTOCOL) drop('unsupported-protocol')
    if (typeof raw.t !== 'string' || !(MESSAGE_TYPES as readonly string[]).includes(raw.t)) drop('unknown-type')
    switch (raw.t) {
      case 'created': full(raw.s, lim); break
      case 'delta': {
        id(raw.id, 'id')
        stamp(raw.from, 'from')
        stamp(raw.to, 'to')
        if (!Array.isArray(raw.a) || raw.a.length > lim.maxEntries) drop('bad-actions')
        let bytes = 0
        for (const a of raw.a as unknown[]) { const t = action(a, lim); if (t[0] === 0) bytes += t[2].length }
        if (bytes > lim.maxSessionBytes * 2) drop('delta-too-large')
        break
      }
      case 'expired':
        id(raw.id, 'id'); stamp(raw.at, 'at')
        if (raw.why !== 'expired' && raw.why !== 'invalidated') drop('bad-why')
        break
      case 'accessed': id(raw.id, 'id'); stamp(raw.at, 'at'); break
      case 'id-changed': id(raw.from, 'from'); id(raw.to, 'to'); break
      case 'get-all': if (!isInt(raw.xfer)) drop('bad-xfer'); break
      case 'all-data':
        if (!isInt(raw.xfer) || !isInt(raw.seq)) drop('bad-xfer')
        // why: packed sessions are checked as they are unpacked, with these limits (transfer-chunk.ts)
        if (raw.b !== undefined) { if (!(raw.b instanceof Uint8Array) || !isInt(raw.n) || raw.n > lim.maxChunkSessions) drop('bad-chunk'); break }
        if (!Array.isArray(raw.s) || raw.s.length > lim.maxChunkSessions) drop('bad-chunk')
        for (const s of raw.s as unknown[]) full(s, lim)
        break
      case 'transfer-complete': if (!isInt(raw.xfer) || !isInt(raw.count)) drop('bad-xfer'); break
      case 'session-request': id(raw.id, 'id'); if (!isInt(raw.req)) drop('bad-req'); break
      case 'session-full':
        id(raw.id, 'id'); if (!isInt(raw.req)) drop('bad-req')
        if (raw.s !== null) full(raw.s, lim)
        break
      case 'digest':
        if (!isInt(raw.xfer) || !isInt(raw.seq) || typeof raw.last !== 'boolean' || typeof raw.answer !== 'boolean') drop('bad-xfer')
        if (!Array.isArray(raw.s) || raw.s.length > lim.maxChunkSessions) drop('bad-chunk')
        for (const e of raw.s as unknown[]) {
          if (!Array.isArray(e) || e.length !== 2) drop('bad-digest-entry')
          id((e as unknown[])[0], 'digest-id')
          if ((e as unknown[])[1] !== null) stamp((e as unknown[])[1], 'digest-stamp')
        }
        break
    }
    return { ok: true, message: raw as unknown as SessionMessage }
  } catch (err) {
    if (err instanceof Drop) return { ok: false, reason: err.message }
    return { ok: false, reason: 'invalid' }
  }
}
