/**
 * @nodecat/protocol: what the balancer and the nodes must agree on, and nothing else (no sockets,
 * no sessions' contents): the session-id grammar (routes, `;jsessionid=`, cookies, the bounds) and
 * the checks both make of a request.
 */
export { NodecatError, type NodecatErrorOptions } from './nodecat-error.js'
export { JVM_ROUTE_PATTERN, JVM_ROUTE_RULE, WORKER_ROUTE_PATTERN, WORKER_ROUTE_RULE, isValidRoute, isWorkerRoute, routeFromName } from './route.js'
export { SESSION_ID_LIMITS, DEFAULT_SESSION_COOKIE, DEFAULT_SESSION_PATH_PARAM, pathParamFor } from './limits.js'
export { parseSessionId, isValidBase, routeOf } from './session-id.js'
export { newSessionId } from './new-session-id.js'
export { pathParamValue, stripSessionPathParam } from './path-param.js'
export { eachCookieValue, cookieHeaderText } from './cookies.js'
export { pathSessionId, cookieSessionIds, readSessionIds, sessionRoutes, isSessionId, namesRoute, type IdShape, type SessionIdSource } from './candidates.js'
export { loggablePath } from './redact.js'
export { hostName, listenerHostNames, checkHostHeader, HOST_NAME_PATTERN, type HostRefusal } from './host.js'
export { duplicateHost, screenHead, type HeadRefusal } from './request-head.js'
export { buddiesOf, placementOf, type PlacedMember } from './placement.js'
export * from './ajp/index.js'
export { answerTomcatNeighbours, MAX_CONTEXT_NAME, DEFAULT_MAX_IN_FLIGHT, type TomcatNeighbour, type TomcatNeighbourStats, type TomcatNeighbourOptions, type ForeignMessageLike, type ForeignMessageSource, type NeighbourLogger } from './tomcat/neighbour.js'
export { readSessionMessage, writeSessionMessage, noContextManagerReply, SESSION_EVENT, SESSION_MESSAGE_CLASS } from './tomcat/session-message.js'
export { decodeModifiedUtf8, encodeModifiedUtf8, type StreamRefused } from './tomcat/java-stream.js'
