/**
 * Static membership's HeartbeatTransport: for networks that drop multicast, heartbeats go over
 * TCP to a configured list of member receivers ("host:port"). Each heartbeat is one frame whose
 * ChannelData sender blob IS the heartbeat (envelope kind `heartbeat`, or `stop` for the goodbye),
 * sent without ack; the channel's receiver hands such frames back through {@link deliver}.
 */
import type { HeartbeatTransport } from '../membership/heartbeat-transport.js'
import { addressOf, type Target } from './sender.js'

export interface TcpHeartbeatOptions {
  /** configured member receivers (our own may be listed: it is skipped) */
  peers: readonly Target[]
  /** this member's receiver, known once it is bound */
  self: () => Target
  /** send one blob as a heartbeat frame to one peer; resolves when written, rejects when unreachable */
  sendBlob: (peer: Target, blob: Buffer) => Promise<void>
}

export class TcpHeartbeat implements HeartbeatTransport {
  readonly #o: TcpHeartbeatOptions
  #onBlob: ((blob: Buffer, from: string) => void) | undefined

  constructor (options: TcpHeartbeatOptions) {
    this.#o = options
  }

  async start (onBlob: (blob: Buffer, from: string) => void): Promise<void> {
    this.#onBlob = onBlob
  }

  /** Send to every configured peer but ourselves, in parallel. Never rejects for a peer that is down. */
  async send (blob: Buffer): Promise<void> {
    const self = addressOf(this.#o.self())
    await Promise.all(this.#o.peers
      .filter((p) => addressOf(p) !== self)
      .map((p) => this.#o.sendBlob(p, blob).catch(() => { /* down peers are membership's business */ })))
  }

  async stop (): Promise<void> {
    this.#onBlob = undefined
  }

  /** A heartbeat frame arrived: give its sender blob to membership. */
  deliver (blob: Buffer, from: string): void {
    this.#onBlob?.(blob, from)
  }
}
