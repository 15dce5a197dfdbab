/**
 * State transfer, the answering side: every session to a starting member, streamed in packed
 * all-data chunks (transfer-chunk.ts) of at most N sessions / B bytes, then transfer-complete with
 * the number of sessions sent.
 *
 * Each chunk is sent 'sync' (acknowledged after the asker installed it), but the next one does not
 * wait for that: chunks go out while fewer than `window` bytes are unacknowledged (one chunk
 * always may), so the wire and both processes stay busy while what is in flight stays bounded. A chunk
 * is packed only when it may go, from the records as they are then (the newest copy). The first
 * failed chunk ends the answer (the asker asks again, or another member).
 */
import type { Logger } from 'pino'
import type { Member, SendResult } from '@nodecat/tribes'
import type { SessionRecord } from '../session/record.js'
import type { SessionMessage } from './messages.js'
import type { SessionManagerStats } from './stats.js'
import { message } from './messages.js'
import { ChunkWriter } from './transfer-chunk.js'

/** What the answering side needs. */
export interface AnswerHost {
  readonly log: Logger
  readonly stats: SessionManagerStats['transfer']
  send (msg: SessionMessage, to: Member, mode: 'async' | 'sync'): Promise<SendResult | null>
  /** the clock sessions' lastAccessedTime is on (their idle time travels) */
  mono (): number
}

export interface AnswerLimits {
  /** sessions per chunk */
  sessions: number
  /** bytes per chunk (a chunk ends after the session that reaches it) */
  bytes: number
  /** no further chunk is sent while this many bytes are unacknowledged (one chunk always may go) */
  window: number
}

/**
 * Unacknowledged bytes before the answer waits: two or three chunks of small sessions, so the asker
 * installs one while the next travel. Small, because a sync change the answering node sends the
 * asker meanwhile waits behind what is in flight (one connection, handled in order); a chunk bigger
 * than this (big sessions) goes alone, as before streaming.
 */
export const TRANSFER_WINDOW_BYTES = 512 * 1024

export interface AnswerOutcome {
  /** every chunk acknowledged and transfer-complete sent */
  complete: boolean
  sessions: number
  chunks: number
  bytes: number
  /** the most chunks unacknowledged at once */
  maxInFlight: number
}

/** answer get-all `xfer` of `to` with `sessions` (looked up as each chunk is packed) */
export async function answerGetAll (host: AnswerHost, xfer: number, to: Member, sessions: ReadonlyMap<string, SessionRecord>, limits: AnswerLimits): Promise<AnswerOutcome> {
  const bases = [...sessions.keys()]
  host.log.info({ member: to.id, sessions: bases.length }, 'sending all sessions to a starting member')
  const out: AnswerOutcome = { complete: false, sessions: 0, chunks: 0, bytes: 0, maxInFlight: 0 }
  const writer = new ChunkWriter(Math.min(limits.bytes, 1024 * 1024))
  let inFlight = 0
  let inFlightBytes = 0
  let failed = false
  let wake: (() => void) | null = null
  const settled = (): void => { const w = wake; wake = null; w?.() }

  const send = (): void => {
    const n = writer.count
    const b = writer.finish()
    inFlight++
    inFlightBytes += b.length
    if (inFlight > out.maxInFlight) out.maxInFlight = inFlight
    out.chunks++
    out.bytes += b.length
    out.sessions += n
    const msg = message({ t: 'all-data', xfer, seq: out.chunks - 1, n, b })
    void host.send(msg, to, 'sync').then((res) => res !== null && res.failed.length === 0, () => false).then((ok) => {
      if (!ok) failed = true
      inFlight--
      inFlightBytes -= b.length
      settled()
    })
  }
  /** until the window has room for another chunk (or a chunk failed) */
  const room = async (): Promise<void> => {
    while (!failed && inFlight > 0 && inFlightBytes >= limits.window) await new Promise<void>((resolve) => { wake = resolve })
  }
  const allAcknowledged = async (): Promise<void> => {
    while (inFlight > 0) await new Promise<void>((resolve) => { wake = resolve })
  }

  let i = 0
  while (i < bases.length && !failed) {
    await room()
    if (failed) break
    const now = host.mono()
    // why: records are looked up now, so a chunk carries the newest copy
    for (; i < bases.length && writer.count < limits.sessions && writer.bytes < limits.bytes; i++) {
      const rec = sessions.get(bases[i]!)
      if (rec === undefined || writer.add(rec, now)) continue
      if (writer.count > 0) break // its names or routes start the next chunk
      host.log.warn({ member: to.id }, 'a session that cannot be packed (id or route too long) is left out of the state transfer')
    }
    if (writer.count > 0) send()
    // why: packing the next chunk at once would keep this node from its own requests; let them in
    await new Promise((resolve) => setImmediate(resolve))
  }
  await allAcknowledged()
  if (failed) {
    host.log.warn({ member: to.id, chunks: out.chunks }, 'state transfer to a member aborted')
    return out
  }
  host.stats.sessionsSent += out.sessions
  const res = await host.send(message({ t: 'transfer-complete', xfer, count: out.sessions }), to, 'sync')
  out.complete = res !== null && res.failed.length === 0
  host.log.info({ member: to.id, sessions: out.sessions, chunks: out.chunks, bytes: out.bytes, maxInFlight: out.maxInFlight }, 'sent all sessions to a starting member')
  return out
}
