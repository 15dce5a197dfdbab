/**
 * Coded errors of the session manager (WAS_ERR_*), on the package's WasError base. Each is a thin
 * subclass that fixes its code and status, so an app can test `err instanceof TooManySessionsError`
 * (they are exported from the package) as well as `err.code`. The HTTP layer reports them with
 * `statusCode` and `code` (see SessionStore in types.ts); docs/ERRORS.md says what each one means.
 */
import { WasError } from '../errors.js'
import { sessionRef } from './id.js'

/** A value given to `session.set()` (or changed in place) cannot be encoded with msgpackr. */
export class AttributeNotSerializableError extends WasError {
  constructor (name: string, reason: string) {
    super('WAS_ERR_ATTRIBUTE_NOT_SERIALIZABLE', `session attribute "${name}" cannot be replicated: ${reason}`)
    this.name = 'AttributeNotSerializableError'
  }
}

/** The session would exceed maxSessionBytes once this request's changes were applied. */
export class SessionTooLargeError extends WasError {
  constructor (id: string, bytes: number, limit: number) {
    super('WAS_ERR_SESSION_TOO_LARGE', `session ${sessionRef(id)} would be ${bytes} bytes, over the limit of ${limit} (maxSessionBytes); the request's changes were not applied`)
    this.name = 'SessionTooLargeError'
  }
}

/** Creating a session would exceed maxActiveSessions on this node. */
export class TooManySessionsError extends WasError {
  constructor (limit: number) {
    super('WAS_ERR_TOO_MANY_SESSIONS', `this node already holds ${limit} sessions (maxActiveSessions)`, { statusCode: 503 })
    this.name = 'TooManySessionsError'
  }
}

/** One more attribute would exceed the attributes a session may hold (SESSION_LIMITS.maxAttributes). */
export class TooManyAttributesError extends WasError {
  constructor (limit: number) {
    super('WAS_ERR_TOO_MANY_ATTRIBUTES', `a session holds at most ${limit} attributes; store a collection in one attribute instead`)
    this.name = 'TooManyAttributesError'
  }
}

/** An attribute name that is not a non-empty string of at most 256 characters. */
export class InvalidAttributeNameError extends WasError {
  constructor (name: unknown) {
    super('WAS_ERR_INVALID_ATTRIBUTE_NAME', `session attribute names must be non-empty strings of at most 256 characters, got ${typeof name === 'string' ? JSON.stringify(name.slice(0, 40)) : typeof name}`)
    this.name = 'InvalidAttributeNameError'
  }
}

/** A RequestSession was used after end() was called. */
export class RequestEndedError extends WasError {
  constructor () {
    super('WAS_ERR_REQUEST_ENDED', 'the request session was already ended; session changes after end() are not possible')
    this.name = 'RequestEndedError'
  }
}

/** The manager was used before start() or after stop(). */
export class ManagerNotRunningError extends WasError {
  constructor (what: string) {
    super('WAS_ERR_MANAGER_NOT_RUNNING', `session manager is not running (${what})`, { statusCode: 503 })
    this.name = 'ManagerNotRunningError'
  }
}

/** A SessionApi argument of the wrong kind (a non-integer maxInactiveInterval, say). */
export class InvalidSessionArgumentError extends WasError {
  constructor (message: string) {
    super('WAS_ERR_INVALID_ARGUMENT', message)
    this.name = 'InvalidSessionArgumentError'
  }
}

/**
 * This node's copies may be stale (it just stalled, or met again members it had lost), and the
 * peers did not confirm this session's copy in time: the request is refused unprocessed (503,
 * `unprocessed`), so a balancer sends it to another node instead of serving a stale copy.
 */
export class SessionUnverifiedError extends WasError {
  /** the request was not processed: safe to send to another node */
  readonly unprocessed = 'unverified'
  constructor (id: string) {
    super('WAS_ERR_SESSION_UNVERIFIED', `session ${sessionRef(id)}: this node's copy may be stale and no peer confirmed it in time; the request was not processed`, { statusCode: 503 })
    this.name = 'SessionUnverifiedError'
  }
}
