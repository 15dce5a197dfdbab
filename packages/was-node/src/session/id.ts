/**
 * Session ids: `<base>.<jvmRoute>` (the grammar, the generator and the route pattern live in
 * @nodecat/protocol, shared with the balancer; re-exported here for the manager's users). The
 * manager keys sessions by base: the route is only the label of the node that owns it now.
 */
import { createHash } from 'node:crypto'

export { newSessionId, parseSessionId, isValidRoute, isValidBase } from '@nodecat/protocol'

/**
 * What logs and error messages say instead of a session id: a session id is a credential (whoever
 * has it is logged in), so it never reaches a log. The reference is the first 12 hex digits of the
 * SHA-256 of the base, the same on every node and across renames, so lines about one session can
 * still be followed through the cluster.
 */
export function sessionRef (id: string): string {
  const dot = id.indexOf('.')
  const base = dot > 0 ? id.slice(0, dot) : id
  return 'sess:' + createHash('sha256').update(base).digest('hex').slice(0, 12)
}
