/**
 * Interleaved repetitions: every repetition runs every variant once (baseline included), in an
 * order that rotates from one repetition to the next. On a shared machine the load drifts over
 * minutes; interleaving spreads that drift over all variants instead of punishing whichever ran
 * last, and lets each variant be divided by the baseline of its own repetition.
 */
import type { Progress } from './progress.js'
import { isAborted } from './cleanup.js'

/** Collapse whitespace and newlines so a reason fits one table cell. */
export function oneLine (s: string): string {
  return s.replace(/\s+/g, ' ').trim()
}

/** A variant that cannot run here (tool missing, package not built yet): said, never faked. */
export class Unavailable {
  readonly reason: string
  constructor (reason: string) { this.reason = oneLine(reason) }
}

export interface Variant<T> {
  name: string
  /** one measurement; return Unavailable (or throw) to mark the variant as not available */
  run (rep: number): Promise<T | Unavailable>
}

export interface VariantOutcome<T> {
  name: string
  /** one entry per repetition; undefined where that repetition failed */
  samples: Array<T | undefined>
  /** set when the variant could not run at all */
  unavailable?: string
  /** errors of single repetitions */
  errors: string[]
}

export async function runInterleaved<T> (variants: Array<Variant<T>>, reps: number, progress?: Progress): Promise<Array<VariantOutcome<T>>> {
  const outcomes = variants.map((v): VariantOutcome<T> => ({ name: v.name, samples: [], errors: [] }))
  for (let rep = 0; rep < reps; rep++) {
    for (let k = 0; k < variants.length; k++) {
      if (isAborted()) return outcomes
      const i = (rep + k) % variants.length
      const v = variants[i]!
      const o = outcomes[i]!
      if (o.unavailable !== undefined) { o.samples[rep] = undefined; progress?.tick(`${v.name}: not available`); continue }
      progress?.status(`rep ${rep + 1}/${reps}: ${v.name}`)
      try {
        const r = await v.run(rep)
        if (r instanceof Unavailable) { o.unavailable = r.reason; o.samples[rep] = undefined } else o.samples[rep] = r
      } catch (err) {
        o.samples[rep] = undefined
        o.errors.push(`rep ${rep + 1}: ${(err as Error).message}`)
      }
      progress?.tick(`rep ${rep + 1}/${reps}: ${v.name}`)
    }
  }
  return outcomes
}

/** The per-repetition values of one field, NaN where a repetition failed (keeps repetitions paired). */
export function column<T> (o: VariantOutcome<T>, reps: number, pick: (s: T) => number): number[] {
  return Array.from({ length: reps }, (_, i) => (o.samples[i] === undefined ? NaN : pick(o.samples[i] as T)))
}

/** Reject with a message naming the stage when `p` takes longer than `ms` (a stuck setup must not hang a benchmark). */
export async function withTimeout<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([p, new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms) })])
  } finally {
    clearTimeout(timer)
  }
}
