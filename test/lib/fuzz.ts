/**
 * fast-check run parameters shared by every fuzz test (packages/*\/test/fuzz-*.test.ts).
 *
 * - default: each property runs its own bounded count with a fresh random seed (CI);
 * - `NODECAT_FUZZ_RUNS=<n>`: every property runs n times (the long run);
 * - `NODECAT_FUZZ_SEED=<seed>` (and `NODECAT_FUZZ_PATH=<path>`): replay the failure that
 *   fast-check reported ("seed: …, path: …").
 */
import type { Parameters } from 'fast-check'

function envInt (name: string): number | undefined {
  const raw = process.env[name]
  if (raw === undefined || raw.trim() === '') return undefined
  const n = Number(raw)
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`)
  return n
}

/** how many runs a property gets: NODECAT_FUZZ_RUNS when set, else `defaultRuns` */
export function fuzzRuns (defaultRuns: number): number {
  const n = envInt('NODECAT_FUZZ_RUNS')
  if (n !== undefined && n < 1) throw new Error('NODECAT_FUZZ_RUNS must be at least 1')
  return n ?? defaultRuns
}

/** fast-check parameters: the run count, and the seed/path to replay when given */
export function fuzzParams<T> (defaultRuns: number): Parameters<T> {
  const p: Parameters<T> = { numRuns: fuzzRuns(defaultRuns) }
  const seed = envInt('NODECAT_FUZZ_SEED')
  if (seed !== undefined) p.seed = seed
  const path = process.env.NODECAT_FUZZ_PATH
  if (path !== undefined && path !== '') p.path = path
  return p
}
