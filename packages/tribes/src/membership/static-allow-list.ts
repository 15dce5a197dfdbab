/**
 * With static membership the configured list is an allow-list: a member is one whose receiver is
 * listed. The inbound handler asks it about every nodecat envelope that opened (heartbeat,
 * goodbye, message, batch; with a key, only authentic ones get this far):
 * - the receiver its sender blob advertises (host:port) must be in the list, and
 * - the connection it came on must come from a listed host (a node's connections come from its
 *   own address; on loopback every local process shares 127.0.0.1, so there this says little).
 * Anything else is dropped and counted as `not-listed` (a sync message is answered FAIL_ACK, a
 * connection that carried nothing else is closed): an unlisted process is never added as a
 * member, so nothing (no session) is ever sent to it, and nothing it sends is delivered.
 *
 * What this does not do without a cluster key: nothing is authenticated, so a process that writes
 * a listed address into its sender blob, from a listed host, is believed; and one that binds a
 * listed receiver port while its node is down IS that member. Only a key (every frame sealed,
 * every heartbeat tagged) stops those; see SECURITY.md.
 */
import { hostToBytes, hostToString } from '../codec/member.js'

/** offsets in a member blob (codec/member.ts): int port, then byte hostLen and the host bytes */
const PORT_AT = 22
const HOST_LENGTH_AT = 34

/** "port bytes ‖ host bytes" as latin1, the form read straight out of a blob */
function receiverKey (host: Buffer, port: number): string {
  const p = Buffer.allocUnsafe(4)
  p.writeInt32BE(port)
  return p.toString('latin1') + host.toString('latin1')
}

/** canonical text of an IP address (so "::ffff:127.0.0.1", "0:0::1" and friends compare equal) */
function canonicalHost (host: string): string | undefined {
  const h = host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host
  try { return hostToString(hostToBytes(h)) } catch { return undefined }
}

export class StaticAllowList {
  readonly #receivers = new Set<string>()
  readonly #hosts = new Set<string>()

  constructor (members: ReadonlyArray<{ host: string, port: number }>) {
    for (const m of members) {
      const bytes = hostToBytes(m.host)
      this.#receivers.add(receiverKey(bytes, m.port))
      this.#hosts.add(hostToString(bytes))
    }
  }

  /** Is the receiver this member blob advertises listed? false for a blob too short to say. */
  listsBlob (blob: Buffer): boolean {
    if (blob.length < HOST_LENGTH_AT + 1) return false
    const h = blob[HOST_LENGTH_AT]!
    if (h !== 4 && h !== 16) return false
    if (blob.length < HOST_LENGTH_AT + 1 + h) return false
    return this.#receivers.has(blob.toString('latin1', PORT_AT, PORT_AT + 4) + blob.toString('latin1', HOST_LENGTH_AT + 1, HOST_LENGTH_AT + 1 + h))
  }

  /** May a message whose sender blob is `blob` that came on a connection from `from` speak for a member? */
  admits (blob: Buffer, from: string): boolean {
    return this.listsBlob(blob) && this.listsSource(from)
  }

  /** Is the host of a connection's remote end ("host:port", as the receiver names it) listed? */
  listsSource (from: string): boolean {
    const i = from.lastIndexOf(':')
    const host = canonicalHost(i < 0 ? from : from.slice(0, i))
    return host !== undefined && this.#hosts.has(host)
  }
}
