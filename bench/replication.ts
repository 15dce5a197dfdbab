/**
 * pnpm bench:replication — how close a tribes cluster comes to the physical limits: one member
 * replicates session deltas (~100 B, 1 KiB, 16 KiB) to the others (clusters of 2..4 channels, one
 * per process, static membership), in async and sync mode, at a fixed moderate rate and at
 * saturation. Reported: deltas applied/s (slowest receiver), MB/s, lag p50/p99 (worst receiver),
 * and the saturated rates as fractions of raw TCP and of msgpackr measured in the same run,
 * interleaved. --profile pi3|pi4|pi5 runs every node in its own shaped namespace and CPU cgroup.
 * --shape: what a delta is (bench/lib/deltas.ts): `wire` (default) is what was-node really sends,
 * a small message whose attribute values are already msgpackr bytes; `tree` is the same change
 * as a deep object tree that the channel must encode and decode field by field.
 * --targets drives nodecat-was nodes already running elsewhere (bench app) over HTTP instead.
 */
import { parseArgs } from 'node:util'
import { runMain } from './lib/cleanup.js'
import { machineInfo } from './lib/machine.js'
import { createProgress } from './lib/progress.js'
import { runInterleaved, column, Unavailable, oneLine, type Variant } from './lib/interleave.js'
import { summarize, pairedRatio, formatSummary, formatRatio, formatNumber } from './lib/stats.js'
import { writeReport, type ReportTable } from './lib/report.js'
import { measureTcp, measureCodec, type TcpResult, type CodecResult } from './lib/baselines.js'
import { placeNodes } from './lib/placement.js'
import { EMULATION_CAVEAT } from './lib/pi-profiles.js'
import { startCluster, runReplication, clusterKey, type Cluster, type ReplicationSample } from './lib/cluster.js'
import { encodedSize, type DeltaShape } from './lib/deltas.js'
import { parseTargets, describeTargets, requireBenchApp, waitForTargets, REMOTE_NOTE, type Target } from './lib/remote.js'
import { remoteWrite, remoteLag, type RemoteWriteSample, type RemoteLagSample } from './lib/remote-replication.js'

const USAGE = `usage: pnpm bench:replication [--long] [--nodes 2,3,4] [--sizes 100,1024,16384] [--modes async,sync]
       [--rate 1000] [--seconds S] [--reps N] [--concurrency 16] [--no-key] [--profile pi3|pi4|pi5] [--shape wire|tree]
  default: 3-node cluster, 3 repetitions of 2 s runs (about 3 minutes); --long: nodes 2,3,4, 5 reps of 4 s
  --rate         the fixed "moderate" rate in deltas/s (the other load is saturation)
  --concurrency  sync sends in flight at saturation (concurrent requests waiting for replication)
  --no-key       plaintext cluster traffic (default: a random cluster key, as in production)
  --profile      Pi-class emulation (root): namespaces + tbf + CPU quota; throughput only, not latency
  --shape        wire (default): deltas as was-node sends them, attribute values already bytes;
                 tree: the same change as a deep object tree the channel must msgpack field by field
       pnpm bench:replication --targets http://pi1:8080,http://pi2:8080[,...] [--sizes ..] [--seconds S] [--reps N] [--concurrency C]
  --targets      nodecat-was nodes already running the bench app (see bench/README.md, "Remote nodes"):
                 the first one writes for S seconds (C sessions updated in parallel), the others apply;
                 reported: deltas applied/s and the peers' own lag figure (NTP-synced clocks needed)`

type Sample = { kind: 'tcp', r: TcpResult } | { kind: 'codec', r: CodecResult } | { kind: 'repl', r: ReplicationSample }

