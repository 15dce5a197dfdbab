/**
 * Coded errors of @nodecat/tribes. Every error that can leave this package carries a stable
 * `code` (TRIBES_ERR_*) from TRIBES_ERROR_CODES; codes are never reused for another meaning.
 * docs/ERRORS.md says what each one means and what to do. Tribes errors never reach an HTTP
 * client, so they carry no statusCode. Build them with `errors` below, not inline.
 */
import { NodecatError } from '@nodecat/protocol'

export const TRIBES_ERROR_CODES = [
  // options and the command line
  'TRIBES_ERR_INVALID_OPTION',
  'TRIBES_ERR_USAGE',
  'TRIBES_ERR_KEY_INVALID',
  'TRIBES_ERR_INSECURE',
  // decoding what arrives
  'TRIBES_ERR_MEMBER_MALFORMED',
  'TRIBES_ERR_MEMBER_PAYLOAD',
  'TRIBES_ERR_MEMBER_PAYLOAD_VERSION',
  'TRIBES_ERR_FRAME_MALFORMED',
  'TRIBES_ERR_FRAME_TOO_LARGE',
  'TRIBES_ERR_CHANNEL_DATA_MALFORMED',
  'TRIBES_ERR_ENVELOPE_MALFORMED',
  'TRIBES_ERR_MESSAGE_ENCODE',
  // who may talk to us
  'TRIBES_ERR_DECRYPT',
  'TRIBES_ERR_REPLAY',
  'TRIBES_ERR_NOT_LISTED',
  'TRIBES_ERR_SENDER_REFUSED',
  // sending
  'TRIBES_ERR_CONNECT',
  'TRIBES_ERR_SEND_TIMEOUT',
  'TRIBES_ERR_REMOTE_PROCESSING',
  'TRIBES_ERR_CONNECTION_LOST',
  'TRIBES_ERR_QUEUE_FULL',
  // life cycle
  'TRIBES_ERR_BIND',
  'TRIBES_ERR_MEMBERSHIP_SOCKET',
  'TRIBES_ERR_CHANNEL_STATE',
  'TRIBES_ERR_MEMBERSHIP_STATE',
  'TRIBES_ERR_NOT_STARTED',
  'TRIBES_ERR_CLOSED'
] as const

export type TribesErrorCode = typeof TRIBES_ERROR_CODES[number]

export class TribesError extends NodecatError<TribesErrorCode> {
  constructor (code: TribesErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'TribesError'
  }
}

/** An option failed validation at start-up; the message names the option. */
export class TribesOptionError extends TribesError {
  constructor (message: string) {
    super('TRIBES_ERR_INVALID_OPTION', message)
    this.name = 'TribesOptionError'
  }
}

/**
 * True when a send failed because the member's address refused the connection (ECONNREFUSED): no
 * receiver runs there, so the process is gone and holds nothing. Unlike a timeout, which a frozen
 * process or a partition gives as well, this is proof; callers may count such a member as one
 * that answered "nothing here".
 */
export function isRefused (err: unknown): boolean {
  if (!(err instanceof TribesError) || err.code !== 'TRIBES_ERR_CONNECT') return false
  return (err.cause as { code?: unknown } | undefined)?.code === 'ECONNREFUSED'
}

