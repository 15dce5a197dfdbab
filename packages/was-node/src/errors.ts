/**
 * Coded errors of @nodecat/was-node (WAS_ERR_*). Each part of the package adds its builders in
 * its own file (session/errors.ts, http/errors.ts, service/errors.ts) on top of this base.
 */
export class WasError extends Error {
  readonly code: string
  /** HTTP status when this error reaches a client */
  readonly statusCode: number
  constructor (code: string, message: string, options?: { cause?: unknown, statusCode?: number }) {
    super(message, options)
    this.name = 'WasError'
    this.code = code
    this.statusCode = options?.statusCode ?? 500
  }
}

/** An option failed validation at start-up; the message names the option. */
export class WasOptionError extends WasError {
  constructor (message: string) {
    super('WAS_ERR_INVALID_OPTION', message)
    this.name = 'WasOptionError'
  }
}
