/**
 * pnpm bench:start — how soon a starting nodecat-was node serves: from spawning the process to
 * its "node-started" log line (HTTP serving, sessions ready), against the floor of the same
 * machine, a Node process with a node:http server spawned to "listening", interleaved.
 *
 * Variants: a node whose static peers are all down (their ports refuse); a node joining one live
 * static peer (empty: the wait and the handshake, not a transfer, which bench:transfer measures);
 * with root, a node alone in a network namespace with multicast membership, and one joining a
 * multicast peer. Each start is a fresh process; log times are the nodes' own (pino's epoch ms).
 */
import { parseArgs } from 'node:util'
import { runMain } from './lib/cleanup.js'
import { machineInfo } from './lib/machine.js'
import { createProgress } from './lib/progress.js'
import { runInterleaved, column, Unavailable, type Variant } from './lib/interleave.js'
import { startChild, startWorker, type Child } from './lib/children.js'
import { freePorts } from './lib/ports.js'
import { summarize, formatSummary, pairedRatio, formatRatio } from './lib/stats.js'
import { writeReport, type ReportTable } from './lib/report.js'
import { startWasNode, wasAvailable, benchApp, wasCli } from './lib/was-cluster.js'
import { createNodeNetwork, type NodeNet } from './lib/netns.js'
import { isRoot } from './lib/tools.js'
import { randomBytes } from 'node:crypto'

const USAGE = `usage: pnpm bench:start [--long] [--reps N]
  --long     10 repetitions instead of 5
  --reps N   repetitions`

interface Sample { ms: number, waitedMs: number | null, ended: string | null }

const KEY = randomBytes(32).toString('base64')

async function floor (): Promise<Sample> {
  const spawnedAt = Date.now()
  const child = startWorker('http hello', 'http-backend.js', ['hello'])
  try {
    await child.waitFor((l) => l.event === 'listening', 30_000)
    return { ms: Date.now() - spawnedAt, waitedMs: null, ended: null }
  } finally { await child.stop() }
}

async function timeStart (n: { child: Child, spawnedAt: number }): Promise<Sample> {
  const known = await n.child.waitFor((l) => l.event === 'members-known', 60_000)
  const started = await n.child.waitFor((l) => l.event === 'node-started', 60_000)
  return { ms: (started.time as number) - n.spawnedAt, waitedMs: known.waitedMs as number, ended: known.ended as string }
}

async function staticAlone (): Promise<Sample> {
  const [http, rcv, down1, down2] = await freePorts(4)
  const n = startWasNode({ route: 'a', address: '127.0.0.1', httpPort: http!, receiver: `127.0.0.1:${rcv!}`, members: [`127.0.0.1:${rcv!}`, `127.0.0.1:${down1!}`, `127.0.0.1:${down2!}`], key: KEY, app: benchApp })
  try { return await timeStart(n) } finally { await n.child.stop() }
}

async function staticJoin (): Promise<Sample> {
  const [h1, r1, h2, r2] = await freePorts(4)
  const members = [`127.0.0.1:${r1!}`, `127.0.0.1:${r2!}`]
  const peer = startWasNode({ route: 'peer', address: '127.0.0.1', httpPort: h1!, receiver: members[0]!, members, key: KEY, app: benchApp })
  try {
    await peer.child.waitFor((l) => l.event === 'node-ready', 60_000)
    const n = startWasNode({ route: 'joiner', address: '127.0.0.1', httpPort: h2!, receiver: members[1]!, members, key: KEY, app: benchApp })
    try { return await timeStart(n) } finally { await n.child.stop() }
  } finally { await peer.child.stop() }
}

let net: NodeNet[] | null = null
function network (): NodeNet[] {
  net ??= createNodeNetwork(2, null)
  return net
}

/** a node with multicast membership (the default) in its namespace, bound to its address there */
function mcastNode (slot: NodeNet, route: string): { child: Child, spawnedAt: number } {
  const args = [wasCli, '--jvm-route', route, '--http', `${slot.address}:8080`, '--receiver', `${slot.address}:4000`, '--bind', slot.address,
    '--key', KEY, '--app', benchApp, '--log-level', 'info']
  const argv = [...slot.wrap, process.execPath, ...args]
  const spawnedAt = Date.now()
  return { child: startChild(`nodecat-was ${route}`, argv[0]!, argv.slice(1), { env: { ...process.env, NODE_OPTIONS: '' } }), spawnedAt }
}

