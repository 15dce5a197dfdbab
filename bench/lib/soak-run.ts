/**
 * One soak run, shared by `pnpm soak` (bench/soak.ts, minutes) and test/soak.test.ts (about a
 * minute): a cluster in processes, mixed load through the balancer, faults rotating over the nodes,
 * every process sampled; then a final read of every session, an idle period, and the figures.
 * Everything is bounded: the load by time and count, the faults by a last start time, every wait
 * by a timeout. The caller's `spawn` owns the processes' clean-up; the run also stops them itself.
 */
import { openFds } from '@nodecat/testkit'
import { startSoakCluster, type Spawn } from './soak-cluster.js'
import { SoakLoad, type LoadStats } from './soak-users.js'
import { runFaults, type FaultEvent, type FaultKind } from './soak-faults.js'
import { startSampler, type ProcessSample } from './soak-sampler.js'
import { trends, type Trend } from './soak-trend.js'
import { sleep } from '@nodecat/testkit'

export interface SoakOptions {
  nodes: number
  mode: 'sync' | 'async'
  /** how long the load runs */
  durationMs: number
  users: number
  thinkMs: number
  maxRequests: number
  logoutChance: number
  faultPeriodMs: number
  downMs: number
  kinds: FaultKind[]
  /** at most this many faults; once they are done (and quietEndMs has passed) the load stops early */
  maxFaults: number
  /** no fault starts in the last `quietEndMs` of the load, so the last restart ends under load */
  quietEndMs: number
  sampleMs: number
  probeMs: number
  /** the first part of each process's life left out of the trends */
  warmupMs: number
  /** after the load: wait at most this long for the balancer's fds to come back near the baseline */
  idleMs: number
  /** "near": baseline + fdSlack */
  fdSlack: number
  seed: number
}

export const SOAK_DEFAULTS: SoakOptions = {
  nodes: 3,
  mode: 'sync',
  durationMs: 180_000,
  users: 16,
  thinkMs: 50,
  maxRequests: 2_000_000,
  logoutChance: 0.03,
  faultPeriodMs: 20_000,
  downMs: 4000,
  kinds: ['kill', 'term', 'quick'],
  maxFaults: Infinity,
  quietEndMs: 15_000,
  sampleMs: 2000,
  probeMs: 2000,
  warmupMs: 20_000,
  idleMs: 20_000,
  fdSlack: 8,
  seed: 1
}

export interface SoakResult {
  options: SoakOptions
  /** Date.now() at the start; every other time is ms since it */
  t0: number
  loadStartedAt: number
  loadEndedAt: number
  faults: FaultEvent[]
  load: LoadStats
  final: { read: number, unverified: number }
  samples: ProcessSample[]
  trends: Trend[]
  instances: Array<{ name: string, pid: number, startedAt: number }>
  /** the balancer's open fds before the load, and after it once idle (or when idleMs ran out) */
  balancerFds: { baseline: number, afterIdle: number, idleWaitedMs: number }
}

export interface SoakHooks {
  spawn: Spawn
  /** what the run is doing now, for a progress line */
  onStatus?: (text: string) => void
}

/** median of a few quick counts: one count can catch a connection being opened or closed */
function fdsNow (pid: number): number {
  const counts = [openFds(pid), openFds(pid), openFds(pid)].filter((n): n is number => n !== null).sort((a, b) => a - b)
  return counts[1] ?? counts[0] ?? NaN
}

export async function runSoak (options: Partial<SoakOptions>, hooks: SoakHooks): Promise<SoakResult> {
  const o: SoakOptions = { ...SOAK_DEFAULTS, ...options }
  const status = hooks.onStatus ?? (() => {})
  const t0 = Date.now()
  status(`starting ${o.nodes} nodes and the balancer`)
  const cluster = await startSoakCluster({ nodes: o.nodes, mode: o.mode, spawn: hooks.spawn, probeMs: o.probeMs })
  try {
    const sampler = startSampler(() => cluster.instances, o.sampleMs, t0, o.probeMs)
    await sleep(Math.max(o.probeMs, 1000))
    const baseline = fdsNow(cluster.balancer.proc.pid)
    sampler.sample()

    const loadStartedAt = Date.now() - t0
    status('load')
    const load = new SoakLoad({ url: cluster.balancerUrl, users: o.users, thinkMs: o.thinkMs, durationMs: o.durationMs, maxRequests: o.maxRequests, logoutChance: o.logoutChance, seed: o.seed })
    let loadDone = false
    void load.done.then(() => { loadDone = true })
    const faults = await runFaults(cluster, {
      kinds: o.kinds,
      periodMs: o.faultPeriodMs,
      downMs: o.downMs,
      lastStart: t0 + loadStartedAt + o.durationMs - o.quietEndMs,
      maxFaults: o.maxFaults,
      t0,
      stopped: () => loadDone,
      onEvent: (e, phase) => status(`fault ${e.k + 1}: ${e.kind} ${e.node} ${phase}`)
    })
    status('load after the last fault')
    if (faults.length >= o.maxFaults) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([load.done, new Promise((resolve) => { timer = setTimeout(resolve, o.quietEndMs) })])
      clearTimeout(timer)
      load.stop()
    }
    // otherwise the load ends by its own bounds (durationMs, maxRequests)
    await load.done
    const loadEndedAt = Date.now() - t0

    status('final read of every session')
    const final = await load.finalCheck()
    load.close()

    status('idle: waiting for the balancer\'s connections to close')
    const idleFrom = Date.now()
    let afterIdle = fdsNow(cluster.balancer.proc.pid)
    while (afterIdle > baseline + o.fdSlack && Date.now() - idleFrom < o.idleMs) {
      await sleep(500)
      afterIdle = fdsNow(cluster.balancer.proc.pid)
    }
    const idleWaitedMs = Date.now() - idleFrom
    sampler.sample()
    sampler.stop()

    const starts = new Map(cluster.instances.map((i) => [i.name, i.startedAt - t0]))
    // why: the balancer's warm-up ends when the load starts, not when the process did
    starts.set(cluster.balancer.name, loadStartedAt)
    return {
      options: o,
      t0,
      loadStartedAt,
      loadEndedAt,
      faults,
      load: load.stats,
      final,
      samples: sampler.samples,
      trends: trends(sampler.samples, starts, o.warmupMs, loadEndedAt),
      instances: cluster.instances.map((i) => ({ name: i.name, pid: i.proc.pid, startedAt: i.startedAt - t0 })),
      balancerFds: { baseline, afterIdle, idleWaitedMs }
    }
  } finally {
    status('stopping the cluster')
    await cluster.stop()
  }
}
