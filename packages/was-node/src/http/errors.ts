/** Coded errors of the HTTP embeddings (WAS_ERR_*). */
import { WasError } from '../errors.js'

export const httpErrors = {
  /** ending a request's session failed with something that carried no code of ours */
  sessionEndFailed: (cause: unknown) =>
    new WasError('WAS_ERR_SESSION_END_FAILED', `the session of this request could not be saved: ${cause instanceof Error ? cause.message : String(cause)}`, { cause })
} as const

/** The coded WasError for whatever end() rejected with. */
export function asWasError (err: unknown): WasError {
  return err instanceof WasError ? err : httpErrors.sessionEndFailed(err)
}

/**
 * A nodecat node answers a request it did not process (stopping, starting, a session it could not
 * verify) with 503 and this header; the nodecat balancer then sends the request to another node,
 * POSTs included.
 */
export const NOT_PROCESSED_HEADER = 'x-nodecat-draining'

/** the reason an error says its request was not processed, or null */
export function unprocessedReason (err: unknown): string | null {
  const reason = (err as { unprocessed?: unknown } | null)?.unprocessed
  return typeof reason === 'string' ? reason : null
}

/** the JSON body of an error answer */
export function errorBody (statusCode: number, error: WasError, title: string): string {
  return JSON.stringify({ statusCode, code: error.code, error: title, message: error.message })
}
