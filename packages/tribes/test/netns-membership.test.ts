/**
 * Real multicast membership (228.0.0.4) between `nodecat-tribes members --json` processes in
 * network namespaces joined by a bridge: joining, a clean stop, a crash, a frozen process, and
 * clusters kept apart by domain and by key on the same group.
 *
 * Defined behaviour for a SIGSTOPped member (measured: its kernel keeps accepting TCP connects
 * while it is stopped, so the failure detector finds its receiver answering): the others keep it
 * ("member silent but its receiver answers; keeping it") for dropTime + suspectTimeout
 * (suspectTimeout = 10 × dropTime), then drop it with reason 'timeout'. After SIGCONT its
 * heartbeats carry a higher aliveTime and it is re-added under the same id; it keeps the others
 * (they answer its probes, and their queued heartbeats arrive).
 */
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { createTestNet, netnsSkipReason, type TestNet } from '../../../test/lib/netns.js'
import type { TestProcess } from '../../../test/lib/proc.js'
import { generateKey } from '../src/crypto/keyring.js'
import { sleep } from '@nodecat/testkit'

const skip = netnsSkipReason()
const WAIT = 60000 // generous: two shared cores, other suites running

function member (net: TestNet, ns: number, extra: string[] = []): TestProcess {
  return net.spawnNode(net.names[ns]!, 'tribes', 'cli.js', [
    'members', '--json', '--bind', net.address(ns), '--frequency', '200', '--drop-time', '1500', '--log-level', 'warn', ...extra
  ])
}

const joined = async (p: TestProcess): Promise<string> => (await p.waitFor((l) => l.event === 'joined', WAIT, 'joined')).member.id as string
const sees = async (p: TestProcess, id: string, what: string): Promise<Record<string, any>> =>
  await p.waitFor((l) => l.event === 'memberAdded' && l.member.id === id, WAIT, what)
const loses = async (p: TestProcess, id: string, what: string): Promise<Record<string, any>> =>
  await p.waitFor((l) => l.event === 'memberDisappeared' && l.member.id === id, WAIT, what)

t.test('three members over real multicast: join, clean stop, crash', { skip }, async (t) => {
  const net = await createTestNet(t, { members: 3 })
  const ps = [0, 1, 2].map((i) => member(net, i, ['--insecure', '--route', `n${i}`]))
  const ids = await Promise.all(ps.map(joined))
  for (const [i, p] of ps.entries()) {
    for (const [j, id] of ids.entries()) if (i !== j) await sees(p, id, `n${i} sees n${j}`)
  }
  const [a, b, c] = ps as [TestProcess, TestProcess, TestProcess]
  t.same(a.lines.filter((l) => l.event === 'memberAdded').map((l) => l.member.meta.route).sort(), ['n1', 'n2'], 'n0 saw exactly n1 and n2')
  t.equal(a.lines.find((l) => l.event === 'memberAdded' && l.member.id === ids[1])?.member.host, net.address(1), 'advertised host is its bridge address')

  c.signal('SIGTERM')
  const byA = await loses(a, ids[2]!, 'n0 sees n2 leave')
  const byB = await loses(b, ids[2]!, 'n1 sees n2 leave')
  t.equal(byA.reason, 'shutdown', 'clean stop seen as shutdown by n0')
  t.equal(byB.reason, 'shutdown', 'clean stop seen as shutdown by n1')
  t.equal((await c.exited).code, 0, 'n2 exited 0')

  b.signal('SIGKILL')
  const crash = await loses(a, ids[1]!, 'n0 sees n1 gone after SIGKILL')
  t.ok(['timeout', 'failure-detected'].includes(crash.reason), `crash seen as ${crash.reason}`)
  t.notOk(a.lines.some((l) => l.event === 'memberDisappeared' && l.member.id === ids[1] && l.reason === 'shutdown'), 'a crash is never reported as a shutdown')
})

