/**
 * What a LAN attacker without the cluster key sees and can do on the replication stream between
 * two real nodes (SessionManager over real tribes channels, static membership on 127.0.0.1).
 *
 * A TCP proxy on 127.0.0.1 is put in the path from n1 to n2 (the test points the channel's
 * outgoing connections to n2's receiver at the proxy) and records every byte. With the key:
 * - no session id and no attribute value appears in the captured bytes (read);
 * - captured frames with one bit flipped are refused and counted, the session does not change (inject);
 * - captured frames sent again are refused as replays, the session does not change (replay);
 * - after n2 restarts (its replay memory is gone) the same frames change nothing either: the
 *   session's version stamp makes the old delta a duplicate;
 * - nor does a captured creation replayed to a node restarted within replayWindow bring back a
 *   session invalidated since (the state transfer carries the tombstones).
 * Without a key (allowed on loopback only) the same capture does show the id and the values: the
 * proof that the capture sees the session traffic at all.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import { createChannel, generateKey, type Channel } from '@nodecat/tribes'
import { SessionManager } from '../src/manager/session-manager.js'
import { freePorts } from '../../../test/lib/ports.js'
import { memoryLogger } from './helpers/session-cluster.js'
import { waitUntil, sleep } from '@nodecat/testkit'

const KEY = generateKey()
const MAGIC = Buffer.from('FLT2002', 'latin1')

const WAIT = 30_000

/** A recording TCP proxy to 127.0.0.1:`target`; `bytes` is everything sent towards the target. */
async function proxy (t: Test, target: number, connect: typeof net.createConnection): Promise<{ port: number, bytes: () => Buffer }> {
  const chunks: Buffer[] = []
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: target })
    sockets.add(client); sockets.add(upstream)
    client.on('data', (c: Buffer) => { chunks.push(Buffer.from(c)); upstream.write(c) })
    upstream.on('data', (c: Buffer) => client.write(c))
    const close = () => { client.destroy(); upstream.destroy() }
    client.on('error', close); upstream.on('error', close); client.on('close', close); upstream.on('close', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return { port: (server.address() as net.AddressInfo).port, bytes: () => Buffer.concat(chunks) }
}

/** Whole frames (FLT2002 | length | body | TLF2003) in a captured stream, from byte `from` on. */
function frames (stream: Buffer, from = 0): Buffer[] {
  const out: Buffer[] = []
  let o = stream.indexOf(MAGIC, from)
  while (o >= 0 && o + 11 <= stream.length) {
    const len = stream.readUInt32BE(o + 7)
    if (o + 18 + len > stream.length) break
    out.push(Buffer.from(stream.subarray(o, o + 18 + len)))
    o = stream.indexOf(MAGIC, o + 18 + len)
  }
  return out
}

/** Write frames on a fresh raw connection to `port` and wait until the receiver had time to handle them. */
/**
 * Send each frame on a connection of its own, as an attacker would once the receiver closes a
 * connection whose first frame does not authenticate.
 */
async function inject (port: number, list: Buffer[]): Promise<void> {
  await Promise.all(list.map(async (f) => {
    const s = net.connect(port, '127.0.0.1')
    s.on('error', () => {})
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject) })
    s.write(f)
    await sleep(300)
    s.destroy()
  }))
}

interface Node { channel: Channel, manager: SessionManager }

async function node (t: Test, route: string, port: number, all: number[], keyed: boolean, waitPeer = false): Promise<Node> {
  const channel = createChannel({
    port,
    autoBind: 1,
    timeout: 10_000,
    sendMode: 'sync',
    meta: { route, role: 'node' },
    ...(keyed ? { key: KEY } : {}),
    membership: { type: 'static', members: all.map((p) => `127.0.0.1:${p}`), frequency: 100, dropTime: 2000 }
  })
  await channel.start()
  // why: a node that joins a running cluster asks a member for the sessions, so it must see one first
  if (waitPeer) await waitUntil(`${route} sees a peer`, () => channel.members().length > 0, WAIT)
  const { logger } = memoryLogger()
  const manager = new SessionManager({ route, channel, logger, processExpiresFrequency: 0, stateTransferTimeout: 30_000, transferRetry: 500, sendMode: 'sync' })
  t.teardown(async () => { await manager.stop(); await channel.stop() })
  await manager.start()
  return { channel, manager }
}

/** n1 and n2, with n1's connections to n2's receiver going through a recording proxy */
async function pair (t: Test, keyed: boolean) {
  const [p1, p2] = await freePorts(2)
  const original = net.createConnection
  const tap = await proxy(t, p2!, original)
  // why: the attacker sits on the wire between n1 and n2; here that is a proxy n1 connects to
  ;(net as any).createConnection = (opts: any, ...rest: any[]) =>
    original(typeof opts === 'object' && opts.port === p2 && opts.host === '127.0.0.1' ? { ...opts, port: tap.port } : opts, ...rest)
  t.teardown(() => { (net as any).createConnection = original })
  const [n1, n2] = await Promise.all([node(t, 'n1', p1!, [p1!, p2!], keyed), node(t, 'n2', p2!, [p1!, p2!], keyed)])
  await waitUntil('mesh', () => n1.channel.members().length === 1 && n2.channel.members().length === 1, WAIT)
  return { n1, n2, p1: p1!, p2: p2!, tap }
}

async function write (n: Node, ids: string[], attrs: Record<string, unknown>): Promise<string> {
  const rs = n.manager.open(ids)
  for (const [k, v] of Object.entries(attrs)) rs.session.set(k, v)
  await rs.end({ replicate: true })
  return rs.session.id!
}