const NOT_ROOT = 'needs root (network namespaces, so multicast stays off the host)'

async function mcastAlone (): Promise<Sample | Unavailable> {
  if (!isRoot()) return new Unavailable(NOT_ROOT)
  const [a] = network()
  const n = mcastNode(a!, 'a')
  try { return await timeStart(n) } finally { await n.child.stop() }
}

async function mcastJoin (): Promise<Sample | Unavailable> {
  if (!isRoot()) return new Unavailable(NOT_ROOT)
  const [a, b] = network()
  const peer = mcastNode(a!, 'peer')
  try {
    await peer.child.waitFor((l) => l.event === 'node-ready', 60_000)
    const n = mcastNode(b!, 'joiner')
    try { return await timeStart(n) } finally { await n.child.stop() }
  } finally { await peer.child.stop() }
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { long: { type: 'boolean' }, reps: { type: 'string' }, help: { type: 'boolean' } } })
  if (values.help) { console.log(USAGE); return }
  const missing = wasAvailable()
  if (missing !== null) throw new Error(missing)
  const reps = Number(values.reps ?? (values.long ? 10 : 5))
  const variants: Array<Variant<Sample>> = [
    { name: 'floor', run: floor },
    { name: 'static, peers down', run: staticAlone },
    { name: 'static, joining a peer', run: staticJoin },
    { name: 'multicast, alone', run: mcastAlone },
    { name: 'multicast, joining a peer', run: mcastJoin }
  ]
  const progress = createProgress('start', reps * variants.length)
  const outcomes = await runInterleaved(variants, reps, progress)
  progress.stop()
  const floorMs = column(outcomes.find((o) => o.name === 'floor')!, reps, (s) => s.ms)
  const ms = (v: number[]): string => formatSummary(summarize(v), (x) => `${Math.round(x)} ms`)
  const rows = outcomes.filter((o) => o.name !== 'floor').map((o) => {
    if (o.unavailable !== undefined) return [o.name, `not measured: ${o.unavailable}`, '', '', '', '']
    const v = column(o, reps, (s) => s.ms)
    const ended = [...new Set(o.samples.flatMap((s) => s === undefined ? [] : [s.ended]))].join(', ')
    return [o.name, ms(v), ms(column(o, reps, (s) => s.waitedMs ?? 0)), ended, ms(floorMs), formatRatio(pairedRatio(v, floorMs))]
  })
  const tables: ReportTable[] = [{
    title: 'Spawn → serving (node-started), median (min–max)',
    columns: ['start', 'spawn → serving', 'of which: waiting for members', 'why the wait ended', 'floor: node:http spawn → listening', 'serving ÷ floor'],
    rows
  }]
  writeReport({
    name: 'start',
    title: 'nodecat-was: spawn to serving',
    command: `pnpm bench:start${values.long ? ' --long' : ''}${values.reps ? ` --reps ${values.reps}` : ''}`,
    machine: machineInfo('host'),
    notes: [
      'spawn → serving: Date.now() before spawning nodecat-was (bench app, keyed cluster, default membership timing: heartbeat 500 ms, drop time 3 s) to the time of its own "node-started" log line, written once the sessions are ready and HTTP requests are served.',
      'waiting for members: the members-known line\'s waitedMs. Static: until every listed peer is a member or refuses. Multicast: until the nodes that answered settle (100 ms), or 300 ms when nobody answers (docs/READINESS.md).',
      'The floor: a Node process whose node:http server listens (bench/workers/http-backend.ts), spawned the same way, interleaved: what any Node service pays to start on this machine.',
      'Multicast runs inside two network namespaces on a bridge (root only). The joining variants start the peer first (not timed) with no sessions: bench:transfer measures taking sessions.'
    ],
    tables,
    raw: { reps, outcomes }
  })
}

void runMain(main)
