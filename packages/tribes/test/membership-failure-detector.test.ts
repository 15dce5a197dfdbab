/**
 * The failure detector with real TCP on 127.0.0.1: a silent member whose receiver port answers
 * is kept; one whose port is closed is dropped; suspect() drops a dead member at once.
 */
import t from 'tap'
import net from 'node:net'
import { tcpProbe } from '../src/membership/failure-detector.js'
import { freePort } from '../../../test/lib/ports.js'
import { makeService, ManualClock, MemoryBus, record } from './membership-helpers.js'

async function listen (): Promise<net.Server> {
  const srv = net.createServer((s) => s.destroy())
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve))
  return srv
}
const portOf = (srv: net.Server): number => (srv.address() as net.AddressInfo).port
const close = async (srv: net.Server): Promise<void> => { await new Promise((resolve) => srv.close(resolve)) }

t.test('tcpProbe: true for a listening port, false for a closed one', async (t) => {
  const srv = await listen()
  t.teardown(() => close(srv))
  t.equal(await tcpProbe('127.0.0.1', portOf(srv), 2000), true)
  t.equal(await tcpProbe('127.0.0.1', await freePort(), 2000), false)
})

t.test('a silent member whose receiver answers is kept; once the receiver closes it is dropped', async (t) => {
  const receiver = await listen()
  const port = portOf(receiver)
  let open = true
  t.teardown(async () => { if (open) await close(receiver) })
  const bus = new MemoryBus(); const clock = new ManualClock()
  // real TCP probes: no probe override
  const a = makeService(bus, clock, { name: 'a', probe: undefined, connectTimeout: 3000 })
  const b = makeService(bus, clock, { name: 'b', port })
  const ra = record(a)
  await a.start(); await b.start()
  b.transport.mute = true
  clock.advance(1500)
  await a.checkNow()
  t.same(a.members().map((m) => m.port), [port], 'kept: the receiver accepted the connect')
  t.same(ra.gone, [])
  await close(receiver); open = false
  clock.advance(100)
  await a.checkNow()
  t.same(ra.gone.map((g) => [g.member.port, g.reason]), [[port, 'timeout']], 'dropped once the connect is refused')
  t.equal(a.stats().probes, 2)
})

t.test('a silent member whose port is closed is dropped on the first check', async (t) => {
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a', probe: undefined })
  const b = makeService(bus, clock, { name: 'b', port: await freePort() })
  const ra = record(a)
  await a.start(); await b.start()
  b.transport.mute = true
  clock.advance(1001)
  await a.checkNow()
  t.same(ra.gone.map((g) => g.reason), ['timeout'])
  t.same(a.members(), [])
})

t.test('suspect() drops a member with a dead receiver at once, and keeps one with a live receiver', async (t) => {
  const live = await listen()
  t.teardown(() => close(live))
  const bus = new MemoryBus(); const clock = new ManualClock()
  const a = makeService(bus, clock, { name: 'a', probe: undefined })
  const alive = makeService(bus, clock, { name: 'alive', port: portOf(live) })
  const dead = makeService(bus, clock, { name: 'dead', port: await freePort() })
  const ra = record(a)
  await a.start(); await alive.start(); await dead.start()
  const [m1, m2] = [a.members().find((m) => m.meta?.route === 'alive')!, a.members().find((m) => m.meta?.route === 'dead')!]
  // no clock advance: both heartbeated just now, the suspicion comes from a failed send
  t.equal(await a.suspect(m1), true)
  t.equal(await a.suspect(m2), false)
  t.same(ra.gone.map((g) => [g.member.meta?.route, g.reason]), [['dead', 'failure-detected']])
  t.same(a.members().map((m) => m.meta?.route), ['alive'])
})