t.test('without a key (loopback only) the capture shows session ids and values: the capture works', async (t) => {
  const { n1, n2, tap } = await pair(t, false)
  const id = await write(n1, [], { card: 'PLAINTEXT-MARKER-4111' })
  await waitUntil('replica', () => n2.manager.inspect(id) !== null, WAIT)
  const wire = tap.bytes().toString('latin1')
  t.ok(wire.includes('PLAINTEXT-MARKER-4111'), 'attribute value visible on the wire')
  t.ok(wire.includes(id), 'session id visible on the wire')
})

t.test('with the key: nothing readable, flipped bits refused, replays refused, also after a restart', async (t) => {
  const { n1, n2, p1, p2, tap } = await pair(t, true)
  const id = await write(n1, [], { card: 'SECRET-MARKER-4111', user: 'ann@example.org' })
  t.same(n2.manager.inspect(id)?.attributes, { card: 'SECRET-MARKER-4111', user: 'ann@example.org' }, 'replicated (sync)')
  const mark = tap.bytes().length
  await write(n1, [id], { card: 'SECRET-MARKER-v2' })
  t.equal(n2.manager.inspect(id)?.attributes.card, 'SECRET-MARKER-v2')
  const captured = frames(tap.bytes(), mark)
  t.ok(captured.length >= 1, `captured ${captured.length} frames carrying the v2 delta`)
  await write(n1, [id], { card: 'SECRET-MARKER-v3' })
  const v3 = n2.manager.inspect(id)!
  t.equal(v3.attributes.card, 'SECRET-MARKER-v3')

  // read
  const wire = tap.bytes()
  t.ok(wire.length > 500, `${wire.length} bytes captured`)
  for (const secret of ['SECRET-MARKER', 'ann@example.org', id, id.split('.')[0]!]) {
    t.equal(wire.indexOf(secret, 0, 'utf8'), -1, `${secret === id ? 'the session id' : secret} is not on the wire`)
  }
  t.equal(wire.indexOf(Buffer.from(KEY, 'base64')), -1, 'nor the key')

  // inject: every captured frame with one bit flipped in its sealed body
  const before = n2.channel.stats().dropped
  const flipped = captured.map((f) => { const c = Buffer.from(f); c[c.length - 12]! ^= 0x01; return c })
  await inject(p2, flipped)
  const afterFlip = n2.channel.stats().dropped
  t.equal((afterFlip.decrypt ?? 0) - (before.decrypt ?? 0), flipped.length, 'each flipped frame refused and counted (decrypt)')
  t.same(n2.manager.inspect(id), v3, 'the session did not change')

  // replay: the captured frames as they were
  await inject(p2, captured)
  const afterReplay = n2.channel.stats().dropped
  t.equal((afterReplay.replay ?? 0) - (afterFlip.replay ?? 0), captured.length, 'each replayed frame refused and counted (replay)')
  t.same(n2.manager.inspect(id), v3, 'the session did not go back to v2')

  // replay after n2 restarts: its replay memory is new; the version stamp still refuses the old delta
  await n2.manager.stop(); await n2.channel.stop()
  const n2b = await node(t, 'n2', p2, [p1, p2], true, true)
  await waitUntil('restarted n2 has the session', () => n2b.manager.inspect(id)?.version === v3.version, WAIT)
  const restarted = n2b.manager.inspect(id)
  await inject(p2, captured)
  const d = n2b.channel.stats().dropped
  t.comment(`after the restart the replayed frames were: replay-dropped ${d.replay ?? 0}, decrypt-dropped ${d.decrypt ?? 0} of ${captured.length}`)
  t.same(n2b.manager.inspect(id), restarted, 'the restarted node still holds v3: the old delta changed nothing')
  t.equal(n2b.manager.inspect(id)?.attributes.card, 'SECRET-MARKER-v3')
})

t.test('a captured creation replayed to a node restarted within replayWindow does not bring back a session invalidated since', async (t) => {
  const { n1, n2, p1, p2, tap } = await pair(t, true)
  const mark = tap.bytes().length
  const id = await write(n1, [], { user: 'bob' })
  const captured = frames(tap.bytes(), mark)
  const rs = n1.manager.open([id]); rs.session.invalidate(); await rs.end({ replicate: true })
  t.equal(n2.manager.inspect(id), null, 'invalidated on n2')
  await inject(p2, captured)
  t.equal(n2.manager.inspect(id), null, 'replayed to the same n2: refused (replay), the session stays gone')
  await n2.manager.stop(); await n2.channel.stop()
  const n2b = await node(t, 'n2', p2, [p1, p2], true, true)
  t.equal(n2b.manager.inspect(id), null, 'the restarted n2 did not get it by state transfer')
  // tribes has no memory of the frame after the restart and delivers it once more; was-node must
  // refuse it: the state transfer brought n1's tombstone for the invalidated id along
  for (let i = 0; i < 150 && n2b.manager.stats().received.expired === undefined; i++) await sleep(20)
  t.ok(n2b.manager.stats().received.expired, 'the restarted n2 received n1\'s tombstones with the state transfer')
  await inject(p2, captured)
  t.equal(n2b.channel.stats().dropped.replay ?? 0, 0, '(tribes did deliver the replayed frame: its replay memory is new)')
  t.equal(n2b.manager.inspect(id), null, 'the invalidated session is not re-installed')
  t.equal(n1.manager.inspect(id), null, 'nor on n1')
})
