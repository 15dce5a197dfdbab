/** The replicated session manager: public API. */
export { SessionManager } from './session-manager.js'
export { DEFAULTS as SESSION_MANAGER_DEFAULTS } from './defaults.js'
export type { SessionManagerOptions, Clock } from './defaults.js'
export type { SessionManagerStats } from './stats.js'
export { deltaStrategy, backupStrategy, type ReplicationStrategy, type SessionChange, type Placement } from './replication-strategy.js'
export type { SessionManagerEvents, SessionEvent, SessionDestroyedEvent, SessionIdChangedEvent, AttributeEvent, DestroyReason } from './events.js'
export type { SessionMessage, FullSession, MessageType } from './messages.js'
export { newSessionId, parseSessionId } from '@nodecat/protocol'
export {
  AttributeNotSerializableError, SessionTooLargeError, TooManySessionsError, InvalidAttributeNameError,
  RequestEndedError, ManagerNotRunningError, InvalidSessionArgumentError
} from '../session/errors.js'
