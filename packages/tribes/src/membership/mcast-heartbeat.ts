/**
 * The multicast HeartbeatTransport (McastService's socket): one UDP socket bound to the group
 * port, joined to the group on the `bind` interface. Socket errors never crash the process: the
 * socket is closed and recreated after `recoveryDelay` (Tomcat's recovery thread).
 */
import dgram from 'node:dgram'
import { pino, type Logger } from 'pino'
import type { HeartbeatTransport } from './heartbeat-transport.js'
import { check, IPV4, isMulticastAddress, MCAST_DEFAULTS } from './defaults.js'
import { errors } from '../errors.js'

export interface McastHeartbeatOptions {
  /** multicast group; default 228.0.0.4 */
  address?: string
  /** group port; default 45564 */
  port?: number
  /**
   * address of the interface to join on and send from (Tomcat's `bind`). Without it the kernel
   * picks by route, which fails (ENODEV) in a network with no multicast route.
   */
  bind?: string
  /** multicast TTL; default 1 (the local link only) */
  ttl?: number
  /** receive our own (and same-host members') datagrams; default true */
  loopback?: boolean
  /** ms before a failed socket is recreated; default 1000 */
  recoveryDelay?: number
  logger?: Logger
}

export class McastHeartbeat implements HeartbeatTransport {
  readonly #address: string
  readonly #port: number
  readonly #bind: string | undefined
  readonly #ttl: number
  readonly #loopback: boolean
  readonly #recoveryDelay: number
  readonly #log: Logger
  #socket: dgram.Socket | undefined
  #onBlob: ((blob: Buffer, from: string) => void) | undefined
  #recovery: NodeJS.Timeout | undefined
  #stopped = false
  #recoveries = 0

  constructor (options: McastHeartbeatOptions = {}) {
    const d = MCAST_DEFAULTS
    this.#address = check.string(options.address ?? d.address, 'membership.address')
    if (!isMulticastAddress(this.#address)) check.fail('membership.address', 'a multicast group address (224.0.0.0/4 or ff00::/8)', this.#address)
    this.#port = check.integer(options.port ?? d.port, 'membership.port', 1, 65535)
    this.#bind = options.bind === undefined ? undefined : check.string(options.bind, 'membership.bind', this.#ipv6 ? /:/ : IPV4, 'an interface address of the group\'s family')
    this.#ttl = check.integer(options.ttl ?? d.ttl, 'membership.ttl', 0, 255)
    this.#loopback = check.boolean(options.loopback ?? d.loopback, 'membership.loopback')
    this.#recoveryDelay = check.integer(options.recoveryDelay ?? d.recoveryDelay, 'membership.recoveryDelay', 10, 600000)
    this.#log = options.logger ?? pino({ level: 'silent' })
  }

  get #ipv6 (): boolean { return this.#address.includes(':') }

  /** times the socket was recreated after an error */
  get recoveries (): number { return this.#recoveries }

  async start (onBlob: (blob: Buffer, from: string) => void): Promise<void> {
    if (this.#onBlob !== undefined) throw errors.membershipState('multicast heartbeat already started')
    this.#onBlob = onBlob
    this.#socket = await this.#open()
  }

  async send (blob: Buffer): Promise<void> {
    const socket = this.#socket
    if (socket === undefined) throw errors.multicastRecovering()
    await new Promise<void>((resolve, reject) => {
      socket.send(blob, this.#port, this.#address, (err) => { err ? reject(err) : resolve() })
    })
  }

  async stop (): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#recovery)
    const socket = this.#socket
    this.#socket = undefined
    if (socket !== undefined) await new Promise<void>((resolve) => { try { socket.close(() => resolve()) } catch { resolve() } })
  }

  async #open (): Promise<dgram.Socket> {
    const socket = dgram.createSocket({ type: this.#ipv6 ? 'udp6' : 'udp4', reuseAddr: true })
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject)
        // why: on Linux, binding the group address filters out unicast sent to the port
        socket.bind({ port: this.#port, address: this.#address, exclusive: false }, () => { socket.off('error', reject); resolve() })
      })
      socket.addMembership(this.#address, this.#bind)
      if (this.#bind !== undefined) socket.setMulticastInterface(this.#bind)
      socket.setMulticastTTL(this.#ttl)
      socket.setMulticastLoopback(this.#loopback)
    } catch (err) {
      try { socket.close() } catch {}
      throw errors.membershipSocket(`${this.#address}:${this.#port}`, this.#bind, err)
    }
    socket.on('message', (msg, rinfo) => {
      try { this.#onBlob?.(msg, `${rinfo.address}:${rinfo.port}`) } catch (err) { this.#log.error({ err }, 'membership datagram handler threw') }
    })
    socket.on('error', (err) => this.#recover(socket, err))
    return socket
  }

  #recover (failed: dgram.Socket, err: Error): void {
    if (this.#socket !== failed || this.#stopped) return
    this.#log.error({ err }, `multicast socket failed; recreating it in ${this.#recoveryDelay} ms`)
    this.#socket = undefined
    try { failed.close() } catch {}
    const retry = (): void => {
      this.#recovery = setTimeout(() => {
        if (this.#stopped) return
        this.#open().then((socket) => {
          if (this.#stopped) { socket.close(); return }
          this.#socket = socket
          this.#recoveries++
          this.#log.info('multicast socket recreated')
        }, (e: unknown) => {
          this.#log.error({ err: e }, `multicast socket still failing; retrying in ${this.#recoveryDelay} ms`)
          retry()
        })
      }, this.#recoveryDelay)
    }
    retry()
  }

  /** test hook: make the socket fail as a network error would */
  simulateError (err: Error): void {
    this.#socket?.emit('error', err)
  }
}
