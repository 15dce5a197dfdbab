/**
 * A short soak (the same code as `pnpm soak`, bench/lib/soak-run.ts, with small bounds): 3 nodes in
 * sync mode behind the balancer, 6 users logging in, writing to their carts and counters, reading,
 * logging out and being replaced by new users, while one node at a time is SIGKILLed,
 * stopped with SIGTERM, or SIGKILLed and restarted at once, each time restarted and waited for
 * until its state transfer is done (three faults, each 2 s down unless
 * restarted at once, 8 s apart or as soon as the previous one ended; the load ends 4 s after the
 * last, 75 s at most). Every answer is checked against what was acknowledged before.
 *
 * Asserted (behaviour, never time): at least one fault happened (how many fit in the time is
 * printed), in the planned rotation of kinds and nodes; each fault ended with its node exited,
 * restarted, ready and OK in the balancer before the next one began; writes were acknowledged and
 * no session and no acknowledged write was lost across the faults (sync mode); the accounting is
 * consistent; and the balancer, the one process that lives through the whole run, is back within a few file
 * descriptors of where it started once the load has stopped and its idle connections have closed
 * (a leak check: it has no time bound of its own, only a bounded wait).
 */
import t from 'tap'
import { runSoak } from '../bench/lib/soak-run.js'
import { faultAt, type FaultKind } from '../bench/lib/soak-faults.js'
import { startProcess } from './lib/proc.js'

const KINDS: FaultKind[] = ['kill', 'term', 'quick']

t.test('short soak: mixed load with rotating kills in sync mode', async (t) => {
  const r = await runSoak({
    nodes: 3,
    mode: 'sync',
    durationMs: 75_000,
    users: 6,
    thinkMs: 50,
    faultPeriodMs: 8000,
    downMs: 2000,
    kinds: KINDS,
    maxFaults: 3,
    quietEndMs: 4000,
    sampleMs: 1000,
    probeMs: 1000,
    warmupMs: 5000,
    idleMs: 20_000,
    fdSlack: 8
  }, {
    spawn: (name, command, args, options) => startProcess(command, args, { ...options, label: name, teardown: (fn) => t.teardown(fn) }),
    onStatus: (s) => { if (process.env.SOAK_DEBUG) t.comment(s) }
  })
  const l = r.load
  t.comment(`${l.requests} requests (${JSON.stringify(l.byAction)}), ${l.usersStarted} users, ${l.logins} logins, ${l.logouts} logouts, ${l.ackedWrites} acknowledged writes, ${l.failed} failed: ${JSON.stringify(l.failures)}`)
  t.comment(`faults: ${r.faults.map((f) => `${f.kind} ${f.node} at ${(f.at / 1000).toFixed(1)} s, ready after ${f.readyMs} ms${f.error ? ` ERROR ${f.error}` : ''}`).join('; ')}`)
  t.comment(`balancer fds: ${r.balancerFds.baseline} before the load, ${r.balancerFds.afterIdle} after it (waited ${r.balancerFds.idleWaitedMs} ms idle)`)

  // the run did what it says, so the assertions below are not empty
  t.ok(r.faults.length >= 1, `faults happened (${r.faults.length} of at most 3 fit in the run)`)
  t.same(r.faults.map((f) => f.kind), r.faults.map((_, k) => faultAt(k, 3, KINDS).kind), `the faults rotated over the kinds as planned (${r.faults.map((f) => f.kind).join(', ')})`)
  t.equal(new Set(r.faults.map((f) => f.node)).size, r.faults.length, 'each fault hit another node')
  t.same(r.faults.filter((f) => f.error !== null).map((f) => `${f.kind} ${f.node}: ${f.error}`), [], 'every node came back, took the sessions and was OK in the balancer again')
  const outOfOrder = r.faults.flatMap((f, k) => {
    const next = r.faults[k + 1]
    return [
      f.exit === null ? `${f.kind} ${f.node}: the process did not exit` : null,
      f.restartedAt === null || f.restartedAt < f.at ? `${f.kind} ${f.node}: not restarted after its signal` : null,
      f.okAt === null || f.restartedAt === null || f.okAt < f.restartedAt ? `${f.kind} ${f.node}: not OK in the balancer after its restart` : null,
      next !== undefined && (f.okAt === null || next.at < f.okAt) ? `${next.kind} ${next.node} began before ${f.kind} ${f.node} had recovered` : null
    ].filter((x): x is string => x !== null)
  })
  t.same(outOfOrder, [], 'each fault: its node exited, was restarted, then OK in the balancer, before the next fault began')
  t.ok(l.logins >= 6 && l.logouts >= 1, `users logged in (${l.logins}) and out (${l.logouts})`)
  t.ok(l.ackedWrites > 0, `writes were acknowledged (${l.ackedWrites})`)
  t.ok(r.final.read > 0, `sessions were read at the end (${r.final.read})`)

  const of = (kind: string): string[] => l.violations.filter((v) => v.kind === kind).map((v) => `${v.user} at ${(v.t / 1000).toFixed(1)} s: ${v.detail}`)
  t.same(of('lost session'), [], 'sync: no session lost')
  t.same(of('lost acknowledged count'), [], 'sync: no acknowledged counter value lost')
  t.same(of('lost acknowledged cart item'), [], 'sync: no acknowledged cart item lost')
  t.same(of('impossible'), [], 'accounting is consistent: no counter above its attempts, no cart item never sent')
  t.equal(r.final.unverified, 0, 'every session still logged in could be read at the end')

  t.ok(r.balancerFds.afterIdle <= r.balancerFds.baseline + 8,
    `the balancer's open fds came back within 8 of the start once idle (${r.balancerFds.baseline} -> ${r.balancerFds.afterIdle})`)
})
