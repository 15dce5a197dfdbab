/** Coded errors of the nodecat-was service (WAS_ERR_*): start, stop and the app module. */
import { WasError } from '../errors.js'

export const serviceErrors = {
  /** a request reached the session store before the manager was attached (the node is starting) */
  notReady: () =>
    new WasError('WAS_ERR_NOT_READY', 'the session store is not attached yet', { statusCode: 503 }),
  /** requests still waiting for the store when the node stops */
  stopping: () =>
    new WasError('WAS_ERR_STOPPING', 'the node is stopping', { statusCode: 503 }),
  /** a stop (signal) arrived before the node finished starting */
  stoppedDuringStart: () =>
    new WasError('WAS_ERR_STOPPED', 'the node was stopped before it finished starting'),
  appLoad: (file: string, cause: unknown) =>
    new WasError('WAS_ERR_APP_LOAD', `app module ${file} cannot be loaded: ${cause instanceof Error ? cause.message : String(cause)}`, { cause }),
  /** a member of the same cluster runs another session manager (or backup count) than this node */
  managerMismatch: (mine: string, route: string, member: string, theirs: string) =>
    new WasError('WAS_ERR_MANAGER_MISMATCH', `this node (${route}) runs the ${mine} session manager, but member ${member} of the same cluster runs ${theirs}: every node of one cluster (one --domain) needs the same --manager and --backups`),
  /** --server-xml: the file cannot be read, is not the XML subset we read, or a value cannot be taken; names file:line and the attribute */
  serverXml: (file: string, line: number | null, message: string) =>
    new WasError('WAS_ERR_SERVER_XML', `${file}${line === null ? '' : `:${line}`}: ${message}`),
  appShape: (file: string) =>
    new WasError('WAS_ERR_APP_SHAPE', `app module ${file} must export (default) a fastify plugin (fastify, opts) or an express app / connect handler (req, res, next)`)
} as const
