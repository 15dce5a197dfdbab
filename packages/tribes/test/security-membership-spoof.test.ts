/**
 * Membership spoofing by a LAN attacker, with real UDP datagrams on 127.0.0.1: two membership
 * services (observer A, victim B) send their heartbeats to each other's UDP port, and an attacker
 * socket sends forged, altered and replayed datagrams to A. The clock is manual and the failure
 * detector's probe answers "dead", so every drop decision is the datagram's doing.
 *
 * With the cluster key: a forged member is never listed; a datagram naming B (its host, port and
 * uniqueId) that says "shutdown" or carries another route/HTTP URL does not evict or change B;
 * replayed genuine datagrams neither keep a silent B alive nor bring it back, and B's genuine
 * shutdown replayed later does not evict B's next incarnation. What a replay CAN do (a receiver
 * that restarted lists a dead member until the failure detector checks it) and what anyone can
 * do without a key are asserted too, as SECURITY.md states them.
 */
import t, { type Test } from 'tap'
import dgram from 'node:dgram'
import crypto from 'node:crypto'
import { Keyring, generateKey, decodeMember, encodeMember, SHUTDOWN_COMMAND, type MemberFields } from '../src/index.js'
import { encodePayload, encodeSignedMember, decodePayload, payloadOffsetOf, type MemberAuth } from '../src/codec/member-payload.js'
import { MembershipService } from '../src/membership/membership-service.js'
import type { HeartbeatTransport } from '../src/membership/heartbeat-transport.js'
import { ManualClock } from './membership-helpers.js'
import { waitUntil } from '@nodecat/testkit'

const KEY = generateKey()

/** Heartbeats as unicast UDP datagrams to a list of ports on 127.0.0.1 (multicast needs a namespace). */
class UdpTransport implements HeartbeatTransport {
  readonly socket = dgram.createSocket('udp4')
  peers: number[] = []
  async start (onBlob: (blob: Buffer, from: string) => void): Promise<void> {
    this.socket.on('message', (msg, r) => onBlob(msg, `${r.address}:${r.port}`))
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve))
  }

  get port (): number { return this.socket.address().port }
  async send (blob: Buffer): Promise<void> {
    await Promise.all(this.peers.map(async (p) => await new Promise<void>((resolve, reject) => this.socket.send(blob, p, '127.0.0.1', (err) => err ? reject(err) : resolve()))))
  }

  async stop (): Promise<void> { await new Promise<void>((resolve) => this.socket.close(() => resolve())) }
}

interface Svc { s: MembershipService, u: UdpTransport, sent: Buffer[] }

async function service (t: Test, clock: ManualClock, route: string, port: number, auth: MemberAuth | undefined): Promise<Svc> {
  const u = new UdpTransport()
  const sent: Buffer[] = []
  const send = u.send.bind(u)
  u.send = async (blob) => { sent.push(Buffer.from(blob)); await send(blob) }
  const s = new MembershipService({
    local: { host: '127.0.0.1', port, meta: { protocol: 1, role: 'node', route, http: `http://127.0.0.1:${port + 1000}` } },
    transport: u,
    frequency: 100,
    dropTime: 1000,
    clock: clock.read,
    timers: false,
    probe: async () => false,
    auth
  })
  t.teardown(() => s.stop())
  return { s, u, sent }
}

/** datagrams on loopback arrive within milliseconds: check often, give up after 5 s */
const QUICK = { timeoutMs: 5000, everyMs: 5 }

/** an attacker socket on 127.0.0.1; `to` sends one datagram and waits until the service took it in */
async function attacker (t: Test) {
  const sock = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve))
  t.teardown(() => sock.close())
  return async (victim: Svc, blob: Buffer): Promise<void> => {
    const before = victim.s.stats().heartbeatsReceived
    sock.send(blob, victim.u.port, '127.0.0.1')
    await waitUntil('datagram received', () => victim.s.stats().heartbeatsReceived > before, QUICK)
  }
}

/** A and B hearing each other, with B's datagrams captured */
async function pair (t: Test, auth: MemberAuth | undefined) {
  const clock = new ManualClock()
  const a = await service(t, clock, 'a', 4100, auth)
  const b = await service(t, clock, 'b', 4200, auth)
  await a.s.start(); await b.s.start()
  a.u.peers = [b.u.port]; b.u.peers = [a.u.port]
  await a.s.heartbeat(); clock.advance(100); await b.s.heartbeat()
  await waitUntil('A lists B', () => a.s.members().length === 1, QUICK)
  return { clock, a, b, send: await attacker(t) }
}

/** B's identity with other fields: re-encoded and tagged with `auth` (or untagged) */
function forge (genuine: Buffer, change: Partial<MemberFields> & { route?: string, http?: string }, auth?: MemberAuth): Buffer {
  const f = decodeMember(genuine)
  const p = decodePayload(f.payload, payloadOffsetOf(f))
  if (p.kind !== 'nodecat') throw new Error('not nodecat')
  const meta = { ...p.meta, ...(change.route ? { route: change.route } : {}), ...(change.http ? { http: change.http } : {}) }
  const fields = { ...f, ...change, payload: encodePayload(meta, auth === undefined ? 0 : 16) }
  return encodeSignedMember(fields, auth)
}

