/**
 * Making a session id: 18 random bytes (144 bits) from crypto.randomBytes in base64url (24
 * characters, cookie-safe, no '.'), then '.', then the node's route.
 */
import { randomBytes } from 'node:crypto'

/** A fresh session id for this route. */
export function newSessionId (route: string): string {
  return `${randomBytes(18).toString('base64url')}.${route}`
}
