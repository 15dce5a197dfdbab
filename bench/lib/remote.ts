/**
 * Remote nodes (--targets): nodecat-was nodes someone already runs, e.g. on Raspberry Pis, with
 * the bench app (bench/app/bench-app.js). The bench only talks HTTP to them: their
 * /_nodecat/status and the bench app's /_bench/* routes. It cannot signal a remote process;
 * failover either runs the user's --kill-command or asks the user to act and press Enter.
 */
import { execFile } from 'node:child_process'
import { createInterface } from 'node:readline'
import { getJson, pollUntil } from './http-json.js'

export interface Target {
  /** base URL as given, without a trailing slash */
  url: string
  /** the node's jvmRoute, from its status */
  route: string
  host: string
}

export const REMOTE_NOTE = 'REMOTE NODES (--targets): the nodes were started by the user, not by the benchmark; their settings (replication mode, membership, key, hardware) are whatever they run with. This machine runs only the load (and, for failover, nodecat\'s balancer).'

export async function parseTargets (text: string): Promise<Target[]> {
  const urls = text.split(',').map((s) => s.trim().replace(/\/+$/, '')).filter(Boolean)
  if (urls.length < 2) throw new Error('--targets needs at least two node URLs, comma-separated (http://host:port,...)')
  const targets: Target[] = []
  for (const url of urls) {
    let u: URL
    try { u = new URL(url) } catch { throw new Error(`--targets: ${JSON.stringify(url)} is not a URL`) }
    if (u.protocol !== 'http:') throw new Error(`--targets: ${url}: only http:// node addresses are supported`)
    const status = await getJson(`${url}/_nodecat/status`, 5000).catch((err: Error) => { throw new Error(`--targets: ${url} does not answer /_nodecat/status (is nodecat-was running there?): ${err.message}`) })
    targets.push({ url, route: String(status.jvmRoute), host: u.hostname })
  }
  const routes = new Set(targets.map((t) => t.route))
  if (routes.size !== targets.length) throw new Error(`--targets: every node needs its own --jvm-route (got ${targets.map((t) => t.route).join(', ')})`)
  return targets
}

export function describeTargets (targets: Target[]): string {
  return targets.map((t) => `${t.route} at ${t.url}`).join(', ')
}

/** Check that every target runs the bench app (GET /_bench/memory answers). */
export async function requireBenchApp (targets: Target[]): Promise<void> {
  for (const t of targets) {
    await getJson(`${t.url}/_bench/memory`, 5000).catch((err: Error) => { throw new Error(`${t.url} does not run the bench app (start nodecat-was with --app bench/app/bench-app.js): ${err.message}`) })
  }
}

/** Until every target answers, is ready and sees all the others (bounded: 10 minutes). */
export async function waitForTargets (targets: Target[], say: (s: string) => void): Promise<void> {
  let told = false
  await pollUntil('every target to answer and see the others', async () => {
    const docs = await Promise.all(targets.map(async (t) => await getJson(`${t.url}/_nodecat/status`, 3000).catch(() => null)))
    const ok = docs.every((d) => d !== null && d.ready === true && new Set((d.members as Array<{ route: string }>).map((m) => m.route)).size >= targets.length - 1)
    if (!ok && !told) { told = true; say(`waiting for every target to be up and see the others (${describeTargets(targets)})…`) }
    return ok ? true : undefined
  }, 600_000, 500)
}

function run (command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('/bin/sh', ['-c', command], { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (err) reject(new Error(`kill command failed (${command}): ${err.message}; ${stderr.slice(-300)}`))
      else resolve()
    })
  })
}

async function prompt (text: string): Promise<void> {
  if (!process.stdin.isTTY) throw new Error('no --kill-command and no terminal to ask you: give --kill-command')
  const rl = createInterface({ input: process.stdin, output: process.stdout })
  await new Promise<void>((resolve) => rl.question(`\n>>> ${text} `, () => resolve()))
  rl.close()
}

export type VictimSignal = 'kill' | 'stop' | 'term'
const NAMES: Record<VictimSignal | 'cont', string> = { kill: 'KILL', stop: 'STOP', term: 'TERM', cont: 'CONT' }

/**
 * How the failover benchmark reaches a remote victim. With a command: {signal}, {route}, {host},
 * {url} and {pid} (the node's process id, from the bench app) are filled in and it runs under
 * /bin/sh. The signal time is taken just before the command starts.
 */
export function victimAction (targets: Target[], command: string | undefined, say: (s: string) => void): { signal (route: string, sig: VictimSignal): Promise<number>, resume (route: string): Promise<void> } {
  // why: a stopped node cannot tell its pid; resuming it uses the one it told before the STOP
  const pids = new Map<string, string>()
  const fill = async (route: string, sig: VictimSignal | 'cont'): Promise<string> => {
    const t = targets.find((x) => x.route === route)!
    let pid = ''
    if (command!.includes('{pid}')) {
      pid = sig === 'cont' && pids.has(route) ? pids.get(route)! : String((await getJson(`${t.url}/_bench/memory`, 3000)).pid)
      pids.set(route, pid)
    }
    return command!.replaceAll('{signal}', NAMES[sig]).replaceAll('{route}', t.route).replaceAll('{host}', t.host).replaceAll('{url}', t.url).replaceAll('{pid}', pid)
  }
  return {
    async signal (route, sig) {
      if (command) {
        const cmd = await fill(route, sig)
        say(`running: ${cmd}`)
        const t = performance.now()
        await run(cmd)
        return t
      }
      const t = targets.find((x) => x.route === route)!
      await prompt(`Now give ${t.route} (${t.url}) a ${NAMES[sig]} (${sig === 'kill' ? 'pull its power or network cable, or kill -KILL it' : sig === 'stop' ? 'kill -STOP its nodecat-was process' : 'systemctl stop it, or kill -TERM it'}) and press Enter at that moment:`)
      return performance.now()
    },
    async resume (route) {
      if (command) { await run(await fill(route, 'cont')); return }
      const t = targets.find((x) => x.route === route)!
      await prompt(`Resume ${t.route} (kill -CONT its nodecat-was process) and press Enter:`)
    }
  }
}