t.test('with the key: forged members and forged datagrams naming a member are dropped, counted, change nothing', async (t) => {
  const { a, b, send } = await pair(t, new Keyring({ key: KEY }))
  const bId = b.s.localMember.id
  const genuine = b.sent.at(-1)!
  const other = new Keyring({ key: generateKey() })

  // join: a new member without the key
  const stranger = encodeSignedMember({ ...decodeMember(genuine), uniqueId: crypto.randomBytes(16), port: 4999, payload: encodePayload({ protocol: 1, role: 'node', route: 'evil' }, 16) }, other)
  await send(a, stranger)
  await send(a, forge(stranger, {}))
  t.same(a.s.members().map((m) => m.meta?.route), ['b'], 'the stranger is never listed (wrong key, no tag)')

  // evict: B's identity saying shutdown, tagged with another key, untagged, and with B's own tag kept
  await send(a, forge(genuine, { command: SHUTDOWN_COMMAND, aliveTime: 10_000_000 }, other))
  await send(a, forge(genuine, { command: SHUTDOWN_COMMAND, aliveTime: 10_000_000 }))
  await send(a, encodeMember({ ...decodeMember(genuine), command: SHUTDOWN_COMMAND, aliveTime: 10_000_000 }))
  t.same(a.s.members().map((m) => m.id), [bId], 'B is still a member')

  // impersonate: B's identity with the attacker's HTTP URL and route
  await send(a, forge(genuine, { http: 'http://127.0.0.66:80', route: 'a', aliveTime: 10_000_000 }, other))
  await send(a, encodeMember({ ...decodeMember(genuine), aliveTime: 10_000_000 }))
  const seen = a.s.members()[0]!
  t.equal(seen.meta?.http, 'http://127.0.0.1:5200', 'B keeps its HTTP URL')
  t.equal(seen.meta?.route, 'b', 'and its route')
  t.equal(a.s.stats().dropped.auth, 7, 'every forged datagram dropped as auth and counted')
})

t.test('with the key: replayed genuine datagrams keep no one alive, bring no one back, evict no one', async (t) => {
  const { clock, a, b, send } = await pair(t, new Keyring({ key: KEY }))
  const bId = b.s.localMember.id
  const old = b.sent.at(-1)!
  clock.advance(100); await b.s.heartbeat()
  await waitUntil('A heard the newer heartbeat', () => a.s.members()[0]!.aliveTime > decodeMember(old).aliveTime, QUICK)
  await send(a, old)
  t.equal(a.s.stats().dropped.replay, 1, 'an older heartbeat of B is a counted replay')

  // B goes silent; the attacker replays B's latest heartbeat every 100 ms
  const latest = b.sent.at(-1)!
  b.u.peers = []
  for (let i = 0; i < 15; i++) { clock.advance(100); await send(a, latest) }
  await a.s.checkNow()
  t.same(a.s.members(), [], 'a silent B is dropped although its heartbeat was replayed')
  t.ok((a.s.stats().dropped.duplicate ?? 0) >= 15, 'the replays were counted as duplicates, not signs of life')
  await send(a, latest)
  await send(a, old)
  t.same(a.s.members(), [], 'replaying B\'s datagrams does not bring B back')

  // B stops for good (its shutdown datagram is captured) and a new B starts on the same port
  b.u.peers = [a.u.port]
  await b.s.stop()
  const shutdown = b.sent.at(-1)!
  t.ok(decodeMember(shutdown).command.equals(SHUTDOWN_COMMAND), 'captured B\'s genuine shutdown')
  const b2 = await service(t, clock, 'b', 4200, new Keyring({ key: KEY }))
  await b2.s.start(); b2.u.peers = [a.u.port]; await b2.s.heartbeat()
  await waitUntil('A lists the new B', () => a.s.members().length === 1, QUICK)
  t.not(a.s.members()[0]!.id, bId, 'the new B is a new member (new uniqueId)')
  await send(a, shutdown)
  t.equal(a.s.members().length, 1, 'the old shutdown replayed does not evict the new B')
})

t.test('with the key, what a replay can do: a receiver that restarted lists a dead member until the failure detector checks it', async (t) => {
  const { clock, a, b } = await pair(t, new Keyring({ key: KEY }))
  const latest = b.sent.at(-1)!
  b.u.peers = []
  const fresh = await service(t, clock, 'a2', 4300, new Keyring({ key: KEY }))
  await fresh.s.start()
  const send = await attacker(t)
  await b.s.stop()
  await send(fresh, latest)
  t.same(fresh.s.members().map((m) => m.meta?.route), ['b'], 'the restarted receiver, with no memory of B, lists the replayed dead B')
  clock.advance(1100)
  await fresh.s.checkNow()
  t.same(fresh.s.members(), [], 'after dropTime the probe finds nobody and drops it')
  await send(fresh, latest)
  t.same(fresh.s.members(), [], 'and the same replay does not bring it back')
  t.equal(a.s.members().length, 1, '(A, which never restarted, is not affected)')
})

t.test('without a key (insecure, loopback only): anyone can evict or impersonate a member', async (t) => {
  const { a, b, send } = await pair(t, undefined)
  const genuine = b.sent.at(-1)!
  await send(a, forge(genuine, { http: 'http://127.0.0.66:80', aliveTime: 10_000_000 }))
  t.equal(a.s.members()[0]!.meta?.http, 'http://127.0.0.66:80', 'a forged datagram changes B\'s HTTP URL')
  await send(a, forge(genuine, { command: SHUTDOWN_COMMAND, aliveTime: 10_000_001 }))
  t.same(a.s.members(), [], 'a forged shutdown evicts B')
  t.same(a.s.stats().dropped, {}, 'and nothing was dropped: without a key there is nothing to check')
})
