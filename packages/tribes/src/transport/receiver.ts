/**
 * The TCP receiver (NioReceiver): listens on one specific address, binding the first free port of
 * port .. port+autoBind-1, parses frames per connection and answers ACK / FAIL_ACK on the same
 * connection, as Tomcat's NioReceiver does (ACK and FAIL_ACK are ordinary frames with the bodies
 * 6,2,3 and 11,0,5; only the synchronously acked mode ever sends FAIL_ACK):
 *
 * - USE_ACK without SYNCHRONIZED_ACK: ACK is written before the message is handled.
 * - USE_ACK + SYNCHRONIZED_ACK: the handler is awaited; ACK when it settles fine, FAIL_ACK when it
 *   throws or rejects.
 * - no USE_ACK: nothing is written back.
 *
 * Messages of one connection are handled strictly in order: while a sync message's handler is
 * pending, the connection is paused and later frames wait. An oversized or garbled frame closes
 * that connection only (counted and logged); other connections go on.
 *
 * Limits that hold against a hostile peer (docs/LIMITS.md): at most `maxConnections` inbound
 * connections ('connection-limit'), at most `maxConnectionsPerPeer` of them from one remote
 * address ('peer-connection-limit'), a frame begun must be complete within `frameTimeout` ms
 * ('frame-timeout': a slowloris cannot hold a connection and its buffer forever; a connection
 * idle between frames is kept, as senders keep theirs alive), a connection buffers at most
 * one frame of `maxFrameSize` bytes, and all connections together at most `maxBufferedBytes`
 * ('buffer-limit': the connection whose read would pass it is closed).
 *
 * Strangers cannot hold the slots a member needs. A connection is *proven* once it delivered a
 * message that counts (`proof`: any frame whose ChannelData decodes, or only what the handler
 * accepts with `conn.prove()`, which the channel does for an envelope that opens, with a cluster
 * key an authentic one). One that is not proven within `firstFrameTimeout` ms is closed
 * ('first-frame-timeout'; a first frame whose header is in by then is given its frameTimeout and
 * judged once handled). When a limit is reached, the oldest unproven connection in its scope (that
 * address, or all) is closed to make room ('connection-evicted'; those that sent nothing go
 * first); only when every one in scope is proven is the new connection refused.
 *
 * Parts: one connection (frames, acks, its timers) is inbound-connection.ts; the slot limits and
 * eviction are connection-slots.ts.
 */
import net from 'node:net'
import { errors } from '../errors.js'
import { BufferBudget, InboundConnection, type ConnectionOptions } from './inbound-connection.js'
import { ConnectionSlots } from './connection-slots.js'
import { DEFAULTS } from '../options.js'

export type { InboundHandler, InboundPeer } from './inbound-connection.js'

export interface ReceiverOptions extends ConnectionOptions {
  /** a specific address (never the wildcard) */
  address: string
  /** first port tried; 0 = any free port */
  port: number
  autoBind: number
  maxConnections: number
  /** inbound connections from one remote address; default DEFAULTS.maxConnectionsPerPeer */
  maxConnectionsPerPeer?: number
  /** bytes of unfinished frames over every connection; default DEFAULTS.maxBufferedBytes */
  maxBufferedBytes?: number
}

export class Receiver {
  readonly #o: ReceiverOptions
  #server: net.Server | undefined
  #port = 0
  readonly #slots: ConnectionSlots
  readonly #budget: BufferBudget

  constructor (options: ReceiverOptions) {
    this.#o = options
    this.#budget = new BufferBudget(options.maxBufferedBytes ?? DEFAULTS.maxBufferedBytes)
    this.#slots = new ConnectionSlots({
      maxConnections: options.maxConnections,
      maxConnectionsPerPeer: options.maxConnectionsPerPeer ?? DEFAULTS.maxConnectionsPerPeer,
      logger: options.logger,
      counters: options.counters
    })
  }

  /** the bound port (after start) */
  get port (): number { return this.#port }
  get address (): string { return this.#o.address }
  /** open inbound connections */
  get connections (): number { return this.#slots.size }
  /** open inbound connections that proved themselves (see ReceiverOptions.proof) */
  get provenConnections (): number { return this.#slots.proven }
  /** bytes held, over every connection, for frames not yet complete */
  get buffered (): number { return this.#budget.used }

  /** Bind the first free port of port .. port+autoBind-1; resolves with it. TRIBES_ERR_BIND if none. */
  async start (): Promise<number> {
    const { address, port, autoBind } = this.#o
    const last = port === 0 ? 0 : Math.min(65535, port + autoBind - 1)
    let lastErr: unknown
    for (let p = port; p <= last; p++) {
      const server = this.#createServer()
      try {
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen({ host: address, port: p, exclusive: true }, () => { server.off('error', reject); resolve() })
        })
        this.#server = server
        this.#port = (server.address() as net.AddressInfo).port
        server.on('error', (err) => this.#o.logger.error({ err }, 'receiver error'))
        return this.#port
      } catch (err) {
        lastErr = err
        const code = (err as NodeJS.ErrnoException).code
        if (code !== 'EADDRINUSE' && code !== 'EACCES') break
      }
    }
    throw errors.bind(address, port, last, lastErr)
  }

  #createServer (): net.Server {
    const server = net.createServer({ noDelay: true })
    server.on('connection', (socket) => {
      const peer = socket.remoteAddress ?? ''
      if (!this.#slots.admit(socket, peer)) return
      const conn = new InboundConnection(socket, this.#o, this.#budget)
      this.#slots.add(conn)
      socket.once('close', () => this.#slots.release(conn))
    })
    return server
  }

  /** Stop listening and close every inbound connection. */
  async stop (): Promise<void> {
    const server = this.#server
    this.#server = undefined
    if (server === undefined) return
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    this.#slots.closeAll()
    await closed
  }
}
