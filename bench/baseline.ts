/**
 * pnpm bench:baseline — the physical limits the replication benchmark is read against:
 *  - raw TCP throughput between two Node processes on 127.0.0.1 (or across the emulated link with --profile), one direction, one
 *    connection, for ~100 B, 1 KiB and 16 KiB messages (messages/s and MB/s);
 *  - msgpackr encode + decode of realistic session deltas of those sizes (ops/s);
 *  - Node TCP ping-pong round-trip time (p50/p99/p99.9).
 * Every run is bounded by a message count and a time limit. Repetitions are interleaved.
 */
import { parseArgs } from 'node:util'
import { runMain } from './lib/cleanup.js'
import { machineInfo } from './lib/machine.js'
import { createProgress } from './lib/progress.js'
import { runInterleaved, column, type Variant } from './lib/interleave.js'
import { measureTcp, measureCodec, measurePingPong, type TcpResult, type CodecResult, type PingPongResult } from './lib/baselines.js'
import { summarize, formatSummary, formatNumber } from './lib/stats.js'
import { writeReport, type ReportTable } from './lib/report.js'
import { placeNodes } from './lib/placement.js'
import { EMULATION_CAVEAT } from './lib/pi-profiles.js'

export const SIZES = [100, 1024, 16384]

const USAGE = `usage: pnpm bench:baseline [--long] [--reps N] [--seconds S] [--profile pi3|pi4|pi5]
  --long       5 repetitions of 4 s runs instead of 3 of 2 s
  --profile    the two ends in shaped namespaces under a CPU quota (root; an emulation)
  --reps N     repetitions (interleaved)
  --seconds S  length of each TCP throughput run`

