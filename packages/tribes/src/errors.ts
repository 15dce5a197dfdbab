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
    new TribesError('TRIBES_ERR_CHANNEL_DATA_MALFORMED', `malformed channel data: ${why}`)
} as const
