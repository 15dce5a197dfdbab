/**
 * The receiver's connection slots: at most `maxConnections` inbound connections, at most
 * `maxConnectionsPerPeer` of them from one remote address. Strangers cannot hold the slots a member
 * needs: when a limit is reached, the oldest unproven connection in its scope (that address, or
 * all) is closed to make room ('connection-evicted'; those that sent nothing go first); only when
 * every one in scope is proven is the new connection refused ('peer-connection-limit',
 * 'connection-limit').
 */
import type net from 'node:net'
import type { Logger } from 'pino'
import type { InboundConnection } from './inbound-connection.js'
import { worthLogging, type TransportCounters } from './counters.js'

export interface SlotLimits {
  maxConnections: number
  maxConnectionsPerPeer: number
  logger: Logger
  counters: TransportCounters
}

export class ConnectionSlots {
  readonly #o: SlotLimits
  /** open inbound connections, oldest first */
  readonly #open = new Set<InboundConnection>()
  /** open inbound connections by remote address */
  readonly #perPeer = new Map<string, number>()

  constructor (limits: SlotLimits) {
    this.#o = limits
  }

  /** open inbound connections */
  get size (): number { return this.#open.size }

  /** open inbound connections that proved themselves */
  get proven (): number {
    let n = 0
    for (const c of this.#open) if (c.proven) n++
    return n
  }

  /**
   * Make room for a new connection from `peer` (evicting an unproven one when a limit is reached);
   * false when there is none: the socket is refused (counted, logged, destroyed).
   */
  admit (socket: net.Socket, peer: string): boolean {
    const from = `${peer}:${socket.remotePort}`
    const perPeerMax = this.#o.maxConnectionsPerPeer
    // why evict rather than refuse: a member reconnecting must not be locked out by strangers
    // that hold the slots without ever sending a message that counts
    if ((this.#perPeer.get(peer) ?? 0) >= perPeerMax && !this.#evict(peer, from)) {
      this.#refuse(socket, 'peer-connection-limit', { from, maxConnectionsPerPeer: perPeerMax }, 'inbound connection refused: per-address connection limit reached, every connection proven')
      return false
    }
    if (this.#open.size >= this.#o.maxConnections && !this.#evict(undefined, from)) {
      this.#refuse(socket, 'connection-limit', { from, maxConnections: this.#o.maxConnections }, 'inbound connection refused: connection limit reached, every connection proven')
      return false
    }
    return true
  }

  /** hold a slot for an admitted connection until release() */
  add (conn: InboundConnection): void {
    this.#open.add(conn)
    this.#perPeer.set(conn.peer, (this.#perPeer.get(conn.peer) ?? 0) + 1)
  }

  /** forget a connection (idempotent: an evicted one is released at once and again on close) */
  release (conn: InboundConnection): void {
    if (!this.#open.delete(conn)) return
    const left = (this.#perPeer.get(conn.peer) ?? 1) - 1
    if (left > 0) this.#perPeer.set(conn.peer, left)
    else this.#perPeer.delete(conn.peer)
  }

  /** close every open connection */
  closeAll (): void {
    for (const c of this.#open) c.close()
  }

  #refuse (socket: net.Socket, reason: string, detail: Record<string, unknown>, msg: string): void {
    const n = this.#o.counters.drop(reason)
    if (worthLogging(n)) this.#o.logger.warn({ ...detail, count: n }, msg)
    socket.on('error', () => {})
    socket.destroy()
  }

  /**
   * Close the oldest unproven connection (from `peer` when given), those that sent nothing first;
   * false when every connection in scope is proven.
   */
  #evict (peer: string | undefined, newcomer: string): boolean {
    let victim: InboundConnection | undefined
    for (const c of this.#open) {
      if (c.proven || (peer !== undefined && c.peer !== peer)) continue
      if (c.silent) { victim = c; break }
      victim ??= c
    }
    if (victim === undefined) return false
    const n = this.#o.counters.drop('connection-evicted')
    if (worthLogging(n)) this.#o.logger.warn({ from: victim.peer, newcomer, scope: peer === undefined ? 'maxConnections' : 'maxConnectionsPerPeer', count: n }, 'inbound connection closed to make room: it never proved itself')
    victim.evict()
    this.release(victim)
    return true
  }
}
