/**
 * A harmless neighbour to Tomcat on the same multicast group. A Tomcat that starts while a
 * nodecat member (a node, or a balancer with --discover) is the group's longest-running member asks that node for its sessions
 * (GET_ALL_SESSIONS, DeltaManager state transfer) and would wait its whole stateTransferTimeout
 * (60 s) for an answer. nodecat answers as a Tomcat without a manager for that context does
 * (ClusterSessionListener): EVT_ALL_SESSION_NOCONTEXTMANAGER with the same context name, which
 * ends the wait at once.
 *
 * It answers nothing else and takes nothing: every other foreign message (a Tomcat's session
 * deltas, its state, anything that is not a SessionMessageImpl of exactly the known shape) is a
 * counted drop, by reason. Answers are bounded (`maxInFlight` replies under way; more are
 * dropped as 'busy'), so a flood of requests cannot open connections without end.
 */
import { noContextManagerReply, readSessionMessage, SESSION_EVENT } from './session-message.js'

// why structural types: the node and the balancer both answer (each may be the group's oldest
// member), and this package depends on nothing; tribes' Channel and ForeignMessage fit these shapes

/** Tribes' ChannelData option bit BYTE_MESSAGE: the message is raw bytes (nodecat's own), not Java serialization */
const BYTE_MESSAGE = 0x0001

/** what is used of a foreign (Tomcat) member's message, as tribes' onForeignMessage offers it */
export interface ForeignMessageLike {
  readonly options: number
  readonly message: Buffer
  readonly sender: { readonly id: string, readonly host: string, readonly port: number }
  reply (message: Uint8Array, options?: number): Promise<void>
}

/** a channel that offers foreign messages (tribes' Channel); the returned function unregisters */
export interface ForeignMessageSource {
  onForeignMessage (handler: (m: ForeignMessageLike) => boolean): () => void
}

type LogFn = (fields: Record<string, unknown>, message: string) => void
/** the pino methods used */
export interface NeighbourLogger { info: LogFn, warn: LogFn, debug: LogFn }

/** a context name longer than this (in UTF-16 units) is refused: real ones are "<host>#<path>" */
export const MAX_CONTEXT_NAME = 4096
export const DEFAULT_MAX_IN_FLIGHT = 8

export interface TomcatNeighbourStats {
  /** GET_ALL_SESSIONS answered with ALL_SESSION_NOCONTEXTMANAGER (the reply was written) */
  answeredNoContextManager: number
  /** foreign messages dropped, by reason */
  dropped: Record<string, number>
}

export interface TomcatNeighbour {
  stats: () => TomcatNeighbourStats
  /** stop answering (the channel's handler is removed) */
  close: () => void
}

export interface TomcatNeighbourOptions {
  logger: NeighbourLogger
  maxInFlight?: number
}

const worthLogging = (n: number): boolean => n === 1 || n % 1000 === 0

/** Register on the channel's foreign messages; every foreign message is taken and judged here. */
export function answerTomcatNeighbours (channel: ForeignMessageSource, o: TomcatNeighbourOptions): TomcatNeighbour {
  const log = o.logger
  const maxInFlight = o.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT
  const dropped: Record<string, number> = {}
  let answered = 0
  let inFlight = 0

  const drop = (reason: string, m: ForeignMessageLike, detail?: string): true => {
    const n = (dropped[reason] ?? 0) + 1
    dropped[reason] = n
    // why debug for other-event: a Tomcat sends every session change to every member, us included
    const level = reason === 'other-event' ? 'debug' : worthLogging(n) ? 'warn' : 'debug'
    log[level]({ event: 'foreign-message-dropped', reason, count: n, member: m.sender.id, detail }, `foreign message dropped (${reason})`)
    return true
  }

  const handler = (m: ForeignMessageLike): boolean => {
    if ((m.options & BYTE_MESSAGE) !== 0) return drop('byte-message', m)
    const read = readSessionMessage(m.message)
    if (!read.ok) return drop(read.reason, m, read.detail)
    const msg = read.message
    if (msg.eventType !== SESSION_EVENT.GET_ALL_SESSIONS) return drop('other-event', m)
    const context = msg.contextName
    // why: a Tomcat without managers does not answer a GET_ALL that names no context either
    if (context === null) return drop('no-context', m)
    if (context.length > MAX_CONTEXT_NAME) return drop('context-too-long', m)
    if (inFlight >= maxInFlight) return drop('busy', m)
    inFlight++
    m.reply(noContextManagerReply(context)).then(() => {
      answered++
      log.info({ event: 'tomcat-get-all-answered', member: m.sender.id, context },
        `answered ${m.sender.host}:${m.sender.port}'s request for all sessions of ${context} with NO-CONTEXT-MANAGER (nodecat holds no Tomcat sessions)`)
    }, (err: unknown) => {
      drop('reply-failed', m, (err as Error).message)
    }).finally(() => { inFlight-- })
    return true
  }

  const remove = channel.onForeignMessage(handler)
  return {
    stats: () => ({ answeredNoContextManager: answered, dropped: { ...dropped } }),
    close: remove
  }
}
