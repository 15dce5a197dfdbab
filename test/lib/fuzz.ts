/**
 * fast-check run parameters shared by every fuzz test (packages/*\/test/fuzz-*.test.ts).
 *
 * - default: each property runs its own bounded count with a fresh random seed (CI);
 * - `NODECAT_FUZZ_RUNS=<n>`: every property runs n times (the long run);
 * - `NODECAT_FUZZ_SEED=<seed>` (and `NODECAT_FUZZ_PATH=<path>`): replay the failure that
 *   fast-check reported ("seed: …, path: …").
 */
import fc, { type Arbitrary, type Parameters } from 'fast-check'

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

/** One byte-level change to a valid input, as the mutation fuzzers apply them. */
export type Mutation =
  | { kind: 'flip', at: number, bit: number }
  | { kind: 'truncate', at: number }
  | { kind: 'int32', at: number, value: number }
  | { kind: 'insert', at: number, bytes: Uint8Array }
  | { kind: 'delete', at: number, n: number }

/** Mutations whose `int32` writes take values from `int32Values` (e.g. lengths that lie). */
export function byteMutation (int32Values: Arbitrary<number>): Arbitrary<Mutation> {
  return fc.oneof(
    fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('int32' as const), at: fc.nat(), value: int32Values }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 12 }) })
  )
}

/** Apply the mutations in order (positions taken modulo the current length). */
export function mutate (input: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = Buffer.from(input)
  for (const m of mutations) {
    if (b.length === 0) break
    const at = m.at % b.length
    switch (m.kind) {
      case 'flip': b[at] = b[at]! ^ (1 << m.bit); break
      case 'truncate': b = b.subarray(0, at); break
      case 'int32': if (b.length >= 4) b.writeInt32BE(m.value, m.at % (b.length - 3)); break
      case 'insert': b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]); break
      case 'delete': b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]); break
    }
  }
  return b
}
