/**
 * `pnpm demo`: a balancer and N nodes with the example shop on 127.0.0.1, one merged log, and
 * keys to kill, stop and restart nodes, so a person can watch a session survive a crash.
 */
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'
import { existsSync } from 'node:fs'
import { parseArgs, USAGE, UsageError, type DemoArgs } from './args.js'
import { pickPort } from './ports.js'
import { LogView } from './log-view.js'
import { Child } from './child.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const HOST = '127.0.0.1'

interface Plan {
  nodes: Array<{ route: string, http: number, receiver: number }>
  balancer: number
  admin: number
}

async function plan (args: DemoArgs): Promise<Plan> {
  const taken = new Set<number>()
  const balancer = await pickPort(args.port, taken)
  const nodes = []
  for (let i = 1; i <= args.nodes; i++) {
    nodes.push({ route: `tomcat${i}`, http: await pickPort(balancer + i, taken), receiver: await pickPort(args.receiverPort + i - 1, taken) })
  }
  const admin = await pickPort(balancer + 10, taken)
  return { nodes, balancer, admin }
}

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
  const p = await plan(args)
  const names = [...p.nodes.map((n) => n.route), 'balancer']
  const view = new LogView({ tty: Boolean(process.stdout.isTTY), json: args.json, names })
  const wasCli = built('was-node')
  const lbCli = built('balancer')

  const nodes = p.nodes.map((n, i) => new Child(n.route, [
    wasCli, '--jvm-route', n.route, '--http', `${HOST}:${n.http}`, '--receiver', `${HOST}:${n.receiver}`, '--auto-bind', '1',
    '--static', p.nodes.filter((o) => o !== n).map((o) => `${HOST}:${o.receiver}`).join(',') || `${HOST}:${n.receiver}`,
    '--app', app, '--channel-send-options', args.sync ? 'sync' : 'async', '--frequency', '500', '--drop-time', '3000'
  ], view.colour(i), view))
  const balancer = new Child('balancer', [
    lbCli, '--listen', `${HOST}:${p.balancer}`, '--admin', `${HOST}:${p.admin}`,
    ...p.nodes.flatMap((n) => ['--worker', `${n.route}=http://${HOST}:${n.http}`])
  ], view.colour(names.length - 1), view)
  const all = [...nodes, balancer]

  let stopping = false
  const stopAll = async (code: number) => {
    if (stopping) return
    stopping = true
    view.say('stopping every process of the demo…')
    await Promise.all(all.map((c) => c.stop()))
    view.say('all stopped.')
    process.exit(code)
  }
  process.on('SIGINT', () => { void stopAll(0) })
  process.on('SIGTERM', () => { void stopAll(0) })

  view.say(`starting ${args.nodes} node(s) and the balancer on ${HOST} (${args.sync ? 'sync' : 'async'} replication)…`)
  // one after the other: each new node takes the sessions from the ones already running
  for (const node of nodes) {
    node.start()
    await node.waitFor((r) => r.event === 'node-started')
    if (stopping) return
  }
  balancer.start()
  await balancer.waitFor((r) => typeof r.msg === 'string' && /listening|started/i.test(r.msg))
  if (stopping) return

  const url = `http://${HOST}:${p.balancer}/`
  view.say('')
  view.say(`  ▶ Open ${url} in a browser: log in, add things to the cart.`)
  view.say(`    Balancer status: http://${HOST}:${p.admin}/   Node status: ${p.nodes.map((n) => `http://${HOST}:${n.http}/_nodecat/status`).join('  ')}`)
  view.say(`    Keys: 1..${args.nodes} kill that node (SIGKILL) · t<N> stop it cleanly · r restart nodes that are down · s status · q quit`)
  view.say('    Kill the node named on the page, reload: you are still logged in, the cart is intact, and the cookie now names another node.')
  view.say('')

  const status = async () => {
    for (const [i, n] of p.nodes.entries()) {
      if (!nodes[i]!.up) { view.say(`${n.route}: down`); continue }
      try {
        const s = await (await fetch(`http://${HOST}:${n.http}/_nodecat/status`, { signal: AbortSignal.timeout(2000) })).json() as any
        const members = (s.members ?? []).map((m: any) => m.route ?? m.id).join(', ')
        view.say(`${n.route}: up, ${s.sessions?.count ?? s.sessions ?? '?'} session(s), members: ${members || 'none'}`)
      } catch (err) { view.say(`${n.route}: no answer (${(err as Error).message})`) }
    }
    try {
      const s = await (await fetch(`http://${HOST}:${p.admin}/status`, { signal: AbortSignal.timeout(2000) })).json() as any
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
