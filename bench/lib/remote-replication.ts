/**
 * bench:replication against nodes already running (--targets): the first target writes, the
 * others apply. Driven only over HTTP: the bench app's /_bench/write makes the writer update
 * sessions in-process (each update = one delta to every peer) for a few seconds, and each peer's
 * /_nodecat/status counts the deltas it applied. Lag comes from the peers' own measure
 * (replication.lag.lastMs: apply time − the writer's stamp time, wall clocks: keep them in sync
 * with NTP), sampled one isolated delta at a time at a low rate.
 */
import { getJson, postJson, pollUntil } from './http-json.js'
import { quantileSorted } from './stats.js'
import type { Target } from './remote.js'
import { sleep } from '@nodecat/testkit'

export interface RemoteWriteSample {
  written: number
  /** the writer's updates/s */
  writtenPerSecond: number
  /** the slowest peer: deltas applied ÷ time from the start of the write call to its last count (all applied, or the 30 s bound) */
  appliedPerSecond: number
  complete: boolean
  /** deltas the slowest peer applied (= written when complete) */
  applied: number
}

const applied = async (t: Target): Promise<number> => Number((await getJson(`${t.url}/_nodecat/status`, 5000)).replication?.deltasApplied ?? NaN)

export async function remoteWrite (targets: Target[], size: number, seconds: number, concurrency: number): Promise<RemoteWriteSample> {
  const [writer, ...peers] = targets
  const before = await Promise.all(peers.map(applied))
  const t0 = performance.now()
  const w = await postJson(`${writer!.url}/_bench/write?count=10000000&size=${size}&concurrency=${concurrency}&ms=${seconds * 1000}`, seconds * 1000 + 120_000)
  const written = Number(w.written)
  const reached: number[] = []
  const got: number[] = []
  await Promise.all(peers.map(async (p, i) => {
    // why: bounded; a peer that has not caught up by then is reported incomplete with what it applied
    const until = Date.now() + 30_000
    for (;;) {
      got[i] = (await applied(p).catch(() => before[i]!)) - before[i]!
      reached[i] = performance.now()
      if (got[i]! >= written || Date.now() > until) break
      await sleep(50)
    }
  }))
  const slowest = Math.min(...got.map((g, i) => g / ((reached[i]! - t0) / 1000)))
  return { written, writtenPerSecond: written / (Number(w.ms) / 1000), appliedPerSecond: slowest, complete: got.every((g) => g >= written), applied: Math.min(...got) }
}

export interface RemoteLagSample { samples: number, lagP50ms: number, lagP99ms: number, statusRttP50ms: number }

/** `count` isolated deltas (one at a time, bounded by `ms`): each peer's own lag figure for each. */
export async function remoteLag (targets: Target[], size: number, count: number, ms: number): Promise<RemoteLagSample> {
  const [writer, ...peers] = targets
  const lags: number[] = []
  const rtts: number[] = []
  const end = performance.now() + ms
  for (let k = 0; k < count && performance.now() < end; k++) {
    const before = await Promise.all(peers.map(applied))
    await postJson(`${writer!.url}/_bench/write?count=1&size=${size}&concurrency=1`, 10_000)
    for (const [i, p] of peers.entries()) {
      const doc = await pollUntil(`${p.route} to apply a delta`, async () => {
        const t = performance.now()
        const s = await getJson(`${p.url}/_nodecat/status`, 5000)
        rtts.push(performance.now() - t)
        return Number(s.replication?.deltasApplied) > before[i]! ? s : undefined
      }, 10_000, 5)
      lags.push(Number(doc.replication.lag.lastMs))
    }
  }
  lags.sort((a, b) => a - b)
  rtts.sort((a, b) => a - b)
  return { samples: lags.length, lagP50ms: quantileSorted(lags, 0.5), lagP99ms: quantileSorted(lags, 0.99), statusRttP50ms: quantileSorted(rtts, 0.5) }
}