/** Builders for each coded error, so call sites read as the cluster's words. */
export const errors = {
  memberMalformed: (why: string) =>
    new TribesError('TRIBES_ERR_MEMBER_MALFORMED', `malformed member blob: ${why}`),
  frameMalformed: (why: string) =>
    new TribesError('TRIBES_ERR_FRAME_MALFORMED', `malformed frame: ${why}`),
  frameTooLarge: (length: number, max: number) =>
    new TribesError('TRIBES_ERR_FRAME_TOO_LARGE', `frame of ${length} bytes exceeds maxMessageSize ${max}`),
  channelDataMalformed: (why: string) =>
    new TribesError('TRIBES_ERR_CHANNEL_DATA_MALFORMED', `malformed channel data: ${why}`),
  // transport and channel (codes of the frame/transport/channel part)
  envelopeMalformed: (why: string) =>
    new TribesError('TRIBES_ERR_ENVELOPE_MALFORMED', `malformed nodecat envelope: ${why}`),
  connect: (address: string, cause?: unknown) =>
    new TribesError('TRIBES_ERR_CONNECT', `cannot connect to member at ${address}${causeText(cause)}`, { cause }),
  sendTimeout: (address: string, ms: number) =>
    new TribesError('TRIBES_ERR_SEND_TIMEOUT', `member at ${address} did not acknowledge within ${ms} ms`),
  remoteProcessing: (address: string) =>
    new TribesError('TRIBES_ERR_REMOTE_PROCESSING', `member at ${address} failed to process the message (FAIL_ACK)`),
  connectionLost: (address: string, cause?: unknown) =>
    new TribesError('TRIBES_ERR_CONNECTION_LOST', `connection to member at ${address} broke before the ack${causeText(cause)}`, { cause }),
  bind: (address: string, from: number, to: number, cause?: unknown) =>
    new TribesError('TRIBES_ERR_BIND', `cannot bind a receiver on ${address} ports ${from}..${to}${causeText(cause)}`, { cause }),
  closed: (what: string) =>
    new TribesError('TRIBES_ERR_CLOSED', `${what} is stopped`),
  notStarted: (what: string) =>
    new TribesError('TRIBES_ERR_NOT_STARTED', `${what} is not started`),
  queueFull: (messages: number, bytes: number) =>
    new TribesError('TRIBES_ERR_QUEUE_FULL', `async dispatch queue full (${messages} messages, ${bytes} bytes); message dropped`),
  decrypt: (why: string) =>
    new TribesError('TRIBES_ERR_DECRYPT', `message failed authentication: ${why}`),
  replay: (why: string) =>
    new TribesError('TRIBES_ERR_REPLAY', `message rejected as a replay: ${why}`),
  notListed: (from: string) =>
    new TribesError('TRIBES_ERR_NOT_LISTED', `sender at ${from} is not in the static member list`),
  insecure: (address: string) =>
    new TribesError('TRIBES_ERR_INSECURE', `receiver address ${address} is not loopback and no cluster key is set; set key/keyFile, or insecure: true to accept plaintext cluster traffic`),
  keyInvalid: (why: string) =>
    new TribesError('TRIBES_ERR_KEY_INVALID', `invalid cluster key: ${why}`),
  messageEncode: (cause: unknown) =>
    new TribesError('TRIBES_ERR_MESSAGE_ENCODE', `message cannot be encoded${causeText(cause)}`, { cause }),
  memberPayload: (why: string) =>
    new TribesError('TRIBES_ERR_MEMBER_PAYLOAD', `bad nodecat member payload: ${why}`),
  memberPayloadVersion: (version: number, supported: number) =>
    new TribesError('TRIBES_ERR_MEMBER_PAYLOAD_VERSION', `nodecat member payload version ${version} is not supported (this build reads ${supported})`),
  /** a frame's sender blob was dropped (malformed, or another domain), so its message has no sender */
  senderRefused: (from: string) =>
    new TribesError('TRIBES_ERR_SENDER_REFUSED', `sender refused: the member blob of the message from ${from} is malformed or of another domain`),
  channelState: (state: string) =>
    new TribesError('TRIBES_ERR_CHANNEL_STATE', `channel cannot start when ${state}`),
  /** `why` is the whole message: "membership service cannot start when …", "… already started" */
  membershipState: (why: string) =>
    new TribesError('TRIBES_ERR_MEMBERSHIP_STATE', why),
  membershipSocket: (group: string, bind: string | undefined, cause: unknown) =>
    new TribesError('TRIBES_ERR_MEMBERSHIP_SOCKET',
      `cannot join multicast group ${group}${bind ? ` on ${bind}` : ''}: ${(cause as Error).message}` +
      (bind ? '' : ' (pass bind: the address of the interface to use, or add a multicast route)'), { cause }),
  /** the multicast socket broke and is being recreated */
  multicastRecovering: () =>
    new TribesError('TRIBES_ERR_NOT_STARTED', 'multicast socket is not open (recovering)')
} as const

function causeText (cause: unknown): string {
  if (cause === undefined) return ''
  const c = cause as { code?: unknown, message?: unknown }
  return `: ${typeof c.code === 'string' ? c.code : typeof c.message === 'string' ? c.message : String(cause)}`
}
