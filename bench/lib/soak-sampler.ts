/**
 * Samples every running process of the soak at a fixed interval: RSS and open file descriptors
 * from /proc (outside the process), heap used after GC and active handles from the process's own
 * probe (its newest sample, when recent), and for a node the sessions it holds (its status page,
 * read in the background: the newest answer is used).
 */
import { procMemory, openFds, lastSample } from '@nodecat/testkit'
import type { Instance } from './soak-cluster.js'

export interface ProcessSample {
  /** ms since the soak started */
  t: number
  /** the instance: "balancer", "n2#3" */
  name: string
  pid: number
  rss: number
  fds: number
  /** from the probe; null when it had no recent sample */
  heapUsed: number | null
  handles: number | null
  /** sessions a node holds; null for the balancer or when its status did not answer lately */
  sessions: number | null
}

export interface Sampler {
  readonly samples: ProcessSample[]
  /** take one round now */
  sample (): void
  stop (): void
}

export function startSampler (instances: () => Instance[], everyMs: number, t0: number, probeMs: number): Sampler {
  const samples: ProcessSample[] = []
  const sessions = new Map<Instance, { t: number, count: number }>()
  const askSessions = (i: Instance): void => {
    if (i.url === undefined) return
    fetch(`${i.url}/_nodecat/status`, { signal: AbortSignal.timeout(Math.max(500, everyMs)) })
      .then(async (res) => await res.json() as { sessions?: { count?: number } | null })
      .then((doc) => { if (typeof doc.sessions?.count === 'number') sessions.set(i, { t: Date.now(), count: doc.sessions.count }) })
      .catch(() => {})
  }
  const sample = (): void => {
    const now = Date.now()
    for (const i of instances()) {
      if (!i.proc.running()) continue
      askSessions(i)
      const held = sessions.get(i)
      const mem = procMemory(i.proc.pid)
      const fds = openFds(i.proc.pid)
      if (mem === null || fds === null) continue
      const p = lastSample(i.probe)
      const fresh = p !== null && now - p.t <= 2.5 * probeMs
      samples.push({ t: now - t0, name: i.name, pid: i.proc.pid, rss: mem.rss, fds, heapUsed: fresh ? p.heapUsed : null, handles: fresh ? p.handles : null, sessions: held !== undefined && now - held.t <= 2.5 * everyMs ? held.count : null })
    }
  }
  const timer = setInterval(sample, everyMs)
  return { samples, sample, stop: () => clearInterval(timer) }
}
