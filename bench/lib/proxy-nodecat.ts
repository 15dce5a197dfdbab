/**
 * nodecat's own balancer, started from its built CLI (packages/balancer/dist/cli.js) with a
 * static worker list, so it is measured exactly as a user runs it. While that CLI is not built
 * (or does not start), the variant is reported as "not available" instead of failing the run.
 */
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { startChild } from './children.js'
import { waitForListener } from './http-get.js'
import { Unavailable, oneLine } from './interleave.js'
import type { Backend, ProxyTarget } from './proxy-target.js'

const balancerDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'packages', 'balancer')
export const balancerCli = path.join(balancerDir, 'dist', 'cli.js')

/**
 * The CLI arguments for a static worker list on 127.0.0.1. `healthIntervalMs` 0 turns the active
 * checks off (the balancer benchmark's plain backends have no status page, and HAProxy/nginx
 * there run without checks too).
 */
export function nodecatBalancerArgs (port: number, adminPort: number, backends: Backend[], healthIntervalMs: number): string[] {
  return [
    '--listen', `127.0.0.1:${port}`,
    '--admin', `127.0.0.1:${adminPort}`,
    '--health-interval', String(healthIntervalMs),
    '--log-level', 'warn',
    ...backends.flatMap((b) => ['--worker', `${b.route}=${b.url ?? `http://127.0.0.1:${b.port}`}`])
  ]
}

export async function startNodecatBalancer (port: number, adminPort: number, backends: Backend[], healthIntervalMs = 0): Promise<ProxyTarget | Unavailable> {
  if (!existsSync(balancerCli)) return new Unavailable('packages/balancer/dist/cli.js is not built yet (run pnpm build once the balancer CLI exists)')
  const args = nodecatBalancerArgs(port, adminPort, backends, healthIntervalMs)
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
  return { name: 'nodecat balancer', url: `http://127.0.0.1:${port}/`, pids: [child.pid], version }
}
