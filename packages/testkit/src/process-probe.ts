/**
 * A probe preloaded into a measured Node process (`node --expose-gc --import <this file> app.js`,
 * see probeNodeArgs): every NODECAT_PROBE_MS it writes one JSON line to file descriptor
 * NODECAT_PROBE_FD (a pipe the parent opened; never stdout, so the app's own log lines stay whole)
 * with the heap used after a full GC (when --expose-gc is on), RSS, and the active handles by kind.
 * The timer is unref'd: the probe never keeps a process alive, and it stops when the pipe is gone.
 */
import { writeSync } from 'node:fs'

/** One sample, as written by the probe. */
export interface ProbeSample {
  probe: 1
  /** Date.now() in the measured process */
  t: number
  pid: number
  heapUsed: number
  heapTotal: number
  rss: number
  external: number
  /** true when gc() ran just before (heapUsed is then what is retained) */
  afterGc: boolean
  /** active handles and requests (process.getActiveResourcesInfo()), the probe's own timer included */
  handles: number
  byKind: Record<string, number>
}

function sampleNow (): ProbeSample {
  const gc = (globalThis as { gc?: () => void }).gc
  if (typeof gc === 'function') gc()
  const m = process.memoryUsage()
  const byKind: Record<string, number> = {}
  const resources = process.getActiveResourcesInfo()
  for (const kind of resources) byKind[kind] = (byKind[kind] ?? 0) + 1
  return { probe: 1, t: Date.now(), pid: process.pid, heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss, external: m.external, afterGc: typeof gc === 'function', handles: resources.length, byKind }
}

function install (): void {
  const fd = Number(process.env.NODECAT_PROBE_FD)
  const every = Number(process.env.NODECAT_PROBE_MS ?? 2000)
  if (!Number.isInteger(fd) || fd < 3 || !Number.isFinite(every) || every < 50) return
  // why: the measured app must not see the probe's settings or pass them on to its own children
  delete process.env.NODECAT_PROBE_FD
  delete process.env.NODECAT_PROBE_MS
  const write = (): boolean => {
    try { writeSync(fd, JSON.stringify(sampleNow()) + '\n'); return true } catch { return false }
  }
  if (!write()) return
  const timer = setInterval(() => { if (!write()) clearInterval(timer) }, every)
  timer.unref()
}

install()
