/**
 * What to do when one try of a request on a worker failed: the retry rules as one pure function,
 * shared by the HTTP and WebSocket paths (attempt.ts applies it).
 *
 * - nothing reached the worker (connect failed), or a draining nodecat node refused it unprocessed:
 *   the worker is in ERROR at once, and the request goes to another worker if its body can be sent
 *   again (else 503 LB_ERR_NO_WORKER);
 * - the worker got it but answered nothing: one failure counted against the worker; idempotent
 *   methods with a replayable body are tried again, once on the same worker (a kept-alive socket
 *   may just have closed), then elsewhere; others get 502 LB_ERR_WORKER_FAILED;
 * - no response headers within headersTimeout: ERROR at once, 504 LB_ERR_HEADERS_TIMEOUT, no retry
 *   (the worker may still be doing the work);
 * - a response byte went to the client: never retried (a retry could duplicate or splice the
 *   answer); the client's connection is cut. A stalled body (bodyTimeout) is ERROR at once,
 *   anything else one counted failure;
 * - undici refused the request itself (the client's request was bad): 400, nobody blamed; an AJP
 *   worker's packet cannot hold the request head: 431, nobody blamed (REQUEST_FAULTS);
 * - an AJP worker sent a malformed or out-of-order packet before any response byte went out: one
 *   failure counted; idempotent methods with a replayable body go to another worker (mod_jk: a
 *   protocol error is a local error of that member for this request), others get 502
 *   LB_ERR_AJP_PROTOCOL.
 */
import type { ClientErrorCode } from './errors.js'

/** the idempotent methods (RFC 9110 9.2.2): sending one twice does what sending it once does */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

/** undici refused the request itself: the client's request was bad, not the worker */
export const REQUEST_REFUSED: ReadonlySet<string> = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH'])

/** failures that are the request's own, with the answer they get (no worker is blamed, no retry) */
export const REQUEST_FAULTS: ReadonlyMap<string, ClientErrorCode> = new Map<string, ClientErrorCode>([
  ['LB_ERR_HEADERS_TOO_LARGE', 'LB_ERR_HEADERS_TOO_LARGE'],
  ['LB_ERR_BAD_REQUEST', 'LB_ERR_BAD_REQUEST']
])

/** an AJP worker's packet was malformed or out of order (ajp-client.ts) */
export const AJP_PROTOCOL = 'LB_ERR_AJP_PROTOCOL'

/** a stopping nodecat node answered 503 + x-nodecat-draining: it did not process the request */
export const WORKER_DRAINING = 'LB_ERR_WORKER_DRAINING'

export interface FailedTry {
  /** the failure's code (ECONNREFUSED, UND_ERR_HEADERS_TIMEOUT, LB_ERR_WORKER_DRAINING …) */
  code: string
  /** did the request reach the worker (was it written to a connection)? */
  reached: boolean
  /** did a response byte go out to the client? */
  responded: boolean
  /** is the method idempotent ({@link IDEMPOTENT_METHODS})? */
  idempotent: boolean
  /** can the request's body be sent again? */
  replayable: boolean
  /** was this request already tried again on this same worker? */
  retriedHere: boolean
}

/**
 * How the failure counts against the worker's health: `immediate` puts it in ERROR at once,
 * `counted` is one failure towards failuresToError, `none` is not the worker's doing (and is not
 * recorded as its last error either).
 */
export type Blame = 'immediate' | 'counted' | 'none'

/** the failure a retry leaves behind, answered if no later try succeeds */
export type RetryFailure = 'LB_ERR_NO_WORKER' | 'LB_ERR_WORKER_FAILED' | 'LB_ERR_AJP_PROTOCOL'

export type RetryDecision =
  /** try again; `here`: the same worker may take it again, `elsewhere`: not this worker */
  | { action: 'retry', where: 'here' | 'elsewhere', failure: RetryFailure, blame: Blame }
  /** answer the client with this code */
  | { action: 'fail', code: ClientErrorCode, blame: Blame }
  /** part of the answer is with the client already: cut its connection */
  | { action: 'cut', blame: Blame }

/** The rules above, in order. Pure: the caller applies what it returns. */
export function decideRetry (f: FailedTry): RetryDecision {
  if (REQUEST_REFUSED.has(f.code)) return { action: 'fail', code: 'LB_ERR_BAD_REQUEST', blame: 'none' }
  const fault = REQUEST_FAULTS.get(f.code)
  if (fault !== undefined) return { action: 'fail', code: fault, blame: 'none' }
  if (f.responded) return { action: 'cut', blame: f.code === 'UND_ERR_BODY_TIMEOUT' ? 'immediate' : 'counted' }
  if (!f.reached || f.code === WORKER_DRAINING) {
    if (!f.replayable) return { action: 'fail', code: 'LB_ERR_NO_WORKER', blame: 'immediate' }
    return { action: 'retry', where: 'elsewhere', failure: 'LB_ERR_NO_WORKER', blame: 'immediate' }
  }
  if (f.code === AJP_PROTOCOL) {
    if (!f.idempotent || !f.replayable) return { action: 'fail', code: AJP_PROTOCOL, blame: 'counted' }
    return { action: 'retry', where: 'elsewhere', failure: AJP_PROTOCOL, blame: 'counted' }
  }
  if (f.code === 'UND_ERR_HEADERS_TIMEOUT') return { action: 'fail', code: 'LB_ERR_HEADERS_TIMEOUT', blame: 'immediate' }
  if (!f.idempotent || !f.replayable) return { action: 'fail', code: 'LB_ERR_WORKER_FAILED', blame: 'counted' }
  return { action: 'retry', where: f.retriedHere ? 'elsewhere' : 'here', failure: 'LB_ERR_WORKER_FAILED', blame: 'counted' }
}

/**
 * The failure to report once tries run out, after a retry that left `next` behind: a worker
 * that failed after the request reached it outweighs one that was never reached (and the first
 * such failure stays).
 */
export function laterFailure (previous: RetryFailure | null, next: RetryFailure): RetryFailure {
  return previous !== null && previous !== 'LB_ERR_NO_WORKER' ? previous : next
}