function list (text: string): number[] { return text.split(',').map((s) => Number(s.trim())).filter((n) => Number.isFinite(n) && n > 0) }

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      long: { type: 'boolean' },
      nodes: { type: 'string' },
      sizes: { type: 'string' },
      modes: { type: 'string' },
      rate: { type: 'string' },
      seconds: { type: 'string' },
      reps: { type: 'string' },
      concurrency: { type: 'string' },
      'no-key': { type: 'boolean' },
      profile: { type: 'string' },
      shape: { type: 'string' },
      help: { type: 'boolean' },
      targets: { type: 'string' }
    }
  })
  if (values.help) { console.log(USAGE); return }
  if (values.targets) {
    await remoteMain(await parseTargets(values.targets), {
      sizes: list(values.sizes ?? '100,1024,16384'),
      seconds: Number(values.seconds ?? (values.long ? 4 : 2)),
      reps: Number(values.reps ?? (values.long ? 5 : 3)),
      concurrency: Number(values.concurrency ?? 16)
    })
    return
  }
  const nodeCounts = list(values.nodes ?? (values.long ? '2,3,4' : '3')).filter((n) => n >= 2 && n <= 4)
  const sizes = list(values.sizes ?? '100,1024,16384')
  const modes = (values.modes ?? 'async,sync').split(',').map((m) => m.trim()).filter((m): m is 'async' | 'sync' => m === 'async' || m === 'sync')
  const rate = Number(values.rate ?? 1000)
  const seconds = Number(values.seconds ?? (values.long ? 4 : 2))
  const reps = Number(values.reps ?? (values.long ? 5 : 3))
  const concurrency = Number(values.concurrency ?? 16)
  const shape: DeltaShape = values.shape === 'tree' ? 'tree' : 'wire'
  if (values.shape !== undefined && values.shape !== 'tree' && values.shape !== 'wire') throw new Error(`--shape must be wire or tree, got ${values.shape}`)
  const placement = placeNodes(Math.max(...nodeCounts), values.profile)
  const machine = machineInfo(placement.profile?.name ?? 'host')
  const key = values['no-key'] ? undefined : clusterKey()
  const log = (s: string): void => { process.stdout.write(`${s}\n`) }

  const clusters = new Map<number, Cluster>()
  for (const n of nodeCounts) {
    log(`starting a tribes cluster of ${n} on ${placement.profile ? `emulated ${placement.profile.name} nodes` : '127.0.0.1'}…`)
    clusters.set(n, await startCluster(n, placement.nodes, key, placement.profile === null))
  }

  const variants: Array<Variant<Sample>> = [
    ...sizes.map((size): Variant<Sample> => ({ name: `tcp ${size}`, run: async () => ({ kind: 'tcp', r: await measureTcp(size, { count: 20_000_000, ms: seconds * 1000, placement: placement.pair() }) }) })),
    ...sizes.map((size): Variant<Sample> => ({ name: `codec ${size}`, run: async () => ({ kind: 'codec', r: await measureCodec(size, { shape, ms: seconds * 750, wrap: placement.nodes[0]!.wrap, onStart: (c) => placement.nodes[0]!.adopt(c) }) }) }))
  ]
  const replNames: Array<{ name: string, n: number, size: number, mode: 'async' | 'sync', rate: number }> = []
  for (const n of nodeCounts) {
    for (const size of sizes) {
      for (const mode of modes) {
        for (const r of [rate, 0]) {
          const name = `repl n${n} ${size} ${mode} ${r === 0 ? 'sat' : r}`
          replNames.push({ name, n, size, mode, rate: r })
          variants.push({
            name,
            run: async () => {
              const c = clusters.get(n)!
              if (c.unavailable) return new Unavailable(c.unavailable)
              return { kind: 'repl', r: await runReplication(c, { size, shape, mode, rate: r, seconds, concurrency }) }
            }
          })
        }
      }
    }
  }
  const progress = createProgress('replication', reps * variants.length)
  const outcomes = await runInterleaved(variants, reps, progress)
  progress.stop()
  for (const c of clusters.values()) await c.stop()

  const byName = (name: string) => outcomes.find((o) => o.name === name)!
  const col = (name: string, f: (s: Sample) => number): number[] => column(byName(name), reps, f)
  const tcpRate = (size: number): number[] => col(`tcp ${size}`, (s) => (s.kind === 'tcp' ? s.r.messagesPerSecond : NaN))
  const tcpCpu = (size: number): number[] => col(`tcp ${size}`, (s) => (s.kind === 'tcp' ? s.r.cpuUsPerMessage : NaN))
  const codecRate = (size: number): number[] => col(`codec ${size}`, (s) => (s.kind === 'codec' ? s.r.roundTripOps : NaN))
  const repl = (name: string, f: (r: ReplicationSample) => number): number[] => col(name, (s) => (s.kind === 'repl' ? f(s.r) : NaN))
  const fmt = (v: number[]): string => formatSummary(summarize(v))
  const ms = (v: number[]): string => formatSummary(summarize(v), (x) => x.toFixed(x < 10 ? 2 : 0))
  const encoded = new Map(sizes.map((s) => [s, encodedSize(s, shape)]))

  const tables: ReportTable[] = [{
    title: `Baselines measured in this run (${placement.profile ? 'across the emulated link, under the CPU quota' : '127.0.0.1'})`,
    columns: ['delta size', 'raw TCP messages/s', 'raw TCP MB/s', 'raw TCP CPU µs/message', 'msgpackr enc+dec ops/s'],
    rows: sizes.map((s) => [`~${s} B`, fmt(tcpRate(s)), fmt(col(`tcp ${s}`, (x) => (x.kind === 'tcp' ? x.r.mbPerSecond : NaN))), ms(tcpCpu(s)), fmt(codecRate(s))])
  }]
  const rows = replNames.map(({ name, n, size, mode, rate: r }) => {
    const o = byName(name)
    const head = [String(n), `~${size} B`, mode, r === 0 ? (mode === 'sync' ? `saturation (${concurrency} in flight)` : 'saturation') : `${r}/s`]
    if (o.unavailable !== undefined) return [...head, 'not available', '', '', '', '', '', '', '', o.unavailable]
    const applied = repl(name, (x) => x.appliedPerSecond)
    const failures = summarize(repl(name, (x) => x.failures)).max
    const incomplete = repl(name, (x) => (x.complete ? 0 : 1)).filter((x) => x === 1).length
    const behind = summarize(repl(name, (x) => x.behindSchedule)).max
    return [
      ...head,
      fmt(applied),
      fmt(applied.map((a) => (a * encoded.get(size)!) / 1e6)),
      r === 0 ? formatRatio(pairedRatio(applied, tcpRate(size))) : '',
      r === 0 ? formatRatio(pairedRatio(applied, codecRate(size))) : '',
      ms(repl(name, (x) => x.lagP50ms)),
      ms(repl(name, (x) => x.lagP99ms)),
      ms(repl(name, (x) => x.cpuUsPerDelta)),
      formatRatio(pairedRatio(tcpCpu(size).map((c) => c * (n - 1)), repl(name, (x) => x.cpuUsPerDelta))),
      [failures ? `send failures ${failures}` : '', incomplete ? `${incomplete} run(s) incomplete` : '', behind ? `sender behind schedule by ${behind}` : '', ...o.errors.map(oneLine)].filter(Boolean).join('; ') || 'ok'
    ]
  })
  tables.push({
    title: 'Replication: one member sends, every other member applies',
    columns: ['nodes', 'delta', 'mode', 'load', 'applied deltas/s', 'MB/s', 'of raw TCP', 'of msgpackr', 'lag p50 ms', 'lag p99 ms', 'CPU µs/delta', 'CPU: raw TCP ÷ this', 'notes'],
    rows
  })
  const sat = replNames.filter((x) => x.rate === 0)
  const unavailable = [...clusters.values()].find((c) => c.unavailable)?.unavailable
  writeReport({
    name: placement.profile ? `replication-${placement.profile.name}` : 'replication',
    title: `nodecat replication (tribes channels)${placement.profile ? ` — ${placement.profile.name} EMULATION` : ''}`,
    command: `pnpm bench:replication ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    notes: [
      ...(placement.profile ? [EMULATION_CAVEAT, `Profile ${placement.profile.name}: ${placement.profile.models}; link tbf ${placement.profile.linkRate}, CPU quota ${placement.profile.cpuFraction} of one core per node (10 ms period).`] : []),
      ...(unavailable ? [`Replication not measured: ${unavailable}`] : []),
      shape === 'wire'
        ? 'Deltas as was-node sends them (--shape wire): `{k, v, t: \'delta\', id, from, to, a}` whose attribute values are already msgpackr bytes, so a ~16 KiB delta is one ~16 KiB Buffer in a small message; "msgpackr enc+dec" is that message\'s encode+decode.'
        : 'Deltas as deep object trees (--shape tree: a cart with hundreds of items) that the channel msgpack-encodes and -decodes field by field; was-node never sends this shape (it replicates attribute values as bytes).',
      `Median of ${reps} interleaved repetitions, (min–max). Each run: ${seconds} s of sending, then the receivers drain (bounded). Cluster traffic ${key ? 'keyed (authenticated + encrypted, the default)' : 'plaintext (--no-key)'}.`,
      'applied deltas/s = the slowest receiver\'s rate; lag = receive time − send time on the shared monotonic clock, worst receiver. At the fixed rate the lag is the latency of replication; at saturation it includes queueing.',
      '"of raw TCP" = saturated applied deltas/s ÷ raw TCP messages/s of the same size in the same repetition (one connection, one direction); "of msgpackr" = ÷ msgpackr encode+decode ops/s. 1.00× would mean replication costs nothing beyond the wire and the codec.',
      'CPU µs/delta = CPU time (user + system, /proc) of every member together from the send command to the last report, ÷ deltas sent; "CPU: raw TCP ÷ this" = raw TCP CPU µs/message (both ends) × receivers ÷ that: 1.00× would mean replicating a delta to every receiver costs no more CPU than raw TCP moving the same bytes to each. Unlike the rates, CPU per delta hardly depends on how busy the machine is.',
      'Sync mode waits for every receiver to apply each delta (send option 6): its saturated rate is bounded by round trips × the number in flight, not by bandwidth.',
      'Shared 2-core machine: all members, the load and other jobs compete for the same cores; absolute figures are good to about ±30 %.'
    ],
    tables,
    chart: {
      title: 'Saturated replication as a fraction of raw TCP (same size, same run)',
      unit: 'applied deltas/s ÷ raw TCP messages/s (median of repetitions; whisker = min–max)',
      bars: sat.map(({ name, n, size, mode }) => {
        const o = byName(name)
        const r = pairedRatio(repl(name, (x) => x.appliedPerSecond), tcpRate(size))
        return { label: `${n} nodes ${size} B ${mode}`, value: o.unavailable !== undefined ? NaN : r.median, low: r.min, high: r.max, text: o.unavailable !== undefined ? 'not available' : `${r.median.toFixed(2)}× (${formatNumber(summarize(repl(name, (x) => x.appliedPerSecond)).median)}/s)` }
      })
    },
    raw: { reps, seconds, rate, concurrency, shape, nodeCounts, sizes, modes, profile: placement.profile, keyed: Boolean(key), outcomes }
  })
}

