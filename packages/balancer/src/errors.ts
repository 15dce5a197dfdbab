/**
 * Coded errors of @nodecat/balancer (LB_ERR_*), on the NodecatError base every package shares.
 * BALANCER_ERROR_CODES lists every code the balancer throws, answers with (`x-nodecat-error`, the
 * admin's JSON `error`) or counts; docs/ERRORS.md says what each one means and what to do. Build
 * errors with `errors` below, not inline.
 */
import { NodecatError } from '@nodecat/protocol'

export const BALANCER_ERROR_CODES = [
  // options and the command line
  'LB_ERR_INVALID_OPTION',
  'LB_ERR_USAGE',
  'LB_ERR_WORKERS_PROPERTIES',
  // answers to clients (CLIENT_ERRORS below)
  'LB_ERR_BAD_REQUEST',
  'LB_ERR_NOT_MOUNTED',
  'LB_ERR_METHOD_NOT_ALLOWED',
  'LB_ERR_REQUEST_TIMEOUT',
  'LB_ERR_URI_TOO_LONG',
  'LB_ERR_EXPECTATION_FAILED',
  'LB_ERR_PAYLOAD_TOO_LARGE',
  'LB_ERR_HEADERS_TOO_LARGE',
  'LB_ERR_VERSION_NOT_SUPPORTED',
  'LB_ERR_WORKER_FAILED',
  'LB_ERR_NO_WORKER',
  'LB_ERR_STICKY_UNAVAILABLE',
  'LB_ERR_HEADERS_TIMEOUT',
  'LB_ERR_WORKER_TIMEOUT',
  'LB_ERR_AJP_PROTOCOL',
  'LB_ERR_AJP_NO_UPGRADE',
  // inside a request's course: why an attempt at a worker ended (logged, counted, never sent)
  'LB_ERR_CLIENT_GONE',
  'LB_ERR_WORKER_DRAINING',
  'LB_ERR_BAD_RESPONSE',
  'LB_ERR_BODY_ABANDONED',
  // the worker registry and the admin listener
  'LB_ERR_UNKNOWN_WORKER',
  'LB_ERR_DUPLICATE_ROUTE',
  'LB_ERR_UNAUTHORIZED',
  'LB_ERR_BAD_ACTIVATION',
  'LB_ERR_ADMIN_BAD_HOST',
  'LB_ERR_ADMIN_MISSING_HOST',
  'LB_ERR_ADMIN_SIMPLE_REQUEST',
  'LB_ERR_ADMIN_CROSS_SITE'
] as const

export type BalancerErrorCode = typeof BALANCER_ERROR_CODES[number]

export class BalancerError extends NodecatError<BalancerErrorCode> {
  /** HTTP status this error becomes for a client */
  declare readonly statusCode: number
  constructor (code: BalancerErrorCode, message: string, options?: { cause?: unknown, statusCode?: number }) {
    super(code, message, { ...options, statusCode: options?.statusCode ?? 502 })
    this.name = 'BalancerError'
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
  /** an Expect field other than 100-continue: the only expectation HTTP defines (RFC 9110 10.1.1) */
  LB_ERR_EXPECTATION_FAILED: { status: 417, text: 'Expectation Failed' },
  /** the request body is (or grows) larger than maxBody */
  LB_ERR_PAYLOAD_TOO_LARGE: { status: 413, text: 'Payload Too Large' },
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
  LB_ERR_WORKER_TIMEOUT: { status: 504, text: 'Gateway Timeout' },
  /** an ajp:// worker answered with a malformed or out-of-order AJP packet (its connection is discarded) */
  LB_ERR_AJP_PROTOCOL: { status: 502, text: 'Bad Gateway' },
  /** a WebSocket (Upgrade) request was routed to an ajp:// worker: AJP/1.3 cannot carry it */
  LB_ERR_AJP_NO_UPGRADE: { status: 501, text: 'Not Implemented' }
} as const satisfies { readonly [C in BalancerErrorCode]?: { status: number, text: string } }

export type ClientErrorCode = keyof typeof CLIENT_ERRORS

/** The route named a worker that is missing or already taken (discovery, admin). */
export class WorkerError extends BalancerError {
  constructor (code: 'LB_ERR_UNKNOWN_WORKER' | 'LB_ERR_DUPLICATE_ROUTE', message: string) {
    super(code, message, { statusCode: code === 'LB_ERR_UNKNOWN_WORKER' ? 404 : 409 })
    this.name = 'WorkerError'
  }
}

/** The client went away, or was answered already, while a worker was being asked: abort quietly. */
export class ClientGoneError extends BalancerError {
  constructor (message: string) {
    super('LB_ERR_CLIENT_GONE', message)
    this.name = 'ClientGoneError'
  }
}

/** Builders for each coded error, so call sites read as the balancer's words. */
export const errors = {
  unknownWorker: (route: string) =>
    new WorkerError('LB_ERR_UNKNOWN_WORKER', `no worker with route ${route}`),
  duplicateRoute: (route: string) =>
    new WorkerError('LB_ERR_DUPLICATE_ROUTE', `a worker with route ${route} exists`),
  /** the abort reason of a worker request whose client is gone or has its answer */
  clientGone: (why: string) => new ClientGoneError(why),
  /** a stopping nodecat node answered "not processed" (503 + x-nodecat-draining): safe to retry */
  workerDraining: () =>
    new BalancerError('LB_ERR_WORKER_DRAINING', 'worker is draining'),
  /** the worker's response headers cannot be sent on (invalid characters) */
  badResponse: (cause: unknown) =>
    new BalancerError('LB_ERR_BAD_RESPONSE', 'invalid response header', { cause }),
  /** an ajp:// worker's packet is malformed or out of order (the cause carries the codec's AJP_ERR_* code) */
  ajpProtocol: (message: string, cause?: unknown) =>
    new BalancerError('LB_ERR_AJP_PROTOCOL', message, { cause }),
  /** the request line, headers and AJP attributes do not fit one AJP packet of the worker's packet size */
  ajpHeadersTooLarge: (packetSize: number, cause?: unknown) =>
    new BalancerError('LB_ERR_HEADERS_TOO_LARGE', `the request head does not fit one AJP packet of ${packetSize} bytes`, { cause, statusCode: 431 }),
  /** the request holds something an AJP Forward Request cannot carry (a header name AJP cannot spell, say) */
  ajpNotEncodable: (cause?: unknown) =>
    new BalancerError('LB_ERR_BAD_REQUEST', 'the request cannot be sent as an AJP Forward Request', { cause, statusCode: 400 }),
  /** --workers-properties / --jk-mount-file: unreadable, not properties syntax, or a value that cannot be taken; names file:line and the key */
  workersProperties: (file: string, line: number | null, message: string) =>
    new BalancerError('LB_ERR_WORKERS_PROPERTIES', `${file}${line === null ? '' : `:${line}`}: ${message}`, { statusCode: 500 }),
  /** the request body stream was given up (the request ended another way) */
  bodyAbandoned: () =>
    new BalancerError('LB_ERR_BODY_ABANDONED', 'the request body was abandoned')
} as const
