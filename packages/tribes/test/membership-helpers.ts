/**
 * Helpers for membership tests (not a test file): an in-memory heartbeat bus, a manual clock,
 * an HMAC-SHA256 MemberAuth, and a builder for services wired to them.
 */
import crypto from 'node:crypto'
import type { HeartbeatTransport } from '../src/membership/heartbeat-transport.js'
import type { MemberAuth } from '../src/codec/member-payload.js'
import { MembershipService, type MembershipServiceOptions } from '../src/membership/membership-service.js'
import type { DisappearReason, Member } from '../src/types.js'

/** Every blob sent by one transport reaches every started transport (itself too, like IP_MULTICAST_LOOP). */
export class MemoryBus {
  readonly transports = new Set<MemoryTransport>()
  /** every blob ever sent, in order (for replay tests) */
  readonly sent: Array<{ from: string, blob: Buffer }> = []
  transport (name: string): MemoryTransport { return new MemoryTransport(this, name) }
}

export class MemoryTransport implements HeartbeatTransport {
  #onBlob: ((blob: Buffer, from: string) => void) | undefined
  /** when true, sends are silently lost (a member that stopped heartbeating but still runs) */
  mute = false
  constructor (readonly bus: MemoryBus, readonly name: string) {}
  async start (onBlob: (blob: Buffer, from: string) => void): Promise<void> {
    this.#onBlob = onBlob
    this.bus.transports.add(this)
  }

  async send (blob: Buffer): Promise<void> {
    if (this.mute) return
    this.bus.sent.push({ from: this.name, blob: Buffer.from(blob) })
    for (const t of this.bus.transports) t.deliver(blob, this.name)
  }

  deliver (blob: Buffer, from: string): void { this.#onBlob?.(Buffer.from(blob), from) }

  async stop (): Promise<void> {
    this.bus.transports.delete(this)
    this.#onBlob = undefined
  }
}

export class ManualClock {
  now = 1_000_000
  read = (): number => this.now
  advance (ms: number): void { this.now += ms }
}

/** The shape of the cluster keyring's MAC: HMAC-SHA256 truncated to 16 bytes. */
export function hmacAuth (key: string): MemberAuth {
  const mac = (data: Buffer): Buffer => crypto.createHmac('sha256', key).update(data).digest().subarray(0, 16)
  return {
    mac,
    verifyMac: (data, tag) => tag.length === 16 && crypto.timingSafeEqual(mac(data), tag)
  }
}

export interface Recorded {
  added: Member[]
  gone: Array<{ member: Member, reason: DisappearReason }>
  foreign: Member[]
}

/** Record a service's events. */
export function record (service: MembershipService): Recorded {
  const r: Recorded = { added: [], gone: [], foreign: [] }
  service.on('memberAdded', (m) => r.added.push(m))
  service.on('memberDisappeared', (member, reason) => r.gone.push({ member, reason }))
  service.on('foreignMember', (m) => r.foreign.push(m))
  return r
}

let nextPort = 4000
/** A service on the bus with the manual clock, no timers, and a probe answering `probe` (default: dead). */
export function makeService (bus: MemoryBus, clock: ManualClock, options: Partial<MembershipServiceOptions> & { name?: string, route?: string, host?: string, port?: number, domain?: string } = {}): MembershipService & { transport: MemoryTransport } {
  const { name = `m${nextPort}`, route, host = '127.0.0.1', port = nextPort++, domain, ...rest } = options
  const transport = bus.transport(name)
  const service = new MembershipService({
    local: { host, port, domain, meta: { protocol: 1, role: 'node', route: route ?? name, http: `http://${host}:8080` } },
    transport,
    frequency: 100,
    dropTime: 1000,
    clock: clock.read,
    timers: false,
    probe: async () => false,
    ...rest
  })
  return Object.assign(service, { transport })
}