type Sample = { kind: 'tcp', r: TcpResult } | { kind: 'codec', r: CodecResult } | { kind: 'ping', r: PingPongResult }

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { long: { type: 'boolean' }, reps: { type: 'string' }, seconds: { type: 'string' }, profile: { type: 'string' }, help: { type: 'boolean' } } })
  if (values.help) { console.log(USAGE); return }
  const reps = Number(values.reps ?? (values.long ? 5 : 3))
  const seconds = Number(values.seconds ?? (values.long ? 4 : 2))
  const placement = placeNodes(2, values.profile)
  const machine = machineInfo(placement.profile?.name ?? 'host')
  const node0 = placement.nodes[0]!

  const variants: Array<Variant<Sample>> = [
    ...SIZES.map((size): Variant<Sample> => ({ name: `tcp ${size} B`, run: async () => ({ kind: 'tcp', r: await measureTcp(size, { count: 20_000_000, ms: seconds * 1000, placement: placement.pair() }) }) })),
    ...SIZES.map((size): Variant<Sample> => ({ name: `codec ${size} B`, run: async () => ({ kind: 'codec', r: await measureCodec(size, { ms: seconds * 750, wrap: node0.wrap, onStart: (c) => node0.adopt(c) }) }) })),
    { name: 'ping-pong', run: async () => ({ kind: 'ping', r: await measurePingPong({ samples: 20_000, warmup: 2000, ms: seconds * 1500, placement: placement.pair() }) }) }
  ]
  const progress = createProgress('baseline', reps * variants.length)
  const outcomes = await runInterleaved(variants, reps, progress)
  progress.stop()

  const pick = (name: string, f: (s: Sample) => number): number[] => column(outcomes.find((o) => o.name === name)!, reps, f)
  const tcp = (f: (r: TcpResult) => number) => (s: Sample): number => (s.kind === 'tcp' ? f(s.r) : NaN)
  const codec = (f: (r: CodecResult) => number) => (s: Sample): number => (s.kind === 'codec' ? f(s.r) : NaN)
  const ping = (f: (r: PingPongResult) => number) => (s: Sample): number => (s.kind === 'ping' ? f(s.r) : NaN)
  const f = (v: number[]): string => formatSummary(summarize(v))
  const us = (v: number[]): string => formatSummary(summarize(v), (x) => `${x.toFixed(1)} µs`)

  const tables: ReportTable[] = [
    {
      title: 'Raw TCP, one connection, one direction (messages/s and payload MB/s)',
      columns: ['message', 'messages/s', 'MB/s'],
      rows: SIZES.map((s) => [`${s} B`, f(pick(`tcp ${s} B`, tcp((r) => r.messagesPerSecond))), f(pick(`tcp ${s} B`, tcp((r) => r.mbPerSecond)))])
    },
    {
      title: 'msgpackr (Packr useRecords:false, as the tribes envelope) on session deltas, ops/s',
      columns: ['delta', 'encoded B', 'encode', 'decode', 'encode+decode', 'enc+dec MB/s'],
      rows: SIZES.map((s) => {
        const n = `codec ${s} B`
        return [`~${s} B`, formatNumber(summarize(pick(n, codec((r) => r.encodedBytes))).median), f(pick(n, codec((r) => r.encodeOps))), f(pick(n, codec((r) => r.decodeOps))), f(pick(n, codec((r) => r.roundTripOps))), f(pick(n, codec((r) => r.roundTripMbPerSecond)))]
      })
    },
    {
      title: 'TCP ping-pong, 64 B, one outstanding, Nagle off',
      columns: ['p50', 'p99', 'p99.9', 'round trips/s'],
      rows: [[us(pick('ping-pong', ping((r) => r.p50us))), us(pick('ping-pong', ping((r) => r.p99us))), us(pick('ping-pong', ping((r) => r.p999us))), f(pick('ping-pong', ping((r) => r.roundTripsPerSecond)))]]
    }
  ]
  const errors = outcomes.flatMap((o) => o.errors.map((e) => `${o.name}: ${e}`))
  const bars = SIZES.flatMap((s) => {
    const t = summarize(pick(`tcp ${s} B`, tcp((r) => r.mbPerSecond)))
    const c = summarize(pick(`codec ${s} B`, codec((r) => r.roundTripMbPerSecond)))
    return [
      { label: `TCP ${s} B`, value: t.median, low: t.min, high: t.max, text: `${formatNumber(t.median)} MB/s` },
      { label: `msgpackr ${s} B`, value: c.median, low: c.min, high: c.max, text: `${formatNumber(c.median)} MB/s` }
    ]
  })
  writeReport({
    name: placement.profile ? `baseline-${placement.profile.name}` : 'baseline',
    title: `nodecat baseline: raw TCP, msgpackr, ping-pong${placement.profile ? ` — ${placement.profile.name} EMULATION` : ''}`,
    command: `pnpm bench:baseline ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    notes: [
      ...(placement.profile ? [EMULATION_CAVEAT, `Profile ${placement.profile.name}: ${placement.profile.models}; link tbf ${placement.profile.linkRate}, CPU quota ${placement.profile.cpuFraction} of one core per process (10 ms period). Ping-pong latency under the quota is NOT a Pi's latency.`] : []),
      `Median of ${reps} interleaved repetitions, (min–max) in brackets. Each TCP run: ${seconds} s or 20 M messages, whichever first; 4-byte length prefix per message, one socket.write() per message, measured at the receiver.`,
      'These are the ceilings for replication on this machine: a tribes channel cannot move more deltas/s than TCP moves messages of the same size, nor more than msgpackr can encode and decode.',
      'Shared 2-core machines are noisy (±30–50 % between runs minutes apart): compare ratios measured in the same run, not absolute numbers across runs.',
      ...(errors.length ? [`Errors: ${errors.join('; ')}`] : [])
    ],
    tables,
    chart: { title: 'Baseline throughput (payload MB/s)', unit: 'MB/s, median of repetitions; whisker = min–max', bars },
    raw: { reps, seconds, outcomes }
  })
}

await runMain(main)
