/**
 * The issue's own set-up: 2 "machines" × 2 per-core workers (two `nodecat-was --workers 2`
 * supervisors, --host-id A and B), --manager backup --backups 1, sync mode, behind a balancer that
 * discovers the four workers. A session created on a worker of one machine survives the SIGKILL of
 * that worker, and then the loss of that whole machine (its supervisor and both workers SIGKILLed).
 */
import t from 'tap'
import { startNode as startProcess } from './lib/proc.js'
import { freePorts } from './lib/ports.js'
import { HOST, ShopClient, describe } from './lib/cluster.js'
import { freePortRange, isNodecatProcess, nodeStatus, shopArgs, startWorkers, type WorkersProcess } from './lib/workers.js'
import { waitUntil } from '@nodecat/testkit'

t.test('2 machines × 2 workers, backup manager: a user survives the loss of its worker, then of its whole machine', async (t) => {
  const http = { A: await freePortRange(2), B: await freePortRange(2) }
  const rcv = { A: await freePortRange(2), B: await freePortRange(2) }
  const [lbPort, lbAdmin, lbCluster] = await freePorts(3)
  const lbReceiver = `${HOST}:${lbCluster!}`
  const range = (m: 'A' | 'B') => `${HOST}:${rcv[m]}-${rcv[m] + 1}`
  const machines: Record<'A' | 'B', WorkersProcess> = {} as any
  for (const m of ['A', 'B'] as const) {
    const other = m === 'A' ? 'B' : 'A'
    machines[m] = startWorkers(t, [...shopArgs(`pi${m}`, http[m], rcv[m], [range(other), lbReceiver]), '--workers', '2', '--host-id', m, '--manager', 'backup', '--backups', '1'], `machine ${m}`)
  }
  for (const m of ['A', 'B'] as const) await machines[m].proc.waitFor((l) => l.event === 'workers-started', 90_000, `machine ${m} started`)
  const balancer = startProcess(t, 'balancer', 'cli.js', [
    '--listen', `${HOST}:${lbPort!}`, '--admin', `${HOST}:${lbAdmin!}`,
    '--discover', '--static-members', `${range('A')},${range('B')}`, '--cluster-address', HOST, '--cluster-port', String(lbCluster),
    '--health-interval', '500', '--connect-timeout', '1000'
  ])
  await balancer.waitFor((l) => l.msg === 'balancer started', 30_000, 'balancer started')
  const routes = ['piA-0', 'piA-1', 'piB-0', 'piB-1']
  await waitUntil('the balancer to use all four workers', async () => {
    try {
      const ws = (await (await fetch(`http://${HOST}:${lbAdmin!}/status`, { signal: AbortSignal.timeout(3000) })).json() as any).workers
      return routes.every((r) => ws.some((w: any) => w.route === r && w.state === 'OK'))
    } catch { return false }
  }, 60_000)
  t.pass('the discovering balancer uses the four workers of both machines')

  const users: ShopClient[] = []
  for (let i = 0; i < 8; i++) {
    const u = new ShopClient(`http://${HOST}:${lbPort!}`)
    t.equal((await u.login(`w${i}`)).status, 200)
    t.equal((await u.addToCart('a')).status, 200)
    users.push(u)
  }
  const user = users[0]!
  const machine = user.route!.startsWith('piA') ? 'A' : 'B'
  t.comment(`user w0 is served by ${user.route} on machine ${machine}`)

  // 1. SIGKILL the user's worker (by its PID): the next requests succeed, logged in, with the cart
  const victimRoute = user.route!
  const pid = (await nodeStatus(http[machine] + Number(victimRoute.slice(-1)))).worker.pid as number
  process.kill(pid, 'SIGKILL')
  // why the supervisor's word: a dying process loses its command line before its sockets close,
  // and a request written to a socket of a process still dying is one in flight on a killed
  // worker (a POST is then not replayed); once reaped, every socket of it is closed
  await machines[machine].proc.waitFor((l) => l.event === 'worker-exited' && l.pid === pid, 10_000, 'the supervisor to reap the killed worker')
  let served = 0
  for (const u of users) {
    const i = users.indexOf(u)
    const a = await u.addToCart('b')
    if (a.status === 200 && a.state?.user === `w${i}` && a.state.cart.join() === 'a,b') served++
    else t.comment(`failed: ${describe(a)}`)
  }
  t.equal(served, users.length, 'after SIGKILL of one worker every user adds to the cart (8 POSTs sent after the worker was gone: the retry rules say they must succeed), logged in, cart intact')
  // the supervisor restarts it; wait until the cluster is whole again
  await machines[machine].proc.waitFor((l) => l.event === 'worker-ready' && l.pid !== pid && l.route === victimRoute, 60_000, 'the worker restarted')

  // 2. lose the whole machine: its supervisor and both workers, SIGKILLed at once
  const doomed = [machines[machine].proc.child.pid!, ...[0, 1].map((i) => machines[machine].pids().get(`pi${machine}-${i}`)!.at(-1)!)]
  for (const p of doomed) process.kill(p, 'SIGKILL')
  await waitUntil('the machine to be gone', () => doomed.every((p) => !isNodecatProcess(p)), 10_000)
  served = 0
  for (const u of users) {
    const a = await u.state()
    if (a.status === 200 && a.state?.user === `w${users.indexOf(u)}` && a.state.cart.join() === 'a,b') served++
    else t.comment(`failed: ${describe(a)}`)
  }
  t.equal(served, users.length, `after the loss of machine ${machine} every user is still logged in with the cart`)
})