type RemoteSample = { kind: 'write', r: RemoteWriteSample } | { kind: 'lag', r: RemoteLagSample }

async function remoteMain (targets: Target[], o: { sizes: number[], seconds: number, reps: number, concurrency: number }): Promise<void> {
  const machine = machineInfo('remote')
  await requireBenchApp(targets)
  await waitForTargets(targets, (s) => process.stdout.write(`${s}\n`))
  const variants: Array<Variant<RemoteSample>> = o.sizes.flatMap((size): Array<Variant<RemoteSample>> => [
    { name: `write ${size}`, run: async () => ({ kind: 'write', r: await remoteWrite(targets, size, o.seconds, o.concurrency) }) },
    { name: `lag ${size}`, run: async () => ({ kind: 'lag', r: await remoteLag(targets, size, 50, o.seconds * 1000) }) }
  ])
  const progress = createProgress('replication (remote)', o.reps * variants.length)
  const outcomes = await runInterleaved(variants, o.reps, progress)
  progress.stop()
  const col = (name: string, f: (s: RemoteSample) => number): number[] => column(outcomes.find((x) => x.name === name)!, o.reps, f)
  const fmt = (v: number[]): string => formatSummary(summarize(v))
  const msf = (v: number[]): string => formatSummary(summarize(v), (x) => x.toFixed(x < 10 ? 2 : 0))
  const rows = o.sizes.map((size) => {
    const w = (f: (r: RemoteWriteSample) => number): number[] => col(`write ${size}`, (s) => (s.kind === 'write' ? f(s.r) : NaN))
    const l = (f: (r: RemoteLagSample) => number): number[] => col(`lag ${size}`, (s) => (s.kind === 'lag' ? f(s.r) : NaN))
    const incomplete = w((r) => (r.complete ? 0 : 1)).filter((x) => x === 1).length
    const behind = summarize(w((r) => r.written - r.applied)).max
    const errors = [...outcomes.find((x) => x.name === `write ${size}`)!.errors, ...outcomes.find((x) => x.name === `lag ${size}`)!.errors].map(oneLine)
    return [`~${size} B`, fmt(w((r) => r.writtenPerSecond)), fmt(w((r) => r.appliedPerSecond)), msf(l((r) => r.lagP50ms)), msf(l((r) => r.lagP99ms)), msf(l((r) => r.statusRttP50ms)),
      [incomplete ? `${incomplete} run(s) incomplete: a peer was up to ${behind} deltas behind 30 s after the writes ended` : '', ...errors].filter(Boolean).join('; ') || 'ok']
  })
  writeReport({
    name: 'replication-remote',
    title: 'nodecat replication on remote nodes (--targets)',
    command: `pnpm bench:replication ${process.argv.slice(2).join(' ')}`.trim(),
    machine,
    notes: [
      REMOTE_NOTE,
      `Targets: ${describeTargets(targets)}. ${targets[0]!.route} writes, the others apply.`,
      `write: ${targets[0]!.route}'s bench app updates ${o.concurrency} sessions in parallel (fastify.inject, the real request path; each update = one delta of ~size bytes to every peer) for ${o.seconds} s; applied/s = deltas ÷ time from the start of the write call until the slowest peer's /_nodecat/status counted them all (polled every 50 ms). Median (min–max) of ${o.reps} interleaved repetitions.`,
      'lag: up to 50 isolated deltas per repetition, one at a time; each peer\'s own replication.lag.lastMs (its apply time − the writer\'s stamp time, wall clocks in ms: meaningful only with NTP-synced clocks). status RTT = one GET /_nodecat/status from this machine, for scale.',
      'Not available remotely: raw TCP and msgpackr baselines between the nodes (the bench has no agent there; run pnpm bench:baseline on a node for the codec figure) and signalling processes.'
    ],
    tables: [{ title: 'Replication on the targets', columns: ['delta', 'written/s (writer)', 'applied/s (slowest peer)', 'lag p50 ms', 'lag p99 ms', 'status RTT p50 ms', 'notes'], rows }],
    chart: { title: 'Deltas applied per second on the slowest peer', unit: 'deltas/s (median, whisker = min–max)', bars: o.sizes.map((size) => { const v = summarize(col(`write ${size}`, (s) => (s.kind === 'write' ? s.r.appliedPerSecond : NaN))); return { label: `~${size} B`, value: v.median, low: v.min, high: v.max, text: formatNumber(v.median) } }) },
    raw: { targets, ...o, outcomes }
  })
}

await runMain(main)
