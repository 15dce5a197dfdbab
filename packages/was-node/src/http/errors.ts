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
