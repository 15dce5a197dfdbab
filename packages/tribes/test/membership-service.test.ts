/**
 * MembershipService with an in-memory heartbeat bus and a manual clock: joins, ordering,
 * expiry, shutdown, domain, foreign members, cluster-key auth, replays, restarts, bad input.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { decodeMember, encodeMember, type MemberFields } from '../src/codec/member.js'
import { encodePayload, PAYLOAD_MAGIC } from '../src/codec/member-payload.js'
import { hmacAuth, makeService, ManualClock, MemoryBus, record } from './membership-helpers.js'

const fixture = (name: string): Buffer =>
  readFileSync(fileURLToPath(new URL(`./fixtures/tomcat10/membership/${name}`, import.meta.url)))

t.test('members that heartbeat are added once, with their metadata, and never include self', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a' }); const b = makeService(bus, clock, { name: 'b' })
  const ra = record(a); const rb = record(b)
  await a.start(); await b.start()
  clock.advance(100); await a.heartbeat(); await b.heartbeat()
  t.same(ra.added.map((m) => m.id), [b.localMember.id], 'a saw b once')
  t.same(rb.added.map((m) => m.id), [a.localMember.id], 'b saw a once')
  t.same(a.members().map((m) => m.meta?.route), ['b'], 'a lists only b')
  t.same(ra.added[0]!.meta, { protocol: 1, role: 'node', route: 'b', http: 'http://127.0.0.1:8080' }, 'metadata came through')
  t.match(a.localMember.id, /^127\.0\.0\.1:\d+\/[0-9a-f]{32}$/, 'id format host:port/uniqueId')
  t.equal(a.stats().heartbeatsSent, 2)
  t.ok(a.stats().heartbeatsReceived >= 3, 'a received its own and b\'s heartbeats')
  t.same(a.stats().dropped, {}, 'nothing dropped')
})

t.test('members are ordered by aliveTime, longest-running first', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const watcher = makeService(bus, clock, { name: 'w' })
  const old = makeService(bus, clock, { name: 'old' })
  const mid = makeService(bus, clock, { name: 'mid' })
  const young = makeService(bus, clock, { name: 'young' })
  await watcher.start(); await young.start()
  clock.advance(50)
  await mid.start()
  clock.advance(50)
  await old.start()
  // why: make "old" the longest-running by starting it last but letting it advertise a larger aliveTime
  clock.advance(100)
  await young.heartbeat(); await mid.heartbeat(); await old.heartbeat()
  t.same(watcher.members().map((m) => m.meta?.route), ['young', 'mid', 'old'], 'started first = listed first')
  const times = watcher.members().map((m) => m.aliveTime)
  t.same([...times].sort((x, y) => y - x), times, 'aliveTime descending')
})

t.test('a silent member expires only when silent for strictly more than dropTime', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a' }); const b = makeService(bus, clock, { name: 'b' })
  const ra = record(a)
  await a.start(); await b.start()
  t.equal(a.members().length, 1)
  clock.advance(1000) // exactly dropTime
  await a.checkNow()
  t.equal(a.members().length, 1, 'silent for exactly dropTime: still a member')
  clock.advance(1)
  await a.checkNow()
  t.equal(a.members().length, 0, 'silent for dropTime + 1: gone')
  t.same(ra.gone.map((g) => [g.member.id, g.reason]), [[b.localMember.id, 'timeout']])
  t.equal(a.stats().probes, 1, 'it was verified with one probe before being dropped')
})

t.test('a shutdown datagram removes the member at once', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a' }); const b = makeService(bus, clock, { name: 'b' })
  const ra = record(a)
  await a.start(); await b.start()
  const id = b.localMember.id
  clock.advance(10)
  await b.stop()
  t.same(ra.gone.map((g) => [g.member.id, g.reason]), [[id, 'shutdown']])
  t.same(a.members(), [])
  const last = bus.sent.at(-1)!
  t.equal(decodeMember(last.blob).command.toString(), 'BABY-ALEX', 'exactly the last datagram was the shutdown')
  t.equal(bus.sent.filter((s) => s.from === 'b' && decodeMember(s.blob).command.length > 0).length, 1, 'one shutdown datagram')
  t.equal(a.stats().probes, 0, 'no verification for a clean leave')
})

t.test('members of another domain are ignored and counted', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a', domain: 'blue' })
  const b = makeService(bus, clock, { name: 'b', domain: 'green' })
  const c = makeService(bus, clock, { name: 'c', domain: 'blue' })
  await a.start(); await b.start(); await c.start()
  t.same(a.members().map((m) => m.meta?.route), ['c'])
  t.same(b.members(), [])
  t.equal(a.stats().dropped.domain, 1, 'b\'s heartbeat counted as a domain drop')
})

t.test('a foreign member (Tomcat, or the probe) is reported, listed apart and never offered as a peer', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a', auth: hmacAuth('k') })
  const ra = record(a)
  await a.start()
  a.heard(fixture('tomcat1-alive-1.bin'), '10.77.0.11:45564')
  a.heard(fixture('tomcat1-alive-3.bin'), '10.77.0.11:45564')
  a.heard(fixture('generated-by-probe/fake-member-alive.bin'), '10.77.0.20:45564')
  t.same(ra.foreign.map((m) => m.host), ['10.77.0.11', '10.77.0.20'], 'each reported once')
  t.same(ra.added, [], 'no memberAdded')
  t.same(a.members(), [], 'not a peer')
  t.same(a.foreignMembers().map((m) => [m.host, m.meta]), [['10.77.0.11', null], ['10.77.0.20', null]], 'longest-running first')
  a.heard(fixture('tomcat1-shutdown-via-sigterm.bin'), '10.77.0.11:45564')
  t.same(a.foreignMembers().map((m) => m.host), ['10.77.0.20'], 'its shutdown removes it')
  t.same(ra.gone, [], 'a foreign leave is not a member disappearing')
  clock.advance(1001)
  await a.checkNow()
  t.same(a.foreignMembers(), [], 'a silent foreign member times out')
  t.equal(a.stats().probes, 0, 'foreign members are never probed')
})

t.test('with a cluster key, a member without the key or with another key is not admitted', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a', auth: hmacAuth('right') })
  const b = makeService(bus, clock, { name: 'b', auth: hmacAuth('right') })
  const wrong = makeService(bus, clock, { name: 'wrong', auth: hmacAuth('wrong') })
  const none = makeService(bus, clock, { name: 'none' })
  await a.start(); await b.start(); await wrong.start(); await none.start()
  t.same(a.members().map((m) => m.meta?.route), ['b'], 'a admits only b')
  t.same(none.members(), [], 'a keyless member admits no keyed one either')
  t.same(wrong.members(), [], 'the wrong key admits nobody')
  t.equal(a.stats().dropped.auth, 2, 'wrong and none counted as auth drops')
  // a forged change: take b's real datagram and alter one byte covered by the tag (the port)
  const real = bus.sent.find((s) => s.from === 'b')!.blob
  const forged = Buffer.from(real); forged.writeInt32BE(forged.readInt32BE(22) + 1, 22)
  a.heard(forged, 'x')
  t.equal(a.stats().dropped.auth, 3, 'an altered port fails the tag')
  const forgedAlive = Buffer.from(real); forgedAlive.writeBigInt64BE(99999n, 14)
  a.heard(forgedAlive, 'x')
  t.equal(a.stats().dropped.auth, 4, 'an altered aliveTime fails the tag')
  t.same(a.members().map((m) => m.meta?.route), ['b'], 'still only b')
})

t.test('a datagram with a lower aliveTime than already seen is ignored and counted', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a' }); const b = makeService(bus, clock, { name: 'b' })
  const ra = record(a)
  await a.start(); await b.start()
  clock.advance(300); await b.heartbeat()
  const [early, late] = bus.sent.filter((s) => s.from === 'b').map((s) => s.blob)
  t.ok(decodeMember(late!).aliveTime > decodeMember(early!).aliveTime)
  clock.advance(900)
  a.heard(early!, 'replayer')
  t.equal(a.stats().dropped.replay, 1, 'replayed old heartbeat counted')
  clock.advance(200) // 1100 since b's last real heartbeat
  await a.checkNow()
  t.same(ra.gone.map((g) => g.reason), ['timeout'], 'the replay did not keep b alive')
  const replayedAfter = Buffer.from(late!)
  a.heard(replayedAfter, 'replayer')
  t.same(a.members(), [], 'replaying its last heartbeat does not bring it back')
  t.equal(a.stats().dropped.replay, 2)
})

t.test('an old shutdown datagram replayed does not remove a live member', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a' }); const b = makeService(bus, clock, { name: 'b' })
  await a.start(); await b.start()
  const first = decodeMember(bus.sent.find((s) => s.from === 'b')!.blob)
  const goodbye: MemberFields = { ...first, command: Buffer.from('BABY-ALEX') }
  clock.advance(200); await b.heartbeat()
  a.heard(encodeMember(goodbye), 'replayer')
  t.equal(a.members().length, 1, 'b stays')
  t.equal(a.stats().dropped.replay, 1)
})

t.test('a restarted process (new uniqueId, same host and port) is a new member', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a' })
  const ra = record(a)
  const b1 = makeService(bus, clock, { name: 'b', port: 4999 })
  await a.start(); await b1.start()
  const oldId = b1.localMember.id
  b1.transport.mute = true // crash: no shutdown datagram
  const b2 = makeService(bus, clock, { name: 'b2', port: 4999 })
  clock.advance(500)
  await b2.start()
  t.not(b2.localMember.id, oldId)
  t.same(ra.added.map((m) => m.id), [oldId, b2.localMember.id], 'both incarnations added')
  t.equal(a.members().length, 2)
  clock.advance(600)
  await a.checkNow()
  t.same(ra.gone.map((g) => [g.member.id, g.reason]), [[oldId, 'timeout']], 'the old one times out')
  t.same(a.members().map((m) => m.id), [b2.localMember.id])
})

t.test('malformed datagrams and payloads are dropped and counted, never thrown', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a' })
  await a.start()
  const base = decodeMember(fixture('tomcat2-alive-1.bin'))
  const withPayload = (payload: Buffer): Buffer => encodeMember({ ...base, payload })
  t.doesNotThrow(() => {
    a.heard(Buffer.from('hello'), 'x')
    a.heard(fixture('tomcat2-alive-1.bin').subarray(0, 50), 'x')
    a.heard(Buffer.alloc(0), 'x')
    a.heard(withPayload(Buffer.concat([PAYLOAD_MAGIC, Buffer.from([1, 0, 0xc1])])), 'x') // 0xc1 is never valid msgpack
    a.heard(withPayload(Buffer.concat([PAYLOAD_MAGIC, Buffer.from([1, 200])])), 'x') // tag overruns
    a.heard(withPayload(Buffer.concat([PAYLOAD_MAGIC, Buffer.from([1])])), 'x') // header truncated
    a.heard(withPayload(encodePayload({ protocol: 1, role: 'node' }).fill(0x93, 6, 7)), 'x') // msgpack array, not a map
    a.heard(withPayload(Buffer.concat([PAYLOAD_MAGIC, Buffer.from([9, 0])])), 'x') // a future layout
  })
  t.same(a.stats().dropped, { malformed: 7, version: 1 })
  t.same(a.members(), [])
  t.same(a.foreignMembers(), [], 'a bad nodecat payload is not mistaken for a foreign member')
})

t.test('bad metadata is refused at construction with an error naming the option', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  t.throws(() => makeService(bus, clock, { host: 'node1.local' }), { code: 'TRIBES_ERR_INVALID_OPTION', message: /membership\.local\.host/ })
  t.throws(() => makeService(bus, clock, { dropTime: 100, frequency: 100 }), { message: /membership\.dropTime/ })
  t.throws(() => makeService(bus, clock, { local: { host: '127.0.0.1', port: 1, meta: { protocol: 1, role: 'boss' as 'node' } } }), { message: /membership\.local\.meta/ })
})

t.test('a silent member whose receiver answers is kept, then dropped after suspectTimeout', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  let probes = 0
  const a = makeService(bus, clock, { name: 'a', suspectTimeout: 2000, probe: async () => { probes++; return true } })
  const b = makeService(bus, clock, { name: 'b' })
  const ra = record(a)
  await a.start(); await b.start()
  b.transport.mute = true
  clock.advance(1500); await a.checkNow()
  t.equal(a.members().length, 1, 'kept: its receiver answers')
  clock.advance(1000); await a.checkNow()
  t.equal(a.members().length, 1, 'still kept on the next tick')
  t.equal(probes, 2, 're-checked on every tick')
  b.transport.mute = false; await b.heartbeat()
  clock.advance(500); await a.checkNow()
  t.equal(probes, 2, 'heard again: no more probes')
  b.transport.mute = true
  clock.advance(1001); await a.checkNow()
  t.equal(a.members().length, 1, 'silent again, still answering')
  clock.advance(2000); await a.checkNow()
  t.same(ra.gone.map((g) => g.reason), ['timeout'], 'dropped once silent for dropTime + suspectTimeout')
})

t.test('a member dropped for silence comes back as the same member when it resumes (SIGSTOP / SIGCONT)', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a' }); const b = makeService(bus, clock, { name: 'b' })
  const ra = record(a)
  await a.start(); await b.start()
  const id = b.localMember.id
  b.transport.mute = true
  clock.advance(1001); await a.checkNow()
  t.same(ra.gone.map((g) => g.member.id), [id])
  b.transport.mute = false
  clock.advance(100); await b.heartbeat()
  t.same(ra.added.map((m) => m.id), [id, id], 're-added with the same id')
})

t.test('suspect() drops a member whose receiver does not answer, at once', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  let alive = true
  const a = makeService(bus, clock, { name: 'a', probe: async () => alive })
  const b = makeService(bus, clock, { name: 'b' })
  const ra = record(a)
  await a.start(); await b.start()
  const m = a.members()[0]!
  t.equal(await a.suspect(m), true, 'answers: kept')
  t.equal(a.members().length, 1)
  alive = false
  t.equal(await a.suspect(m), false)
  t.same(ra.gone.map((g) => [g.member.id, g.reason]), [[m.id, 'failure-detected']])
  t.equal(await a.suspect(m), true, 'suspecting a member that is gone is harmless')
})

t.test('a listener that throws does not break membership', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a' })
  a.on('memberAdded', () => { throw new Error('app bug') })
  await a.start()
  const b = makeService(bus, clock, { name: 'b' })
  await t.resolves(b.start())
  t.equal(a.members().length, 1)
})

t.test('localBlob is the last heartbeat; the shutdown blob carries BABY-ALEX', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a', auth: hmacAuth('k') })
  t.equal(decodeMember(a.localBlob()).aliveTime, 0, 'before start: aliveTime 0')
  await a.start()
  clock.advance(250); await a.heartbeat()
  t.ok(a.localBlob().equals(bus.sent.at(-1)!.blob), 'localBlob is what was last sent')
  t.equal(decodeMember(a.localBlob()).aliveTime, 250)
  t.equal(a.localMember.aliveTime, 250)
})

t.test('a foreign datagram borrowing a nodecat member\'s identity changes nothing', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a', auth: hmacAuth('k') })
  const b = makeService(bus, clock, { name: 'b', auth: hmacAuth('k') })
  const ra = record(a)
  await a.start(); await b.start()
  const real = decodeMember(bus.sent.find((s) => s.from === 'b')!.blob)
  const forged = (command: Buffer): Buffer => encodeMember({ ...real, aliveTime: real.aliveTime + 100000, command, payload: Buffer.alloc(0) })
  a.heard(forged(Buffer.alloc(0)), 'attacker')
  a.heard(forged(Buffer.from('BABY-ALEX')), 'attacker')
  t.same(a.members().map((m) => m.meta?.route), ['b'], 'b is still a nodecat member')
  t.same(ra.gone, [], 'no forged shutdown')
  t.same(ra.foreign, [], 'not reported as foreign')
  t.equal(a.stats().dropped['kind-conflict'], 2)
})

t.test('a transport that cannot start fails start(); stop() afterwards sends nothing', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a' })
  a.transport.start = async () => { throw Object.assign(new Error('no multicast route'), { code: 'TRIBES_ERR_MEMBERSHIP_SOCKET' }) }
  await t.rejects(a.start(), { code: 'TRIBES_ERR_MEMBERSHIP_SOCKET' })
  await a.stop()
  t.same(bus.sent, [], 'no heartbeat and no goodbye')
  await t.rejects(a.start(), { code: 'TRIBES_ERR_MEMBERSHIP_STATE' }, 'a service is started once')
})

t.test('a member heard for the first time is answered at once, so a joiner knows the group within a round trip', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const old1 = makeService(bus, clock, { name: 'old1' }); const old2 = makeService(bus, clock, { name: 'old2' })
  await old1.start(); await old2.start()
  await new Promise((resolve) => setTimeout(resolve, 120)) // the two answer each other
  const joiner = makeService(bus, clock, { name: 'joiner' })
  const seen = record(joiner)
  const before = [old1.stats().answers, old2.stats().answers]
  await joiner.start() // one heartbeat; no periodic heartbeat is sent in this test (timers: false)
  await new Promise((resolve) => setTimeout(resolve, 120))
  t.same(seen.added.map((m) => m.meta?.route).sort(), ['old1', 'old2'], 'the joiner heard both running members without any of them reaching its period')
  t.same([old1.stats().answers - before[0]!, old2.stats().answers - before[1]!], [1, 1], 'each answered the new member once')
  // why not exactly 1: the two answers are coalesced when both arrive before the joiner's own answer goes out
  t.ok(joiner.stats().answers >= 1 && joiner.stats().answers <= 2, `the joiner answered its two new members, at most once each (${joiner.stats().answers})`)
  const settled = [old1, old2, joiner].map((s) => s.stats().answers)
  await new Promise((resolve) => setTimeout(resolve, 120))
  t.same([old1, old2, joiner].map((s) => s.stats().answers), settled, 'answers to known members: none, so the exchange ends')
})
