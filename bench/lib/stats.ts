/**
 * Summaries of repeated runs: the median with its spread (min/max and the quartiles), and ratios
 * taken per repetition (variant / baseline measured in the same repetition) before the median.
 */

export interface Summary {
  n: number
  median: number
  min: number
  max: number
  q1: number
  q3: number
}

/** Linear-interpolated quantile of already sorted values. */
export function quantileSorted (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  const pos = (sorted.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo)
}

export function summarize (values: readonly number[]): Summary {
  const finite = values.filter((v) => Number.isFinite(v))
  const s = [...finite].sort((a, b) => a - b)
  return {
    n: s.length,
    median: quantileSorted(s, 0.5),
    min: s[0] ?? NaN,
    max: s[s.length - 1] ?? NaN,
    q1: quantileSorted(s, 0.25),
    q3: quantileSorted(s, 0.75)
  }
}

/**
 * Median of per-repetition ratios. Pairing each variant run with the baseline run of the same
 * repetition cancels slow drifts of a shared machine better than a ratio of two medians.
 */
export function pairedRatio (variant: readonly number[], baseline: readonly number[]): Summary {
  const r: number[] = []
  for (let i = 0; i < Math.min(variant.length, baseline.length); i++) {
    const v = variant[i]!
    const b = baseline[i]!
    if (Number.isFinite(v) && Number.isFinite(b) && b !== 0) r.push(v / b)
  }
  return summarize(r)
}

/** "12.3k (10.1k–13.0k)" style: a number with its min–max spread. */
export function formatSummary (s: Summary, format: (v: number) => string = formatNumber): string {
  if (s.n === 0) return 'n/a'
  if (s.n === 1) return format(s.median)
  return `${format(s.median)} (${format(s.min)}–${format(s.max)})`
}

/** Short human numbers: 1234 → "1.23k", 0.0123 → "0.0123". */
export function formatNumber (v: number): string {
  if (!Number.isFinite(v)) return 'n/a'
  const a = Math.abs(v)
  if (a >= 1e9) return `${(v / 1e9).toFixed(2)}G`
  if (a >= 1e6) return `${(v / 1e6).toFixed(2)}M`
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`
  if (a >= 1e3) return `${(v / 1e3).toFixed(2)}k`
  if (a >= 100) return v.toFixed(0)
  if (a >= 10) return v.toFixed(1)
  if (a >= 1) return v.toFixed(2)
  return v.toPrecision(3)
}

export function formatRatio (s: Summary): string {
  return formatSummary(s, (v) => `${v.toFixed(2)}×`)
}

/** "median (min–max)" of milliseconds, two decimals */
export const msSummary = (v: number[]): string => formatSummary(summarize(v), (x) => x.toFixed(2))
/** "median (min–max)" of microseconds, whole */
export const usSummary = (v: number[]): string => formatSummary(summarize(v), (x) => x.toFixed(0))
