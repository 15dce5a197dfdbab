/**
 * Fuzzing what a SessionManager receives, through the real path: a raw TCP client sends nodecat
 * envelope frames to a real tribes channel on 127.0.0.1 (receiver → frame parser → ChannelData →
 * envelope → msgpackr → SessionManager). The bodies are hostile: random bytes, hand-made msgpack
 * with extension types and lying lengths, and session messages naming a real stored session with
 * one field replaced by a wrong type, a missing field, a huge array or string, deep nesting, or
 * prototype-pollution keys (`__proto__`, `constructor`, `prototype`).
 *
 * For every one: the node does not crash and the handler does not throw (the frame is answered
 * ACK, or FAIL_ACK when tribes itself dropped it), the stored session is byte-identical on both
 * nodes, no session is added, Object.prototype is untouched, and the message is counted as a drop
 * (by tribes when the body does not decode, by the manager when it is a session message of the
 * wrong shape; a decodable value that is not a session message is someone else's and ignored).
 *
 * NODECAT_FUZZ_RUNS=<n> runs every property n times; NODECAT_FUZZ_SEED / NODECAT_FUZZ_PATH replay.
 */
import t, { type Test } from 'tap'
import fc from 'fast-check'
import net from 'node:net'
import crypto from 'node:crypto'
import { Packr } from 'msgpackr'
import { createChannel, encodeEnvelopeFrame, encodeMember, hostToBytes, unpackValue, FrameParser, isAck, isFailAck, type Channel } from '@nodecat/tribes'
import { encodePayload } from '../../tribes/src/codec/member-payload.js'
import { SessionManager } from '../src/manager/session-manager.js'
import { checkMessage } from '../src/manager/validate.js'
import { freePorts } from '../../../test/lib/ports.js'
import { memoryLogger } from './helpers/session-cluster.js'
import { fuzzParams } from '../../../test/lib/fuzz.js'
import { waitUntil, sleep } from '@nodecat/testkit'

const MAX_SESSION_BYTES = 64 * 1024
const LIMITS = { maxSessionBytes: MAX_SESSION_BYTES, maxEntries: 10_000, maxChunkSessions: 5000 }
const packr = new Packr({ useRecords: false })
const valuePackr = new Packr({ mapsAsObjects: false, moreTypes: true, useRecords: true })

const WAIT = { timeoutMs: 30_000, everyMs: 10 }

async function twoNodes (t: Test) {
  const ports = await freePorts(2)
  const chs: Channel[] = ['n1', 'n2'].map((route, i) => {
    const ch = createChannel({ port: ports[i]!, autoBind: 1, timeout: 15_000, meta: { route, role: 'node' }, membership: { type: 'static', members: ports.map((p) => `127.0.0.1:${p}`), frequency: 100, dropTime: 5000 } })
    t.teardown(() => ch.stop())
    return ch
  })
  await Promise.all(chs.map((c) => c.start()))
  await waitUntil('mesh', () => chs.every((c) => c.members().length === 1), WAIT)
  const nodes = await Promise.all(chs.map(async (channel, i) => {
    const { logger } = memoryLogger()
    const manager = new SessionManager({ route: `n${i + 1}`, channel, logger, processExpiresFrequency: 0, maxSessionBytes: MAX_SESSION_BYTES, stateTransferTimeout: 30_000, transferRetry: 500, sessionRequestTimeout: 100 })
    t.teardown(() => manager.stop())
    await manager.start()
    return { channel, manager }
  }))
  return { nodes, ports }
}

/**
 * a raw TCP client that sends sync envelope frames and reads back ACK / FAIL_ACK. Without a key,
 * static membership admits a sender that claims a listed receiver from a listed host (the local
 * user SECURITY.md describes), so that is what it claims: `claimPort`, on 127.0.0.1.
 */