t.test('a SIGSTOPped member is dropped once silent past dropTime and its receiver does not answer the probe, and comes back as itself', { skip }, async (t) => {
  // The defined behaviour: the kernel still accepts connections for a stopped process, so a bare
  // connect would keep it forever; the failure detector sends TCP_FAIL_DETECT with USE_ACK and only
  // a running receiver ACKs. A stopped member is therefore dropped (reason 'timeout') about one
  // probe after dropTime, and after SIGCONT its next heartbeat re-adds it under the same id.
  const net = await createTestNet(t, { members: 2 })
  const a = member(net, 0, ['--insecure'])
  const b = member(net, 1, ['--insecure'])
  const [ida, idb] = [await joined(a), await joined(b)]
  await sees(a, idb, 'a sees b'); await sees(b, ida, 'b sees a')
  b.signal('SIGSTOP')
  t.teardown(() => b.signal('SIGCONT'))
  const gone = await loses(a, idb, 'a drops the stopped b')
  t.equal(gone.reason, 'timeout', 'silent and not answering: timeout')
  t.notMatch(a.stderr(), /member silent but its receiver answers; keeping it/, 'a frozen receiver is not mistaken for a live one')
  b.signal('SIGCONT')
  const back = await a.waitFor((l) => l.event === 'memberAdded' && l.member.id === idb && a.lines.indexOf(l) > a.lines.indexOf(gone), WAIT, 'b re-added after SIGCONT')
  t.equal(back.member.id, idb, 're-added under the same id')
  t.ok(back.member.aliveTime > gone.member.aliveTime, 'with a higher aliveTime')
  // b kept a: let it run a few heartbeats after resuming, then ask it to leave and look at its events
  await sleep(1000)
  b.signal('SIGTERM')
  t.equal((await b.exited).code, 0)
  t.notOk(b.lines.some((l) => l.event === 'memberDisappeared'), 'the resumed member never dropped a live peer')
  const leave = await a.waitFor((l) => l.event === 'memberDisappeared' && l.member.id === idb && a.lines.indexOf(l) > a.lines.indexOf(back), WAIT, 'a sees b leave')
  t.equal(leave.reason, 'shutdown', 'and its clean stop afterwards is a shutdown')
})

t.test('domain and cluster key keep clusters apart on the same group', { skip }, async (t) => {
  const net = await createTestNet(t, { members: 3 })
  const dir = mkdtempSync(path.join(tmpdir(), 'nct-keys-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const k1 = path.join(dir, 'k1'); const k2 = path.join(dir, 'k2')
  writeFileSync(k1, generateKey() + '\n'); writeFileSync(k2, generateKey() + '\n')
  const p = member(net, 0, ['--domain', 'red', '--key-file', k1, '--route', 'p'])
  const q = member(net, 1, ['--domain', 'red', '--key-file', k1, '--route', 'q'])
  const r = member(net, 2, ['--domain', 'red', '--key-file', k2, '--route', 'r'])
  const s = member(net, 2, ['--domain', 'blue', '--key-file', k1, '--route', 's']) // same namespace as r: multicast loopback
  const [idp, idq] = await Promise.all([joined(p), joined(q), joined(r), joined(s)])
  await sees(p, idq!, 'p sees q'); await sees(q, idp!, 'q sees p')
  // let several heartbeats of everyone arrive, so the drops below are evidence, not luck
  await sleep(2000)
  for (const x of [p, q, r, s]) x.signal('SIGTERM')
  const left = async (x: TestProcess): Promise<Record<string, any>> => {
    await x.exited
    return x.lines.find((l) => l.event === 'left')!
  }
  const [lp, lq, lr, ls] = await Promise.all([left(p), left(q), left(r), left(s)])
  const added = (x: TestProcess): string[] => x.lines.filter((l) => l.event === 'memberAdded').map((l) => l.member.meta.route)
  t.same(added(p), ['q'], 'p admitted only q')
  t.same(added(q), ['p'], 'q admitted only p')
  t.same(added(r), [], 'r (other key) admitted nobody')
  t.same(added(s), [], 's (other domain) admitted nobody')
  t.ok(lp.dropped['membership-auth'] > 0, `p dropped r's datagrams for auth (${lp.dropped['membership-auth']})`)
  t.ok(lp.dropped['membership-domain'] > 0, `p dropped s's datagrams for domain (${lp.dropped['membership-domain']})`)
  t.ok(lq.dropped['membership-auth'] > 0 && lq.dropped['membership-domain'] > 0, 'so did q')
  t.ok(lr.dropped['membership-auth'] > 0, 'r dropped p and q for auth')
  t.ok(ls.dropped['membership-domain'] > 0, 's dropped everyone for domain')
})
