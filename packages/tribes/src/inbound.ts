/**
 * What the channel does with every received frame: tell nodecat envelopes from foreign messages,
 * open (decrypt, authenticate, replay-check) them, route heartbeats to static membership, and
 * hand app values to the onMessage handlers with the sender as a Member.
 *
 * Drops are counted by reason and never crash: `foreign-message` (no BYTE_MESSAGE or no "NC"
 * magic, e.g. a Tomcat's Java-serialized SessionMessage, that no onForeignMessage handler took),
 * `foreign-unknown-sender` (such a message whose sender blob is no foreign member membership
 * lists: nothing is offered or answered for it), `foreign-handler-failed`, `decrypt`, `replay`, `malformed`,
 * `domain`, `not-listed` (static membership: the sender is not in the list; its connection is
 * closed, `first-frame-not-listed`, unless a listed member's message proved it before). Tomcat's
 * TcpFailureDetector probe is swallowed silently. In sync mode a dropped message is answered with
 * FAIL_ACK (the sender learns it was not processed), except a replay, which is acked: it is a
 * duplicate of a message already processed.
 *
 * Connections (the receiver runs with `proof: 'handler'`): an envelope that opens (with a cluster
 * key: authentic and fresh) proves its connection, so it is never evicted for a stranger's. With
 * a key, a connection whose first message does not authenticate is closed at once
 * (`first-frame-unauthenticated`, on top of the message's own drop). A probe or a replay proves
 * nothing and refuses nothing: the first-frame clock keeps running. A foreign message that a
 * handler took does not prove its connection either, but does not close it: it is a Tomcat's
 * pooled connection, which that Tomcat would find closed when it next writes (and retry, and
 * suspect us).
 */
import type { Logger } from 'pino'
import type { ForeignMessage, ForeignMessageHandler, Member, MessageHandler } from './types.js'
import { errors, type TribesError } from './errors.js'
import type { Keyring } from './crypto/keyring.js'
import type { ChannelData } from './codec/channel-data.js'
import type { InboundHandler, InboundPeer } from './transport/receiver.js'
import { isEnvelope, isTcpFailDetect, openEnvelope, splitBatchBody, unpackValue, type OpenedEnvelope } from './codec/envelope.js'
import { hostToBytes, identityKey, identityKeyOfBlob } from './codec/member.js'
import { decodeMemberBlob } from './membership/datagram.js'
import { worthLogging, type TransportCounters } from './transport/counters.js'

export interface InboundOptions {
  keyring: Keyring | undefined
  counters: TransportCounters
  logger: Logger
  /** our domain; messages from a sender of another domain are dropped */
  domain: string
  handlers: ReadonlySet<MessageHandler>
  /** members known to membership, by {@link identityKeyOfMember} */
  known: ReadonlyMap<string, Member>
  /** a heartbeat or goodbye frame (static membership): its sender blob */
  onHeartbeat: (blob: Buffer, from: string) => void
  /**
   * static membership: may a message with this sender blob, on a connection from `from`, speak
   * for a member (membership/static-allow-list.ts)? Asked once the envelope opened.
   */
  admits?: (sender: Buffer, from: string) => boolean
  /** handlers of foreign members' messages (Channel.onForeignMessage) */
  foreignHandlers?: ReadonlySet<ForeignMessageHandler>
  /** the foreign member membership lists with this sender blob, if any */
  foreignSender?: (blob: Buffer) => Member | undefined
  /** ForeignMessage.reply: send a message of ours to that foreign member */
  replyForeign?: (to: Member, message: Uint8Array, options?: number) => Promise<void>
}

const isPromise = (v: unknown): v is Promise<void> => typeof (v as Promise<void> | undefined)?.then === 'function'

/** The member's identityKey (codec/member.ts): what a sender blob is looked up by (identityKeyOfBlob). */
export function identityKeyOfMember (m: Member): string {
  return identityKey(m.port, hostToBytes(m.host), Buffer.from(m.uniqueId, 'hex'))
}

