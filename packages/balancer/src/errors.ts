/** Coded errors of @nodecat/balancer (LB_ERR_*). */
export class BalancerError extends Error {
  readonly code: string
  /** HTTP status this error becomes for a client */
  readonly statusCode: number
  constructor (code: string, message: string, options?: { cause?: unknown, statusCode?: number }) {
    super(message, options)
    this.name = 'BalancerError'
    this.code = code
    this.statusCode = options?.statusCode ?? 502
  }
}

/** An option failed validation at start-up; the message names the option. */
export class BalancerOptionError extends BalancerError {
  constructor (message: string) {
    super('LB_ERR_INVALID_OPTION', message, { statusCode: 500 })
    this.name = 'BalancerOptionError'
  }
}