async function attacker (t: Test, port: number, claimPort: number) {
  const uniqueId = crypto.randomBytes(16)
  const sender = encodeMember({ aliveTime: 1, port: claimPort, securePort: -1, udpPort: -1, host: hostToBytes('127.0.0.1'), command: Buffer.alloc(0), domain: Buffer.alloc(0), uniqueId, payload: encodePayload({ protocol: 1, role: 'node', route: 'evil', http: 'http://127.0.0.9:8080' }) })
  let socket!: net.Socket
  const parser = new FrameParser({ maxFrameSize: 64 })
  let waiting: ((body: Buffer | null) => void) | undefined
  const connect = async () => {
    socket = net.connect(port, '127.0.0.1')
    socket.on('error', () => {})
    socket.on('data', (c) => { for (const b of parser.push(c)) { const w = waiting; waiting = undefined; w?.(Buffer.from(b)) } })
    socket.on('close', () => { const w = waiting; waiting = undefined; w?.(null) })
    await new Promise<void>((resolve) => socket.once('connect', resolve))
  }
  await connect()
  t.teardown(() => socket.destroy())
  return {
    /** send one message body; resolves 'ack' | 'fail-ack' once the receiver handled it */
    async send (body: Uint8Array): Promise<'ack' | 'fail-ack'> {
      const frame = encodeEnvelopeFrame({ options: 7, timestamp: Date.now(), uniqueId: crypto.randomBytes(16), sender }, 'app', body)
      const answer = new Promise<Buffer | null>((resolve) => { waiting = resolve })
      socket.write(frame)
      const got = await Promise.race([answer, new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000))])
      if (got === null) throw new Error('no ACK/FAIL_ACK: connection closed or handler hung')
      if (isAck(got)) return 'ack'
      if (isFailAck(got)) return 'fail-ack'
      throw new Error(`unexpected answer ${got.toString('hex')}`)
    }
  }
}

// ---- hostile values ------------------------------------------------------------------------

function deepArray (depth: number): unknown {
  let v: unknown = 'bottom'
  for (let i = 0; i < depth; i++) v = [v]
  return v
}
function deepObject (depth: number): unknown {
  let v: unknown = { k: 'nodecat.session' }
  for (let i = 0; i < depth; i++) v = { a: v }
  return v
}

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 3, withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withNullPrototype: true, withObjectString: true }),
  fc.constantFrom<unknown>(null, undefined, true, -1, 0, 2 ** 53, -(2 ** 53), 1.5, NaN, Infinity, -Infinity, '', 'x'.repeat(300_000), '\u0000', '../../etc/passwd', new Date(0)),
  fc.integer({ min: 1, max: 200_000 }).map((n) => new Array(n).fill(0)),
  fc.integer({ min: 1, max: 20_000 }).map((n) => new Array(n).fill([0, 'x', Buffer.alloc(1)])),
  fc.integer({ min: 10, max: 3000 }).map(deepArray),
  fc.integer({ min: 10, max: 3000 }).map(deepObject),
  fc.constantFrom<unknown>(
    JSON.parse('{"__proto__": {"polluted": 1, "k": "nodecat.session"}}'),
    JSON.parse('{"constructor": {"prototype": {"polluted": 1}}}'),
    JSON.parse('{"prototype": {"polluted": 1}}'),
    Buffer.alloc(MAX_SESSION_BYTES + 1),
    Buffer.from([0xc1]),
    new Map([[1, 2]]),
    new Set(['a'])
  )
)

