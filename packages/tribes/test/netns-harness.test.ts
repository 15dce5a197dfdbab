/**
 * The network-namespace harness itself (test/lib/netns.ts): namespaces get their addresses,
 * members reach each other over the bridge, cut() isolates one and heal() reconnects it, and
 * teardown deletes every namespace.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { createTestNet, netnsSkipReason } from '../../../test/lib/netns.js'

const skip = netnsSkipReason()

const server = `
const net = require('node:net')
net.createServer((s) => s.end('hello\\n')).listen(7000, process.argv[1], () => console.log(JSON.stringify({ listening: true })))
`
const client = `
const net = require('node:net')
const s = net.connect({ host: process.argv[1], port: 7000, timeout: 1500 })
s.on('data', (d) => { process.stdout.write(d); process.exit(0) })
s.on('timeout', () => { console.log('timeout'); process.exit(0) })
s.on('error', (e) => { console.log(e.code); process.exit(0) })
`

t.test('namespaces, bridge, cut and heal', { skip }, async (t) => {
  let names: readonly string[] = []
  await t.test('inside', async (t) => {
    const net = await createTestNet(t, { members: 2 })
    names = [...net.names, net.bridge]
    t.equal(net.names.length, 2)
    t.not(net.names[0], net.names[1])
    for (const ns of names) t.ok(existsSync(`/run/netns/${ns}`), `${ns} exists`)
    const [a, b] = net.names as [string, string]
    t.match(await net.exec(a, 'ip', ['-4', 'addr', 'show', 'dev', 'eth0']), net.address(0), 'eth0 carries its test address')
    t.match(await net.exec(a, 'ip', ['route', 'get', '228.0.0.4']), /dev eth0/, 'multicast routes via eth0')
    const srv = net.spawnIn(b, process.execPath, ['-e', server, net.address(b)])
    await srv.waitFor((l) => l.listening === true, 30000, 'server listening')
    const ask = async (): Promise<string> => (await net.exec(a, process.execPath, ['-e', client, net.address(b)])).trim()
    t.equal(await ask(), 'hello', 'a reaches b over the bridge')
    await net.cut(b)
    t.not(await ask(), 'hello', 'cut: b unreachable')
    await net.heal(b)
    let answer = ''
    for (let i = 0; i < 20 && answer !== 'hello'; i++) answer = await ask() // the link takes a moment to come back
    t.equal(answer, 'hello', 'healed: b reachable again')
    await t.rejects(net.exec(a, 'false'), /failed/, 'a failing command rejects')
  })
  for (const ns of names) t.notOk(existsSync(`/run/netns/${ns}`), `${ns} deleted at teardown`)
})
