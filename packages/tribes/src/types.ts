/**
 * The public contract of @nodecat/tribes: what the layers above (was-node, balancer) see.
 * tribes knows nothing of sessions or HTTP: a message is any msgpackr-encodable value, and a
 * member is an address plus the nodecat metadata it advertises.
 */
import type { EventEmitter } from 'node:events'

/** async = Tribes option 8 (queued, caller never waits); ack = 2 (received); sync = 6 (processed). */
export type SendMode = 'async' | 'ack' | 'sync'

/** What a nodecat member is for: an app-server node, a balancer, or a diagnostic tool. */
export type MemberRole = 'node' | 'balancer' | 'tool'

/** nodecat's own metadata, carried (msgpackr-encoded) in the Tribes member payload field. */
export interface MemberMeta {
  /** nodecat protocol version the member speaks */
  protocol: number
  role: MemberRole
  /** jvmRoute, for nodes ("tomcat1") */
  route?: string
  /** base URL of the member's HTTP service ("http://10.0.0.11:8080"), for nodes */
  http?: string
  /**
   * the machine this member runs on (machine id or host name): members with the same host share
   * one machine, so they fail together (a placement that must survive a lost machine spreads over hosts)
   */
  host?: string
  /** small named settings the application layer advertises (at most 16, names and values short text) */
  props?: Record<string, string>
}

export interface Member {
  /** identity: host + TCP port + uniqueId ("10.0.0.11:4000/1f6f133d…") */
  readonly id: string
  /** receiver address as text */
  readonly host: string
  /** receiver TCP port */
  readonly port: number
  /** 32 hex characters; a restarted process has a new one and so is a new member */
  readonly uniqueId: string
  readonly domain: string
  /** ms the member had been running when it last advertised itself */
  readonly aliveTime: number
  /** nodecat metadata, or null for a foreign member (a Tomcat on the same group, say) */
  readonly meta: MemberMeta | null
}

export type DisappearReason = 'shutdown' | 'timeout' | 'failure-detected'

export interface SendOptions {
  /** default: the channel's sendMode option */
  mode?: SendMode
  /** default: every current nodecat peer */
  to?: Member | readonly Member[]
}

export interface SendFailure {
  member: Member
  /** a TribesError: TRIBES_ERR_CONNECT, TRIBES_ERR_SEND_TIMEOUT, TRIBES_ERR_REMOTE_PROCESSING, … */
  error: Error & { code: string }
}

export interface SendResult {
  /** members that got it (ack), processed it (sync), or to whom it was queued (async) */
  delivered: Member[]
  failed: SendFailure[]
}

/**
 * Called for every message from a peer, in the order that peer sent them. In sync mode the
 * sender's promise resolves only after the returned promise settles; a throw or rejection sends
 * FAIL_ACK and the sender sees TRIBES_ERR_REMOTE_PROCESSING for this member.
 */
export type MessageHandler = (message: unknown, sender: Member) => void | Promise<void>

/**
 * A message from a foreign member (a Tomcat on the same group): a frame that is no nodecat
 * envelope, from a member that membership currently lists as foreign. tribes does not read it.
 */
export interface ForeignMessage {
  /** the ChannelData send-option bits as the sender set them */
  readonly options: number
  /** the sender's clock when it sent, ms since the epoch */
  readonly timestamp: number
  /** the 16-byte message id (a copy) */
  readonly uniqueId: Buffer
  /** the ChannelData message as sent (a copy): Java serialization for a Tomcat's cluster messages */
  readonly message: Buffer
  /** the foreign member that sent it, as membership lists it */
  readonly sender: Member
  /** remote address of the connection it came on */
  readonly from: string
  /**
   * Send `message` to the sender's receiver, as the message of a ChannelData frame of this member's
   * (our member blob as sender, a new message id). It goes on a connection of its own to the address
   * the member advertises, as a Tomcat answers, not back on the requesting connection. `options`
   * (default 8, ASYNCHRONOUS, what a Tomcat's `cluster.send` uses) must not include BYTE_MESSAGE
   * unless the message is raw bytes; with USE_ACK the promise waits for the member's ACK
   * (TRIBES_ERR_REMOTE_PROCESSING on FAIL_ACK). Rejects with a coded error; never throws.
   */
  reply (message: Uint8Array, options?: number): Promise<void>
}

/**
 * Offered every foreign message, in registration order, until one returns true (it took it).
 * None took it: the channel counts a 'foreign-message' drop. The receiver answers the frame as
 * Tomcat's does: USE_ACK alone is acked before the handlers run; USE_ACK + SYNCHRONIZED_ACK after
 * they returned (FAIL_ACK when one throws); no USE_ACK gets nothing. A handler runs on the receive
 * path: keep it short and synchronous (start a reply, do not await it).
 */
export type ForeignMessageHandler = (message: ForeignMessage) => boolean

export interface ChannelStats {
  messagesSent: number
  messagesReceived: number
  bytesSent: number
  bytesReceived: number
  sendFailures: number
  /** messages waiting in the async dispatch queue */
  queued: number
  queuedBytes: number
  /** async messages dropped because the queue was full */
  queueDropped: number
  /**
   * writes handed to the sockets of the data connections (one write or writev each: frames to one
   * member made in the same event-loop turn share one), and the frames in them
   */
  socketWrites?: number
  framesWritten?: number
  /** frames, datagrams and messages dropped because they did not parse or authenticate */
  dropped: Record<string, number>
}

export interface ChannelEvents {
  memberAdded: [member: Member]
  memberDisappeared: [member: Member, reason: DisappearReason]
  /** a member whose payload is not nodecat's; it is never offered as a peer */
  foreignMember: [member: Member]
}

export interface Channel extends EventEmitter<ChannelEvents> {
  /** this process as a member (valid after start) */
  readonly local: Member
  start(): Promise<void>
  /** leaves the group cleanly (shutdown datagram / stop message) and closes every socket */
  stop(): Promise<void>
  /** current nodecat peers (never foreign, never self), longest-running first */
  members(): Member[]
  /** foreign members currently seen on the group */
  foreignMembers(): Member[]
  send(message: unknown, options?: SendOptions): Promise<SendResult>
  /** register a handler; returns a function that removes it */
  onMessage(handler: MessageHandler): () => void
  /** register a handler for foreign members' messages; returns a function that removes it */
  onForeignMessage(handler: ForeignMessageHandler): () => void
  stats(): ChannelStats
  /** static membership: the listed receivers other than this member's own (none with multicast) */
  listedPeers(): Array<{ host: string, port: number }>
  /**
   * Is a running receiver there? `answering`: it acknowledged a probe frame; `silent`: it accepted
   * the connection but did not answer (a frozen process, or not a receiver); `down`: refused, or
   * no connection within the connect timeout. Never rejects.
   */
  probe(target: { host: string, port: number }): Promise<ReceiverState>
}

export type ReceiverState = 'answering' | 'silent' | 'down'
