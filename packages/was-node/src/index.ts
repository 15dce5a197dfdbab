/**
 * @nodecat/was-node: replicated sessions for Node web apps, the session middleware for fastify and
 * express, and the nodecat-was node service.
 */
export { WasError, WasOptionError, WAS_ERROR_CODES, type WasErrorCode } from './errors.js'
export { NodecatError } from '@nodecat/protocol'
export type { SessionApi, RequestSession, CookieAction, SessionStore } from './session/types.js'
export * from './http/index.js'
export * from './manager/index.js'
export { startNode, type RunningNode, type StartNodeDeps } from './service/node.js'
export type { NodeSessionManager } from './service/types.js'
export { resolveNodeOptions, NODE_DEFAULTS, type NodeOptions, type ResolvedNodeOptions } from './service/options.js'
export { STATUS_PATH, statusDocument } from './service/status.js'
export type { LoadedApp, ConnectHandler } from './service/app-loader.js'
