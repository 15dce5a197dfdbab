/**
 * @nodecat/was-node: replicated sessions for Node web apps, the session middleware for fastify and
 * express, and the nodecat-was node service.
 */
export { WasError, WasOptionError } from './errors.js'
export type { SessionApi, RequestSession, CookieAction, SessionStore } from './session/types.js'
export * from './http/index.js'
export * from './manager/index.js'
