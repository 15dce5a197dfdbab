/**
 * Is a process's memory or handle count flat? A least-squares line through its samples over the
 * steady part of the run (after a warm-up, while the load runs): the slope per minute is the
 * figure, with the first and last values (each the median of three samples) beside it, and the
 * slope over the window's second half (a store that fills up and then stays flat shows there).
 */
import { summarize } from './stats.js'
import type { ProcessSample } from './soak-sampler.js'

export interface Fit { slope: number, intercept: number, r2: number, n: number }

/** least squares y = intercept + slope·x */
export function linearFit (xs: readonly number[], ys: readonly number[]): Fit {
  const n = Math.min(xs.length, ys.length)
  if (n < 2) return { slope: NaN, intercept: NaN, r2: NaN, n }
  let sx = 0; let sy = 0
  for (let i = 0; i < n; i++) { sx += xs[i]!; sy += ys[i]! }
  const mx = sx / n; const my = sy / n
  let sxx = 0; let sxy = 0; let syy = 0
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx; const dy = ys[i]! - my
    sxx += dx * dx; sxy += dx * dy; syy += dy * dy
  }
  const slope = sxx === 0 ? NaN : sxy / sxx
  return { slope, intercept: my - slope * mx, n, r2: sxx === 0 || syy === 0 ? NaN : (sxy * sxy) / (sxx * syy) }
}

export type Metric = 'rss' | 'heapUsed' | 'fds' | 'handles' | 'sessions'
export const METRICS: Metric[] = ['rss', 'heapUsed', 'fds', 'handles', 'sessions']

export interface Trend {
  name: string
  metric: Metric
  /** samples in the steady window */
  n: number
  /** ms since the start: the steady window used */
  fromMs: number
  toMs: number
  /** median of the first three and of the last three samples of the window */
  first: number
  last: number
  /** change per minute from the fit */
  slopePerMin: number
  r2: number
  /** the same fit over the second half of the window only: growth that goes on, or a plateau reached */
  lateSlopePerMin: number
}

/**
 * One trend per process and metric over [its start + warmupMs, endMs]; processes with fewer than
 * `minSamples` samples in that window (short-lived instances) are left out.
 */
export function trends (samples: readonly ProcessSample[], starts: ReadonlyMap<string, number>, warmupMs: number, endMs: number, minSamples = 6): Trend[] {
  const out: Trend[] = []
  const byName = new Map<string, ProcessSample[]>()
  for (const s of samples) byName.set(s.name, [...(byName.get(s.name) ?? []), s])
  for (const [name, list] of byName) {
    const from = (starts.get(name) ?? 0) + warmupMs
    const window = list.filter((s) => s.t >= from && s.t <= endMs)
    for (const metric of METRICS) {
      const points = window.filter((s) => s[metric] !== null)
      if (points.length < minSamples) continue
      const xs = points.map((s) => s.t)
      const ys = points.map((s) => s[metric] as number)
      const fit = linearFit(xs, ys)
      const half = Math.floor(points.length / 2)
      const late = linearFit(xs.slice(half), ys.slice(half))
      out.push({
        name,
        metric,
        n: points.length,
        fromMs: xs[0]!,
        toMs: xs.at(-1)!,
        first: summarize(ys.slice(0, 3)).median,
        last: summarize(ys.slice(-3)).median,
        slopePerMin: fit.slope * 60_000,
        r2: fit.r2,
        lateSlopePerMin: late.slope * 60_000
      })
    }
  }
  return out
}
