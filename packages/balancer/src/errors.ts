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

/**
 * What the balancer answers itself, by code. The client sees only the status, a short plain body
 * and `x-nodecat-error: <code>`; never an internal message, address or stack.
 */
export const CLIENT_ERRORS = {
  LB_ERR_BAD_REQUEST: { status: 400, text: 'Bad Request' },
  LB_ERR_NOT_MOUNTED: { status: 404, text: 'Not Found' },
  LB_ERR_METHOD_NOT_ALLOWED: { status: 405, text: 'Method Not Allowed' },
  LB_ERR_REQUEST_TIMEOUT: { status: 408, text: 'Request Timeout' },
  LB_ERR_URI_TOO_LONG: { status: 414, text: 'URI Too Long' },
  LB_ERR_HEADERS_TOO_LARGE: { status: 431, text: 'Request Header Fields Too Large' },
  /** a request line of another HTTP major version than 1 (HTTP/2.0, HTTP/0.9 …): we speak HTTP/1.x only */
  LB_ERR_VERSION_NOT_SUPPORTED: { status: 505, text: 'HTTP Version Not Supported' },
  /** a worker failed after the request reached it and the request could not be retried */
  LB_ERR_WORKER_FAILED: { status: 502, text: 'Bad Gateway' },
  /** no usable worker (all ERROR, stopped, at their limit, or every attempt failed to connect) */
  LB_ERR_NO_WORKER: { status: 503, text: 'Service Unavailable' },
  /** stickySessionForce: the session's worker is unusable and failover is forbidden */
  LB_ERR_STICKY_UNAVAILABLE: { status: 503, text: 'Service Unavailable' },
  /** the worker sent no response headers within headersTimeout */
  LB_ERR_HEADERS_TIMEOUT: { status: 504, text: 'Gateway Timeout' },
  /** the request waited client.idleTimeout for a worker without a byte moving (e.g. queued for a pooled connection) */
  LB_ERR_WORKER_TIMEOUT: { status: 504, text: 'Gateway Timeout' }
} as const

export type ClientErrorCode = keyof typeof CLIENT_ERRORS

/** The route named a worker that is missing or already taken (discovery, admin). */
export class WorkerError extends BalancerError {
  constructor (code: 'LB_ERR_UNKNOWN_WORKER' | 'LB_ERR_DUPLICATE_ROUTE', message: string) {
    super(code, message, { statusCode: code === 'LB_ERR_UNKNOWN_WORKER' ? 404 : 409 })
    this.name = 'WorkerError'
  }
}