/** raw msgpack the packer would never produce */
const rawMsgpack: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
  // extension types (fixext 1..16, ext 8) of every type byte, random payloads
  fc.tuple(fc.constantFrom(0xd4, 0xd5, 0xd6, 0xd7, 0xd8), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 16, maxLength: 16 }))
    .map(([head, type, data]) => Buffer.concat([Buffer.from([head, type]), Buffer.from(data).subarray(0, [1, 2, 4, 8, 16][head - 0xd4])])),
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 40 })).map(([type, data]) => Buffer.concat([Buffer.from([0xc7, data.length, type]), data])),
  // a map whose session-message fields are fine but one value is an extension
  fc.tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ minLength: 4, maxLength: 4 })).map(([type, data]) => Buffer.concat([Buffer.from([0x84]), packr.pack('k'), packr.pack('nodecat.session'), packr.pack('v'), packr.pack(1), packr.pack('t'), packr.pack('delta'), packr.pack('id'), Buffer.from([0xd6, type]), data])),
  // lying lengths: array32 / map32 / str32 / bin32 claiming up to 4 GiB
  fc.tuple(fc.constantFrom(0xdd, 0xdf, 0xdb, 0xc6), fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.uint8Array({ maxLength: 20 }))
    .map(([head, n, tail]) => { const b = Buffer.alloc(5); b[0] = head; b.writeUInt32BE(n, 1); return Buffer.concat([b, tail]) }),
  // a key __proto__ in a msgpack map (fixmap 1: "__proto__" → {polluted: 1})
  fc.constant(Buffer.concat([Buffer.from([0x82]), packr.pack('__proto__'), packr.pack({ polluted: 1 }), packr.pack('k'), packr.pack('nodecat.session')]))
)

type Path = Array<string | number>

function setAt (root: any, path: Path, value: unknown, remove: boolean): void {
  let o = root
  for (let i = 0; i < path.length - 1; i++) o = o[path[i]!]
  const last = path[path.length - 1]!
  if (remove) { if (Array.isArray(o)) o.splice(Number(last), 1); else delete o[last] } else o[last] = value
}

/** every path into a message (objects and arrays), so any field may be replaced */
function paths (v: unknown, prefix: Path = []): Path[] {
  if (v instanceof Uint8Array || v === null || typeof v !== 'object') return []
  const out: Path[] = []
  for (const k of Object.keys(v)) {
    const p = [...prefix, Array.isArray(v) ? Number(k) : k]
    out.push(p, ...paths((v as any)[k], p))
  }
  return out
}