export function createInboundHandler (o: InboundOptions): InboundHandler {
  const drop = (reason: string, from: string, err: unknown): void => {
    const n = o.counters.drop(reason)
    if (worthLogging(n)) o.logger.warn({ reason, from, count: n, err }, 'message dropped')
    else o.logger.debug({ reason, from, count: n }, 'message dropped')
  }

  const senderOf = (blob: Buffer, from: string): Member | undefined => {
    const key = identityKeyOfBlob(blob)
    const known = key === undefined ? undefined : o.known.get(key)
    if (known !== undefined) return known
    try {
      const { member } = decodeMemberBlob(blob)
      if (member.domain !== o.domain) { drop('domain', from, undefined); return undefined }
      return member
    } catch (err) {
      drop('malformed', from, err)
      return undefined
    }
  }

  /** call every handler; a promise when some handler is async, a throw when one throws */
  const dispatch = (value: unknown, sender: Member): Promise<void> | undefined => {
    o.counters.messagesReceived++
    let pending: Array<Promise<void>> | undefined
    let failure: unknown
    for (const handler of o.handlers) {
      try {
        const r = handler(value, sender)
        if (isPromise(r)) (pending ??= []).push(r)
      } catch (err) {
        failure ??= err
      }
    }
    if (failure !== undefined) {
      // why: still wait for the async handlers that did start, then report the failure
      if (pending === undefined) throw failure
      return Promise.allSettled(pending).then(() => { throw failure })
    }
    if (pending === undefined) return undefined
    return pending.length === 1 ? pending[0] : Promise.all(pending).then(() => undefined)
  }

  /** with a key, a stranger's connection ends at its first message that does not authenticate */
  const unauthenticated = (conn: InboundPeer): void => {
    if (o.keyring !== undefined && !conn.proven) conn.refuse('first-frame-unauthenticated')
  }

  /** offer a foreign message to the handlers; true when one took it (a handler's throw goes on up) */
  const offerForeign = (cd: ChannelData, from: string): boolean => {
    const handlers = o.foreignHandlers
    if (handlers === undefined || handlers.size === 0 || o.foreignSender === undefined || o.replyForeign === undefined) {
      drop('foreign-message', from, undefined)
      return false
    }
    const sender = o.foreignSender(cd.sender)
    if (sender === undefined) { drop('foreign-unknown-sender', from, undefined); return false }
    const replyForeign = o.replyForeign
    // why copies: the views point into a socket chunk that is reused once this returns
    const message: ForeignMessage = {
      options: cd.options,
      timestamp: cd.timestamp,
      uniqueId: Buffer.from(cd.uniqueId),
      message: Buffer.from(cd.message),
      sender,
      from,
      reply: (bytes, options) => replyForeign(sender, bytes, options)
    }
    for (const handler of handlers) {
      let took: boolean
      try {
        took = handler(message)
      } catch (err) {
        drop('foreign-handler-failed', from, err)
        throw err
      }
      if (took) return true
    }
    drop('foreign-message', from, undefined)
    return false
  }

  return (body: Buffer, cd: ChannelData, from: string, conn: InboundPeer) => {
    if (!isEnvelope(cd)) {
      if (isTcpFailDetect(cd)) return
      if (offerForeign(cd, from)) return
      unauthenticated(conn)
      return
    }
    let opened: OpenedEnvelope
    try {
      opened = openEnvelope(body, cd, o.keyring)
    } catch (err) {
      const code = (err as TribesError).code
      if (code === 'TRIBES_ERR_REPLAY') { drop('replay', from, err); return }
      drop(code === 'TRIBES_ERR_DECRYPT' ? 'decrypt' : 'malformed', from, err)
      unauthenticated(conn)
      throw err
    }
    if (o.admits !== undefined && !o.admits(cd.sender, from)) {
      drop('not-listed', from, undefined)
      // why: a connection that carried no listed member's message is a stranger's
      if (!conn.proven) conn.refuse('first-frame-not-listed')
      throw errors.notListed(from)
    }
    conn.prove()
    if (opened.kind === 'heartbeat' || opened.kind === 'stop') {
      // why: copy, the blob is a view into a socket chunk and membership may keep it
      o.onHeartbeat(Buffer.from(cd.sender), from)
      return
    }
    const sender = senderOf(cd.sender, from)
    if (sender === undefined) throw errors.senderRefused(from)
    if (opened.kind === 'batch') {
      // async only (no ack to give): deliver each value in order; a bad one is dropped alone
      let parts: Buffer[]
      try { parts = splitBatchBody(opened.body) } catch (err) { drop('malformed', from, err); return }
      for (const part of parts) {
        let value: unknown
        try { value = unpackValue(part) } catch (err) { drop('malformed', from, err); continue }
        try {
          dispatch(value, sender)?.then(undefined, (err: unknown) => o.logger.debug({ err, from }, 'message handler failed (async)'))
        } catch (err) {
          o.logger.debug({ err, from }, 'message handler failed (async)')
        }
      }
      return
    }
    let value: unknown
    try {
      value = unpackValue(opened.body)
    } catch (err) {
      drop('malformed', from, err)
      throw err
    }
    return dispatch(value, sender)
  }
}
