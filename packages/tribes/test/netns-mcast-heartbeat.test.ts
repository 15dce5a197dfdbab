/**
 * The multicast heartbeat transport on a real network, inside namespaces (multicast never
 * leaves them): two sockets on one host hear each other (IP_MULTICAST_LOOP), a failed socket is
 * recreated and carries on, and with no multicast route the error says to pass `bind`.
 */
import t from 'tap'
import { createTestNet, netnsSkipReason } from '../../../test/lib/netns.js'
import { dist } from '../../../test/lib/proc.js'

const skip = netnsSkipReason()

// runs inside a namespace against the built transport; prints one JSON line per phase
const script = (bind: string | undefined): string => `
import { McastHeartbeat } from ${JSON.stringify(dist('tribes', 'membership/mcast-heartbeat.js'))}
const bind = ${JSON.stringify(bind)}
const say = (o) => console.log(JSON.stringify(o))
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const heard = { a: 0, b: 0 }
const a = new McastHeartbeat({ bind, recoveryDelay: 100 })
const b = new McastHeartbeat({ bind, recoveryDelay: 100 })
try {
  await a.start((blob) => { if (blob.toString() === 'from-b') heard.a++ })
} catch (err) { say({ phase: 'start', code: err.code, message: err.message }); process.exit(0) }
await b.start((blob) => { if (blob.toString() === 'from-a') heard.b++ })
const exchange = async () => {
  const before = { ...heard }
  for (let i = 0; i < 100 && (heard.a === before.a || heard.b === before.b); i++) {
    await a.send(Buffer.from('from-a')).catch(() => {}); await b.send(Buffer.from('from-b')).catch(() => {}); await sleep(50)
  }
  return heard.a > before.a && heard.b > before.b
}
say({ phase: 'exchange', ok: await exchange() })
a.simulateError(Object.assign(new Error('simulated network failure'), { code: 'EIO' }))
const during = await a.send(Buffer.from('from-a')).then(() => 'sent', (e) => e.code)
for (let i = 0; i < 200 && a.recoveries === 0; i++) await sleep(25)
say({ phase: 'recovered', during, recoveries: a.recoveries, ok: await exchange() })
await a.stop(); await b.stop()
say({ phase: 'stopped' })
`

t.test('multicast heartbeat transport in a namespace', { skip }, async (t) => {
  const net = await createTestNet(t, { members: 2 })
  const [withRoute, noRoute] = net.names as [string, string]
  await net.exec(noRoute, 'ip', ['route', 'del', '224.0.0.0/4', 'dev', 'eth0'])

  t.test('two sockets on one host hear each other; a failed socket is recreated', async (t) => {
    const p = net.spawnIn(withRoute, process.execPath, ['--input-type=module', '-e', script(undefined)])
    const ex = await p.waitFor((l) => l.phase === 'exchange', 60000, 'exchange')
    t.equal(ex.ok, true, 'each heard the other (no bind: the 224.0.0.0/4 route picks eth0)')
    const rec = await p.waitFor((l) => l.phase === 'recovered', 60000, 'recovered')
    t.equal(rec.during, 'TRIBES_ERR_NOT_STARTED', 'while recovering, send fails with a coded error')
    t.equal(rec.recoveries, 1, 'the socket was recreated once')
    t.equal(rec.ok, true, 'and heartbeats flow again both ways')
    await p.waitFor((l) => l.phase === 'stopped', 60000, 'stopped')
    t.equal((await p.exited).code, 0, 'no crash')
  })

  t.test('no multicast route and no bind: a clear error that says to pass bind', async (t) => {
    const p = net.spawnIn(noRoute, process.execPath, ['--input-type=module', '-e', script(undefined)])
    const start = await p.waitFor((l) => l.phase === 'start', 60000, 'start failure')
    t.equal(start.code, 'TRIBES_ERR_MEMBERSHIP_SOCKET')
    t.match(start.message, /228\.0\.0\.4:45564/)
    t.match(start.message, /pass bind/)
  })

  t.test('no multicast route but bind given: works (the interface is explicit)', async (t) => {
    const p = net.spawnIn(noRoute, process.execPath, ['--input-type=module', '-e', script(net.address(noRoute))])
    const ex = await p.waitFor((l) => l.phase === 'exchange', 60000, 'exchange')
    t.equal(ex.ok, true)
  })
})
