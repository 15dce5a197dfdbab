/**
 * nodecat's own balancer, started from its built CLI (packages/balancer/dist/cli.js) with a
 * static worker list, so it is measured exactly as a user runs it. While that CLI is not built
 * (or does not start), the variant is reported as "not available" instead of failing the run.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startChild } from './children.js'
import { httpGet, waitForListener } from './http-get.js'
import { Unavailable, oneLine } from './interleave.js'
import type { Backend, ProxyTarget } from './proxy-target.js'

const balancerDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'balancer')
export const balancerCli = path.join(balancerDir, 'dist', 'cli.js')

/**
 * The CLI arguments for a static worker list on 127.0.0.1. `healthIntervalMs` 0 turns the active
 * checks off (the balancer benchmark's plain backends have no status page, and HAProxy/nginx
 * there run without checks too).
 */
export function nodecatBalancerArgs (port: number, adminPort: number, backends: Backend[], healthIntervalMs: number, processes = 1): string[] {
  return [
    ...(processes > 1 ? ['--workers', String(processes)] : []),
    '--listen', `127.0.0.1:${port}`,
    '--admin', `127.0.0.1:${adminPort}`,
    '--health-interval', String(healthIntervalMs),
    '--log-level', 'warn',
    ...backends.flatMap((b) => ['--worker', `${b.route}=${b.url ?? `http://127.0.0.1:${b.port}`}`])
  ]
}

/**
 * `processes` > 1: `--workers <processes>`; the serving processes' PIDs (from the admin /status)
 * are charged to the proxy with the primary's.
 */
export async function startNodecatBalancer (port: number, adminPort: number, backends: Backend[], healthIntervalMs = 0, processes = 1): Promise<ProxyTarget | Unavailable> {
  if (!existsSync(balancerCli)) return new Unavailable('packages/balancer/dist/cli.js is not built yet (run pnpm build once the balancer CLI exists)')
  const args = nodecatBalancerArgs(port, adminPort, backends, healthIntervalMs, processes)
  // why: logging at warn keeps the proxy's own logging out of the measurement
  const child = startChild('nodecat-balancer', process.execPath, [balancerCli, ...args], { env: { ...process.env, NODE_OPTIONS: '' } })
  try {
    await waitForListener(child.exited, '127.0.0.1', port)
  } catch (err) {
    await child.stop()
    return new Unavailable(`nodecat balancer did not start with "${args.join(' ')}": ${(err as Error).message}; ${oneLine(child.stderr().slice(-400))}`)
  }
  let version = 'nodecat balancer'
  try { version += ` ${JSON.parse(readFileSync(path.join(balancerDir, 'package.json'), 'utf8')).version}` } catch {}
  if (processes === 1) return { name: 'nodecat balancer', url: `http://127.0.0.1:${port}/`, pids: [child.pid], version }
  let serving: number[] = []
  // why poll: the port opens with the first serving process; all of them are up once /status lists their PIDs
  for (const until = Date.now() + 60_000; Date.now() < until; await new Promise((resolve) => setTimeout(resolve, 200))) {
    try {
      const s = JSON.parse((await httpGet(`http://127.0.0.1:${adminPort}/status`)).body) as { balancer: { processes?: Array<{ pid: number | null, answered: boolean }> } }
      const list = s.balancer.processes ?? []
      if (list.length === processes && list.every((x) => x.pid !== null && x.answered)) { serving = list.map((x) => x.pid!); break }
    } catch {}
  }
  if (serving.length === 0) {
    await child.stop()
    return new Unavailable(`nodecat balancer --workers ${processes}: the serving processes did not all start within 60 s; ${oneLine(child.stderr().slice(-400))}`)
  }
  return { name: `nodecat balancer --workers ${processes}`, url: `http://127.0.0.1:${port}/`, pids: [child.pid, ...serving], version: `${version} (--workers ${processes}: a primary and ${processes} serving processes)` }
}
