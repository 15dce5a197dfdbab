/**
 * Coded errors of @nodecat/tribes. Every error that can leave this package carries a stable
 * `code` (TRIBES_ERR_*); codes are never reused for another meaning.
 */
export class TribesError extends Error {
  readonly code: string
  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'TribesError'
    this.code = code
  }
}

/** An option failed validation at start-up; the message names the option. */
export class TribesOptionError extends TribesError {
  constructor (message: string) {
    super('TRIBES_ERR_INVALID_OPTION', message)
    this.name = 'TribesOptionError'
  }
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
    new TribesError('TRIBES_ERR_MESSAGE_ENCODE', `message cannot be encoded${causeText(cause)}`, { cause })
} as const

function causeText (cause: unknown): string {
  if (cause === undefined) return ''
  const c = cause as { code?: unknown, message?: unknown }
  return `: ${typeof c.code === 'string' ? c.code : typeof c.message === 'string' ? c.message : String(cause)}`
}
