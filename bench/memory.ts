/**
 * pnpm bench:memory — memory per stored session: N typical small sessions (a user, a counter, a
 * three-item cart, a timestamp) held by a real SessionManager, against the same attributes held as
 * plain objects in a Map (the least an in-memory store can take), each in a fresh process, after GC.
 * Interleaved repetitions; the ratio is taken per repetition.
 */
import { parseArgs } from 'node:util'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runMain } from './lib/cleanup.js'
import { machineInfo } from './lib/machine.js'
import { createProgress } from './lib/progress.js'
import { runInterleaved, column, type Variant } from './lib/interleave.js'
import { startChild } from './lib/children.js'
import { summarize, formatSummary, pairedRatio, formatRatio } from './lib/stats.js'
import { writeReport, type ReportTable } from './lib/report.js'

const USAGE = `usage: pnpm bench:memory [--long] [--reps N] [--counts 10000,100000]
  --long     5 repetitions instead of 3
  --counts   sessions held per run (default 10000,100000)`

interface Sample { heapPerSession: number, rssPerSession: number, createPerSecond: number }

const worker = path.join(path.dirname(fileURLToPath(import.meta.url)), 'workers', 'session-memory.js')

async function runWorker (variant: string, count: number): Promise<Sample> {
  const child = startChild(`memory ${variant} ${count}`, process.execPath, ['--expose-gc', '--max-old-space-size=4096', worker, variant, String(count)])
  const line = await child.waitFor((l) => typeof l.heapPerSession === 'number', 300_000)
  await child.stop()
  return line as unknown as Sample
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { long: { type: 'boolean' }, reps: { type: 'string' }, counts: { type: 'string' }, help: { type: 'boolean' } } })
  if (values.help) { console.log(USAGE); return }
  const reps = Number(values.reps ?? (values.long ? 5 : 3))
  const counts = (values.counts ?? '10000,100000').split(',').map(Number)
  const variants: Array<Variant<Sample>> = counts.flatMap((n) => ['plain', 'nodecat'].map((v): Variant<Sample> => ({ name: `${v} ${n}`, run: async () => await runWorker(v, n) })))
  const progress = createProgress('memory', reps * variants.length)
  const outcomes = await runInterleaved(variants, reps, progress)
  progress.stop()
  const pick = (name: string, f: (s: Sample) => number): number[] => column(outcomes.find((o) => o.name === name)!, reps, f)
  const bytes = (v: number[]): string => formatSummary(summarize(v), (x) => `${Math.round(x)} B`)
  const tables: ReportTable[] = [{
    title: 'Memory per stored session (heap + array buffers, after GC; RSS growth for comparison)',
    columns: ['sessions', 'plain Map (baseline)', 'nodecat', 'nodecat / plain', 'nodecat RSS growth', 'nodecat sessions created/s'],
    rows: counts.map((n) => [
      String(n),
      bytes(pick(`plain ${n}`, (s) => s.heapPerSession)),
      bytes(pick(`nodecat ${n}`, (s) => s.heapPerSession)),
      formatRatio(pairedRatio(pick(`nodecat ${n}`, (s) => s.heapPerSession), pick(`plain ${n}`, (s) => s.heapPerSession))),
      bytes(pick(`nodecat ${n}`, (s) => s.rssPerSession)),
      formatSummary(summarize(pick(`nodecat ${n}`, (s) => s.createPerSecond)))
    ])
  }]
  writeReport({
    name: 'memory',
    title: 'Memory per stored session',
    command: `pnpm bench:memory${values.long ? ' --long' : ''}${values.counts ? ` --counts ${values.counts}` : ''}`,
    machine: machineInfo('host'),
    notes: [
      'A typical small session: user (string), count (number), cart (three strings), loginAt (number): about 120 bytes of attribute data.',
      'nodecat keeps each attribute msgpackr-encoded (so a change inside a value is found by re-encoding and replication sends bytes as they are) plus the session record: id, times, version stamps and a short stamp history for conflict detection.',
      'Each figure comes from a fresh process that created the sessions one request at a time, then ran GC twice; median (min-max) of the repetitions.'
    ],
    tables,
    raw: { counts, reps, outcomes }
  })
}

void runMain(main)