t.test('hostile replication messages over a real channel: counted drops, stored sessions unchanged, nothing thrown', async (t) => {
  const { nodes: [a, b], ports } = await twoNodes(t)
  // a stored session, replicated to n2
  const rs = a!.manager.open([])
  rs.session.set('user', 'ana')
  rs.session.set('cart', ['apple', { n: 2 }])
  const id = rs.session.id!
  await rs.end({ replicate: true })
  await waitUntil('replicated', () => b!.manager.inspect(id) !== null, WAIT)
  // why: inspect() converts the monotonic clock to wall time on each call, so lastAccessedTime
  // jitters by a fraction of a ms; it is compared apart, within 5 ms (a touch would move it by seconds)
  const accessed = () => [a!.manager.inspect(id)?.lastAccessedTime ?? 0, b!.manager.inspect(id)?.lastAccessedTime ?? 0]
  const snap = () => JSON.stringify([a!.manager.inspect(id), b!.manager.inspect(id), a!.manager.stats().sessions, b!.manager.stats().sessions], (k, v) => k === 'lastAccessedTime' ? undefined : v)
  // why: the backup copy is complete only once every message of that first request is applied
  let before = snap()
  for (let stable = 0, k = 0; stable < 5 && k < 200; k++) {
    await sleep(50)
    const now = snap()
    stable = now === before ? stable + 1 : 0
    before = now
  }
  const accessedBefore = accessed()
  const full = { id, created: 1, idle: 0, max: 1800, principal: null, stamp: [1, 1, 'n1'], history: [], attrs: [['user', valuePackr.pack('mallory')]] }
  const templates: Array<Record<string, unknown>> = [
    { t: 'delta', id, from: [1, 1, 'n1'], to: [2, 2, 'n1'], a: [[0, 'user', valuePackr.pack('mallory')], [1, 'cart'], [2, 5], [3, null]] },
    { t: 'created', s: full },
    { t: 'expired', id, at: [9, 9, 'n1'], why: 'invalidated' },
    { t: 'accessed', id, at: [9, 9, 'n1'] },
    { t: 'id-changed', from: id, to: `${id.split('.')[0]}.evil` },
    { t: 'session-full', id, req: 1, s: full },
    { t: 'all-data', xfer: 1, seq: 0, s: [full] },
    { t: 'transfer-complete', xfer: 1, count: 1 },
    { t: 'get-all', xfer: 1 },
    { t: 'session-request', id, req: 1 }
  ]

  const evil = await attacker(t, ports[1]!, ports[0]!)
  const tribesDropped = () => Object.values(b!.channel.stats().dropped).reduce((x, y) => x + y, 0)
  const managerDropped = () => Object.values(b!.manager.stats().dropped).reduce((x, y) => x + y, 0)
  const counts = { sent: 0, tribes: 0, manager: 0, ignored: 0, valid: 0 }

  const check = async (body: Buffer): Promise<void> => {
    // the oracle: what the real path must do with these bytes
    let decoded: unknown
    let decodes = true
    try { decoded = unpackValue(body) } catch { decodes = false }
    const checked = decodes ? checkMessage(decoded, LIMITS) : null
    if (checked?.ok === true) { counts.valid++; return } // a well-formed message is not garbage
    const t0 = tribesDropped()
    const m0 = managerDropped()
    const answer = await evil.send(body)
    counts.sent++
    if (!decodes) {
      counts.tribes++
      if (answer !== 'fail-ack') throw new Error('an undecodable body was acked')
      if (tribesDropped() !== t0 + 1) throw new Error('an undecodable body was not counted by tribes')
    } else if (checked === null) {
      counts.ignored++
      if (answer !== 'ack') throw new Error('a message for someone else failed')
    } else {
      counts.manager++
      if (answer !== 'ack') throw new Error(`the manager threw on ${checked.reason}`)
      if (managerDropped() !== m0 + 1) throw new Error(`a bad session message (${checked.reason}) was not counted as a drop`)
    }
    if (snap() !== before) throw new Error(`a stored session changed: ${snap()} was ${before}`)
    if (accessed().some((x, i) => Math.abs(x - accessedBefore[i]!) > 5)) throw new Error(`lastAccessedTime changed: ${accessed().join()} was ${accessedBefore.join()}`)
    if (({} as any).polluted !== undefined || (Object.prototype as any).k !== undefined) throw new Error('Object.prototype was polluted')
  }

  // 1. random and hand-made msgpack bytes
  await fc.assert(fc.asyncProperty(rawMsgpack, async (body) => { await check(body) }), fuzzParams(150))
  // 2. a well-formed message naming the stored session with one field replaced, removed, or the
  //    whole message wrapped in hostile extras
  const corrupted = fc.tuple(fc.constantFrom(...templates), fc.nat(), hostileValue, fc.boolean()).map(([tpl, pick, value, remove]) => {
    const msg: any = structuredClone({ k: 'nodecat.session', v: 1, ...tpl })
    const ps = paths(msg).filter((p) => !(p.length === 1 && (p[0] === 'k')))
    setAt(msg, ps[pick % ps.length]!, value, remove)
    return msg
  })
  await fc.assert(fc.asyncProperty(corrupted, async (msg) => {
    let body: Buffer
    try { body = packr.pack(msg) } catch { return } // the attacker's packer refused it; nothing to send
    await check(body)
  }), fuzzParams(250))

  t.ok(counts.sent > 0, `sent ${counts.sent}: ${counts.tribes} dropped by tribes, ${counts.manager} by the manager, ${counts.ignored} not session messages; ${counts.valid} generated well-formed (not sent)`)
  t.ok(counts.manager > 0 && counts.tribes > 0, 'both drop paths were exercised')
  t.equal(snap(), before, 'the stored session is identical on both nodes')

  // the cluster still replicates
  const again = a!.manager.open([id])
  again.session.get<unknown[]>('cart')!.push('pear')
  await again.end({ replicate: true })
  await waitUntil('replicated again', () => JSON.stringify(b!.manager.inspect(id)?.attributes.cart) === JSON.stringify(['apple', { n: 2 }, 'pear']), WAIT)
  t.pass('replication goes on after the attack')
})
