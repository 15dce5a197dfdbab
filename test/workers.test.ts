/**
 * `nodecat-was --workers n` as users run it, in real processes on 127.0.0.1:
 * - three workers are three members: a discovering balancer takes all three as workers with no
 *   per-worker configuration, and each worker's status page lists its two siblings as members;
 * - a worker SIGKILLed (by its PID) is restarted under the same route and ports;
 * - SIGTERM to the supervisor stops every worker gracefully: under load through the balancer, with
 *   a plain node of another "machine" still up, no request fails and nothing is lost;
 * - a worker that cannot bind its HTTP port stops the whole start, naming it, leaving no process;
 * - --workers 0 is a usage error naming the option.
 */
import t from 'tap'
import net from 'node:net'
import { startNode as startProcess } from './lib/proc.js'
import { freePorts } from './lib/ports.js'
import { HOST, ClusterNode, startLoad, lossReport, describe, sleep } from './lib/cluster.js'
import { exitWithin, freePortRange, isNodecatProcess, nodeStatus, shopArgs, startWorkers } from './lib/workers.js'
import { waitUntil } from '@nodecat/testkit'

const N = 3

t.test('--workers 3: three members a discovering balancer uses; a killed worker comes back; SIGTERM stops all without a failed request', async (t) => {
  const httpBase = await freePortRange(N)
  const rcvBase = await freePortRange(N)
  const [otherHttp, otherRcv, lbPort, lbAdmin, lbCluster] = await freePorts(5)
  const lbReceiver = `${HOST}:${lbCluster}`
  const workerReceivers = Array.from({ length: N }, (_, i) => `${HOST}:${rcvBase + i}`)

  // another machine's node (one process): the users' sessions live on there while this machine stops
  const other = new ClusterNode(t, 'other', otherHttp!, otherRcv!, () =>
    shopArgs('other', otherHttp!, otherRcv!, [`${HOST}:${rcvBase}-${rcvBase + N - 1}`, lbReceiver]))
  await other.start()

  // this machine: one command, three workers; its siblings are not listed by the user
  const w = startWorkers(t, [...shopArgs('pi', httpBase, rcvBase, [`${HOST}:${otherRcv!}`, lbReceiver]), '--workers', String(N)])
  const started = await w.proc.waitFor((l) => l.event === 'workers-started', 90_000, 'all workers started')
  t.same(started.workers.map((x: any) => x.route), ['pi-0', 'pi-1', 'pi-2'], 'routes <jvmRoute>-<i>')
  t.same(started.workers.map((x: any) => x.http), [0, 1, 2].map((i) => `${HOST}:${httpBase + i}`), 'HTTP port + i')

  const balancer = startProcess(t, 'balancer', 'cli.js', [
    '--listen', `${HOST}:${lbPort}`, '--admin', `${HOST}:${lbAdmin}`,
    '--discover', '--static-members', [...workerReceivers, `${HOST}:${otherRcv!}`].join(','), '--cluster-address', HOST, '--cluster-port', String(lbCluster),
    '--health-interval', '500', '--connect-timeout', '1000'
  ])
  await balancer.waitFor((l) => l.msg === 'balancer started', 30_000, 'balancer started')
  const lbWorkers = async (): Promise<Array<{ route: string, state: string, url?: string }>> => {
    try { return (await (await fetch(`http://${HOST}:${lbAdmin}/status`, { signal: AbortSignal.timeout(3000) })).json() as any).workers } catch { return [] }
  }
  const allOk = async (): Promise<boolean> => {
    const ws = await lbWorkers()
    return ['other', 'pi-0', 'pi-1', 'pi-2'].every((r) => ws.some((x) => x.route === r && x.state === 'OK'))
  }
  await waitUntil('the balancer to use every worker', allOk, 60_000)
  t.same((await lbWorkers()).map((x) => x.route).sort(), ['other', 'pi-0', 'pi-1', 'pi-2'], 'the balancer found all three workers (and the other node) by itself')

  // every worker's status page: its two siblings, each a member
  const siblingsOk = async (i: number): Promise<any> => {
    const s = await nodeStatus(httpBase + i)
    return s?.worker?.siblings?.every((x: any) => x.member) === true ? s : null
  }
  for (let i = 0; i < N; i++) {
    const s = await waitUntil(`pi-${i} to see its siblings`, async () => await siblingsOk(i), 30_000)
    t.equal(s.jvmRoute, `pi-${i}`)
    t.same(s.worker.siblings.map((x: any) => x.route), ['pi-0', 'pi-1', 'pi-2'].filter((r) => r !== `pi-${i}`), `pi-${i} lists its siblings`)
    t.same(s.worker.siblings.map((x: any) => x.http), [0, 1, 2].filter((j) => j !== i).map((j) => `http://${HOST}:${httpBase + j}`))
    t.equal(s.worker.pid, w.pids().get(`pi-${i}`)!.at(-1), 'its pid is the one the supervisor logged')
  }

  // SIGKILL one worker by its PID: the supervisor restarts it under the same route and port
  const victim = (await nodeStatus(httpBase + 1)).worker.pid as number
  process.kill(victim, 'SIGKILL')
  const exited = await w.proc.waitFor((l) => l.event === 'worker-exited' && l.pid === victim, 30_000, 'the supervisor to log the crash')
  t.equal(exited.route, 'pi-1')
  t.equal(exited.signal, 'SIGKILL')
  const again = await w.proc.waitFor((l) => l.event === 'worker-ready' && l.route === 'pi-1' && l.pid !== victim, 60_000, 'pi-1 restarted')
  t.equal(again.url, `http://${HOST}:${httpBase + 1}`, 'same HTTP port')
  t.notOk(isNodecatProcess(victim), 'the killed worker is gone')
  const back = await waitUntil('pi-1 to answer again', async () => {
    const s = await nodeStatus(httpBase + 1)
    return s?.worker?.pid === again.pid ? s : null
  }, 30_000)
  t.equal(back.jvmRoute, 'pi-1', 'the restarted worker has the same route')
  await waitUntil('the balancer to use every worker again', allOk, 60_000)

  // bounded load through the balancer, then SIGTERM to the supervisor: each worker drains
  const load = startLoad(`http://${HOST}:${lbPort}`, { clients: 6, durationMs: 8000, maxSteps: 400, pauseMs: 40, prefix: 'w' })
  await waitUntil('every user to log in', () => load.users.every((u) => u.loggedInAt !== null), 30_000)
  await sleep(1500)
  const workerPids = [...w.pids().values()].map((p) => p.at(-1)!)
  w.proc.signal('SIGTERM')
  const exit = await w.proc.exited
  t.same(exit, { code: 0, signal: null }, 'the supervisor exits 0 after SIGTERM')
  await load.done
  const requests = load.users.reduce((n, u) => n + u.client.log.length, 0)
  const failed = load.users.flatMap((u) => u.client.failures().map((a) => `${u.name}: ${describe(a)}`))
  t.comment(`${requests} requests through the balancer, ${failed.length} failed`)
  t.same(failed, [], 'no request failed')
  t.same(await lossReport(load.users), { lostSessions: [], lostCounts: [], lostItems: [], impossible: [] }, 'nothing acknowledged was lost')
  const stoppedRoutes = w.proc.lines.filter((l) => l.event === 'node-stopped').length
  t.equal(stoppedRoutes, N, 'every worker logged a graceful stop')
  t.same(w.proc.lines.filter((l) => l.event === 'worker-kill'), [], 'no worker needed SIGKILL')
  t.same(workerPids.filter(isNodecatProcess), [], 'no worker left running')
})

