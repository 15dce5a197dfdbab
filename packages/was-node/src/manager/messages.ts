/**
 * Replication messages: msgpackr-friendly objects `{ k: 'nodecat.session', v: 1, t: <type>, ... }`.
 * Stamps travel as [version, at, route]; a whole session as a FullSession; a delta's actions as
 * tuples: [0, name, bytes] set, [1, name] delete, [2, seconds] maxInactiveInterval,
 * [3, bytes | null] principal. The `k` marker lets other users of the channel coexist.
 */
import type { Stamp } from '../session/stamp.js'
import type { DeltaAction } from '../session/record.js'
import { SessionRecord, ownBytes } from '../session/record.js'

export const KIND = 'nodecat.session'
export const PROTOCOL = 1

export type StampTuple = [version: number, at: number, route: string]
export type ActionTuple = [0, string, Uint8Array] | [1, string] | [2, number] | [3, Uint8Array | null]

/** A whole session on the wire. `idle` (ms) instead of an absolute time: skew between clocks does not age it. */
export interface FullSession {
  id: string
  created: number
  idle: number
  max: number
  principal: Uint8Array | null
  stamp: StampTuple
  history: StampTuple[]
  attrs: Array<[string, Uint8Array]>
}

interface Head { k: typeof KIND, v: typeof PROTOCOL }
export type SessionMessage =
  | Head & { t: 'created', s: FullSession }
  | Head & { t: 'delta', id: string, from: StampTuple, to: StampTuple, a: ActionTuple[] }
  | Head & { t: 'expired', id: string, at: StampTuple, why: 'expired' | 'invalidated' }
  | Head & { t: 'accessed', id: string, at: StampTuple }
  | Head & { t: 'id-changed', from: string, to: string }
  | Head & { t: 'get-all', xfer: number }
  /** a state transfer's chunk: `n` sessions packed in `b` (transfer-chunk.ts), or (older senders) `s` as objects */
  | Head & { t: 'all-data', xfer: number, seq: number } & ({ n: number, b: Uint8Array } | { s: FullSession[] })
  | Head & { t: 'transfer-complete', xfer: number, count: number }
  | Head & { t: 'session-request', id: string, req: number }
  | Head & { t: 'session-full', id: string, req: number, s: FullSession | null }
  /** what a member holds (id and stamp per session; null: removed a moment ago), in chunks (reconcile.ts) */
  | Head & { t: 'digest', xfer: number, seq: number, last: boolean, answer: boolean, s: Array<[string, StampTuple | null]> }

export type MessageType = SessionMessage['t']
export const MESSAGE_TYPES: readonly MessageType[] = ['created', 'delta', 'expired', 'accessed', 'id-changed', 'get-all', 'all-data', 'transfer-complete', 'session-request', 'session-full', 'digest']

type Body<M> = M extends SessionMessage ? Omit<M, 'k' | 'v'> : never
/** build a message (adds the kind marker and protocol version) */
export function message (body: Body<SessionMessage>): SessionMessage {
  return { k: KIND, v: PROTOCOL, ...body } as SessionMessage
}

export const toTuple = (s: Stamp): StampTuple => [s.version, s.at, s.route]
export const fromTuple = (t: StampTuple): Stamp => ({ version: t[0], at: t[1], route: t[2] })

export function actionToTuple (a: DeltaAction): ActionTuple {
  switch (a.kind) {
    case 'set': return [0, a.name, a.bytes]
    case 'delete': return [1, a.name]
    case 'maxInactiveInterval': return [2, a.seconds]
    case 'principal': return [3, a.bytes]
  }
}

export function actionFromTuple (t: ActionTuple): DeltaAction {
  switch (t[0]) {
    case 0: return { kind: 'set', name: t[1], bytes: t[2] }
    case 1: return { kind: 'delete', name: t[1] }
    case 2: return { kind: 'maxInactiveInterval', seconds: t[1] }
    case 3: return { kind: 'principal', bytes: t[1] }
  }
}

export function toFull (r: SessionRecord, now: number): FullSession {
  return {
    id: r.id,
    created: r.creationTime,
    idle: Math.max(0, now - r.lastAccessedTime),
    max: r.maxInactiveInterval,
    principal: r.principal,
    stamp: toTuple(r.stamp),
    history: r.history.map(toTuple),
    attrs: [...r.attributes]
  }
}

/** a record from a validated FullSession; it is a backup here until a request uses it */
export function fromFull (f: FullSession, base: string, route: string, now: number): SessionRecord {
  const r = new SessionRecord(base, route, now, f.max, false)
  r.creationTime = f.created
  r.lastAccessedTime = now - f.idle
  r.lastReplicated = now
  r.principal = f.principal === null ? null : ownBytes(f.principal)
  for (const [name, bytes] of f.attrs) r.attributes.set(name, ownBytes(bytes))
  r.stamp = fromTuple(f.stamp)
  r.history = f.history.map(fromTuple)
  return r
}
