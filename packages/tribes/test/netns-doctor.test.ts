/**
 * `nodecat-tribes doctor` on a real multicast network in namespaces: it hears a member with
 * another key (fail), is content with the right key (exit 0), and reports a missing multicast
 * route with what to do.
 */
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createTestNet, netnsSkipReason } from '../../../test/lib/netns.js'
import { generateKey } from '../src/crypto/keyring.js'

const skip = netnsSkipReason()
const WAIT = 60000

t.test('doctor in namespaces', { skip }, async (t) => {
  const net = await createTestNet(t, { members: 3 })
  const [ns0, ns1, ns2] = net.names as [string, string, string]
  const dir = mkdtempSync(path.join(tmpdir(), 'nct-doctor-keys-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const k1 = path.join(dir, 'k1'); const k2 = path.join(dir, 'k2')
  writeFileSync(k1, generateKey() + '\n'); writeFileSync(k2, generateKey() + '\n')
  const m = net.spawnNode(ns0, 'tribes', 'cli.js', ['members', '--json', '--bind', net.address(ns0), '--key-file', k1, '--frequency', '200', '--drop-time', '1500'])
  const id = (await m.waitFor((l) => l.event === 'joined', WAIT, 'member joined')).member.id

  const doctor = async (ns: string, args: string[]): Promise<{ code: number | null, lines: Array<Record<string, any>> }> => {
    const p = net.spawnNode(ns, 'tribes', 'cli.js', ['doctor', '--json', '--listen', '2500', ...args])
    const { code } = await p.exited
    return { code, lines: p.lines }
  }

  t.test('a member with another key is reported as a key mismatch', async (t) => {
    const { code, lines } = await doctor(ns1, ['--bind', net.address(ns1), '--key-file', k2])
    t.equal(code, 1)
    const mismatch = lines.find((l) => l.check === 'key' && l.status === 'fail')
    t.ok(mismatch, 'a failing key line')
    t.match(mismatch?.message, /failed the cluster key check/)
    t.match(mismatch?.message, id)
  })

  t.test('with the right key every check passes', async (t) => {
    const { code, lines } = await doctor(ns1, ['--bind', net.address(ns1), '--key-file', k1])
    t.same(lines.filter((l) => l.status === 'fail'), [], 'no failing line')
    t.equal(code, 0)
    t.match(lines.find((l) => l.check === 'listen')?.message, /heard 1 nodecat member/)
    t.match(lines.find((l) => l.check === 'multicast')?.message, /joined on eth0/)
  })

  t.test('no key on a non-loopback address fails and says how to make one', async (t) => {
    const { code, lines } = await doctor(ns1, ['--bind', net.address(ns1), '--listen', '0'])
    t.equal(code, 1)
    t.match(lines.find((l) => l.check === 'key' && l.status === 'fail')?.message, /keygen/)
  })

  t.test('no multicast route and no bind: fail, with the fix', async (t) => {
    await net.exec(ns2, 'ip', ['route', 'del', '224.0.0.0/4', 'dev', 'eth0'])
    const { code, lines } = await doctor(ns2, ['--key-file', k1])
    t.equal(code, 1)
    const route = lines.find((l) => l.check === 'multicast')
    t.equal(route?.status, 'fail')
    t.match(route?.message, /no route for multicast group 228\.0\.0\.4/)
    t.match(route?.message, /--bind/)
  })
})