t.test('a worker that cannot bind its HTTP port stops the start, named, with no process left', async (t) => {
  const httpBase = await freePortRange(N)
  const rcvBase = await freePortRange(N)
  const taken = net.createServer()
  await new Promise<void>((resolve) => taken.listen(httpBase + 1, HOST, resolve))
  t.teardown(() => { taken.close() })
  const w = startWorkers(t, [...shopArgs('busy', httpBase, rcvBase, [`${HOST}:${rcvBase}`]), '--workers', String(N)])
  const exit = await exitWithin(w.proc, 90_000)
  t.ok(exit !== null, 'the supervisor ended by itself')
  t.not(exit!.code, 0, `exit code non-zero (${String(exit!.code)})`)
  t.match(w.proc.stderr(), new RegExp(`worker busy-1 \\(http ${HOST.replace(/\./g, '\\.')}:${httpBase + 1}, .*could not start: .*EADDRINUSE`), 'the message names the worker, its port and the error')
  const failed = w.proc.lines.find((l) => l.event === 'worker-start-failed')
  t.equal(failed?.route, 'busy-1')
  t.equal(w.allPids().length, N, 'three workers were started')
  t.same(w.allPids().filter(isNodecatProcess), [], 'no worker left running')
})

t.test('--workers 0 is an option error naming workers, exit 2', async (t) => {
  const p = startProcess(t, 'was-node', 'cli.js', ['--workers', '0'])
  const exit = await exitWithin(p, 30_000)
  t.same(exit, { code: 2, signal: null })
  t.match(p.stderr(), /^nodecat-was: workers must be an integer between 1 and 256, got 0/)
})
