/**
 * Coded errors of @nodecat/was-node (WAS_ERR_*), on the NodecatError base every package shares.
 * WAS_ERROR_CODES lists every code this package throws or answers with; docs/ERRORS.md says what
 * each one means and what to do. Each part adds its builders in its own file
 * (session/errors.ts, http/errors.ts, service/errors.ts); nothing else constructs a WasError.
 */
import { NodecatError } from '@nodecat/protocol'

export const WAS_ERROR_CODES = [
  // options and the command line
  'WAS_ERR_INVALID_OPTION',
  'WAS_ERR_SERVER_XML',
  // the session API an app uses
  'WAS_ERR_ATTRIBUTE_NOT_SERIALIZABLE',
  'WAS_ERR_INVALID_ATTRIBUTE_NAME',
  'WAS_ERR_INVALID_ARGUMENT',
  'WAS_ERR_TOO_MANY_ATTRIBUTES',
  'WAS_ERR_TOO_MANY_SESSIONS',
  'WAS_ERR_SESSION_TOO_LARGE',
  'WAS_ERR_REQUEST_ENDED',
  'WAS_ERR_MANAGER_NOT_RUNNING',
  'WAS_ERR_SESSION_END_FAILED',
  'WAS_ERR_SESSION_UNVERIFIED',
  // the service: start, stop, the app module
  'WAS_ERR_NOT_READY',
  'WAS_ERR_STALLED',
  'WAS_ERR_DRAINING',
  'WAS_ERR_STOPPING',
  'WAS_ERR_STOPPED',
  'WAS_ERR_APP_LOAD',
  'WAS_ERR_APP_SHAPE',
  'WAS_ERR_APP',
  'WAS_ERR_MANAGER_MISMATCH',
  'WAS_ERR_WORKER_START',
  // cluster deploy (deploy/)
  'WAS_ERR_DEPLOY_NO_KEY',
  'WAS_ERR_DEPLOY_AUTH',
  'WAS_ERR_DEPLOY_TOO_LARGE',
  'WAS_ERR_DEPLOY_BAD_BUNDLE',
  'WAS_ERR_DEPLOY_BUSY',
  'WAS_ERR_DEPLOY_NO_VERSION',
  'WAS_ERR_DEPLOY_FAILED',
  'WAS_ERR_DEPLOY_TIMEOUT',
  // requests refused before the app runs
  'WAS_ERR_DUPLICATE_HOST',
  'WAS_ERR_HTTP_VERSION',
  'WAS_ERR_BAD_HOST',
  'WAS_ERR_MISSING_HOST',
  // the AJP listener (service/ajp/)
  'WAS_ERR_AJP_SECRET',
  'WAS_ERR_AJP_PROTOCOL',
  'WAS_ERR_AJP_RESPONSE'
] as const

export type WasErrorCode = typeof WAS_ERROR_CODES[number]

export class WasError extends NodecatError<WasErrorCode> {
  /** HTTP status when this error reaches a client (500 unless the builder says otherwise) */
  declare readonly statusCode: number
  constructor (code: WasErrorCode, message: string, options?: { cause?: unknown, statusCode?: number }) {
    super(code, message, { ...options, statusCode: options?.statusCode ?? 500 })
    this.name = 'WasError'
  }
}

/** An option failed validation at start-up; the message names the option. */
export class WasOptionError extends WasError {
  constructor (message: string) {
    super('WAS_ERR_INVALID_OPTION', message)
    this.name = 'WasOptionError'
  }
}
