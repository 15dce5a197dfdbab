/**
 * `pnpm demo`: a balancer and N nodes with the example shop, reached on 127.0.0.1, one merged log,
 * and keys to kill, stop and restart nodes, so a person can watch a session survive a crash.
 * Where the processes run (127.0.0.1, or namespaces with real multicast) is the topology's job.
 */
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { existsSync } from 'node:fs'
import { parseArgs, USAGE, UsageError, type DemoArgs } from './args.js'
import { LogView } from './log-view.js'
import { Child } from './child.js'
import { labNetUnavailable } from '@nodecat/testkit'
import { localTopology, multicastTopology, type ProcessPlan, type Topology } from './topology.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

function built (pkg: string): string {
  const file = path.join(root, 'packages', pkg, 'dist', 'cli.js')
  if (!existsSync(file)) throw new UsageError(`${file} is missing: run "pnpm build" first (pnpm demo does)`)
  return file
}

async function main (): Promise<void> {
  let args: DemoArgs
  try { args = parseArgs(process.argv.slice(2)) } catch (err) {
    process.stderr.write(`demo: ${(err as Error).message}\n`); process.exit(2)
  }
  if (args.help) { process.stdout.write(USAGE + '\n'); return }
  const app = path.resolve(root, args.app)
  if (!existsSync(app)) { process.stderr.write(`demo: --app ${args.app}: no such file\n`); process.exit(2) }
  if (args.multicast) {
    const why = labNetUnavailable()
    if (why) { process.stderr.write(`demo: --multicast ${why} (as root: sudo npx -y pnpm@10.34.9 demo -- --multicast). Without --multicast the demo runs on 127.0.0.1 with static membership.\n`); process.exit(2) }
  }
  const bin = { was: built('was-node'), balancer: built('balancer'), tribes: built('tribes'), forwarder: path.join(root, 'demo', 'dist', 'forwarder.js'), app }
  const topo: Topology = await (args.multicast ? multicastTopology : localTopology)(args, bin)
  const names = [...topo.nodes.map((n) => n.name), 'balancer', ...topo.helpers.map((h) => h.name)]
  const view = new LogView({ tty: Boolean(process.stdout.isTTY), json: args.json, names })
  const child = (plan: ProcessPlan, i: number): Child => new Child(plan.name, plan.args, view.colour(i), view, { prefix: plan.prefix, stdin: plan.stdin })
  const nodes = topo.nodes.map(child)
  const balancer = child(topo.balancer, topo.nodes.length)
  const helpers = topo.helpers.map((h, i) => child(h, topo.nodes.length + 1 + i))
  const all = [...nodes, balancer, ...helpers]

  let stopping = false
  const stopAll = async (code: number) => {
    if (stopping) return
    stopping = true
    view.say('stopping every process of the demo…')
    await Promise.all(all.map((c) => c.stop()))
    await topo.close()
    view.say('all stopped.')
    process.exit(code)
  }
  process.on('SIGINT', () => { void stopAll(0) })
  process.on('SIGTERM', () => { void stopAll(0) })

  view.say(`starting ${args.nodes} node(s) and the balancer (${args.sync ? 'sync' : 'async'} replication)…`)
  for (const note of topo.notes) view.say(`  ${note}`)
  const started = async (c: Child, what: string, match: (r: Record<string, unknown>) => boolean): Promise<void> => {
    const seen = c.waitFor(match)
    c.start()
    await seen
    if (!stopping && !c.up) throw new Error(`${c.name} ended before ${what} (its log is above)`)
  }
  try {
    for (const h of helpers) await started(h, 'it was ready', (r) => r.msg === 'forwarder ready')
    await topo.connect()
    // one after the other: each new node takes the sessions from the ones already running
    for (const node of nodes) {
      await started(node, 'it started', (r) => r.event === 'node-started')
      if (stopping) return
    }
    // with --multicast the balancer has no list of workers: it is ready once it has discovered every node
    const discovered = args.multicast ? Promise.all(topo.nodes.map((n) => balancer.waitFor((r) => r.msg === 'worker added' && r.route === n.name))) : null
    await started(balancer, 'it listened', (r) => typeof r.msg === 'string' && /listening|started/i.test(r.msg))
    await discovered
    if (stopping) return
  } catch (err) {
    view.say(`the demo could not start: ${(err as Error).message}`)
    await stopAll(1)
    return
  }

  view.say('')
  view.say(`  ▶ Open ${topo.url} in a browser: log in, add things to the cart.`)
  view.say(`    Balancer status: ${topo.adminUrl}   Node status: ${topo.nodes.map((n) => n.statusUrl).join('  ')}`)
  view.say(`    Keys: 1..${args.nodes} kill that node (SIGKILL) · t<N> stop it cleanly · r restart nodes that are down · s status · q quit`)
  view.say('    Kill the node named on the page, reload: you are still logged in, the cart is intact, and the cookie now names another node.')
  view.say('')

  const status = async () => {
    for (const [i, n] of topo.nodes.entries()) {
      if (!nodes[i]!.up) { view.say(`${n.name}: down`); continue }
      try {
        const s = await (await fetch(n.statusUrl, { signal: AbortSignal.timeout(2000) })).json() as any
        const members = (s.members ?? []).map((m: any) => m.route ?? (m.role === 'balancer' ? `balancer (${m.host})` : m.id)).join(', ')
        view.say(`${n.name}: up, ${s.sessions?.count ?? s.sessions ?? '?'} session(s), members: ${members || 'none'}`)
      } catch (err) { view.say(`${n.name}: no answer (${(err as Error).message})`) }
    }
    try {
      const s = await (await fetch(new URL('status', topo.adminUrl), { signal: AbortSignal.timeout(2000) })).json() as any
      view.say(`balancer: ${(s.workers ?? []).map((w: any) => `${w.route}=${w.state}/${w.activation}`).join('  ')}`)
    } catch (err) { view.say(`balancer: no answer (${(err as Error).message})`) }
  }

  const command = (cmd: string) => {
    const c = cmd.trim().toLowerCase()
    const kill = /^(?:kill\s*)?(\d)$/.exec(c)
    const term = /^(?:t|stop\s*)(\d)$/.exec(c)
    if (kill || term) {
      const n = Number((kill ?? term)![1])
      const node = nodes[n - 1]
      if (!node) { view.say(`no node ${n}`); return }
      const sig = kill ? 'SIGKILL' : 'SIGTERM'
      view.say(node.signal(sig) ? `${sig} → ${node.name} (pid ${node.pid})` : `${node.name} is already down`)
    } else if (c === 'r' || c === 'restart') {
      const down = nodes.filter((n) => !n.up)
      if (down.length === 0) view.say('every node is up')
      for (const n of down) { view.say(`restarting ${n.name}`); n.start() }
    } else if (c === 's' || c === 'status') {
      void status()
    } else if (c === 'q' || c === 'quit' || c === '\u0003') {
      void stopAll(0)
    } else if (c !== '') {
      view.say(`unknown key ${JSON.stringify(cmd)}: 1..9, t<N>, r, s, q`)
    }
  }

  if (process.stdin.isTTY) {
    readline.emitKeypressEvents(process.stdin)
    process.stdin.setRawMode(true)
    let pending = ''
    process.stdin.on('keypress', (str: string | undefined, key: { ctrl?: boolean, name?: string }) => {
      if (key?.ctrl && key.name === 'c') { void stopAll(0); return }
      if (!str) return
      if (str === 't') { pending = 't'; return }
      command(pending + str)
      pending = ''
    })
  } else {
    readline.createInterface({ input: process.stdin }).on('line', command)
  }
}

main().catch((err) => {
  process.stderr.write(`demo: ${err instanceof UsageError ? err.message : (err as Error).stack}\n`)
  process.exit(err instanceof UsageError ? 2 : 1)
})
