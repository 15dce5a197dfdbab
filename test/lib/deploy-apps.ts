/**
 * For the cluster deploy tests: app versions written to a temp directory (removed at teardown),
 * a session user that counts through the balancer, and `nodecat-was deploy` runs.
 *   const apps = writeApps(t)            // apps.dir('v1'), 'v2', 'v3' (throws at register), 'v4' (throws on n2)
 *   const r = await runDeploy(t, [apps.dir('v2'), '--to', node.url.slice(7), '--key-file', key])
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startNode, type TestProcess } from './proc.js'

type Teardown = { teardown: (fn: () => Promise<void> | void) => void }

/**
 * a fastify plugin answering POST /count with its version and the session's counter, incremented
 * (a POST: the balancer hedges and retries idempotent methods, and a GET that counts would count twice)
 */
function counterApp (version: string): string {
  return `export default async function app (fastify, options) {
  fastify.post('/count', async (request) => {
    const n = (request.session.get('n') ?? 0) + 1
    request.session.set('n', n)
    return { version: '${version}', route: options.jvmRoute, n }
  })
}
`
}

export interface DeployApps { root: string, dir (version: string): string, deployDir (route: string): string }

/** v1 and v2 (counter apps that say their version), v3, whose plugin throws at register, v4, which throws on n2 only, and v5, a connect handler */
export function writeApps (t: Teardown): DeployApps {
  const root = mkdtempSync(path.join(tmpdir(), 'nodecat-deploy-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const write = (version: string, app: string): void => {
    const dir = path.join(root, 'apps', version)
    mkdirSync(path.join(dir, 'lib'), { recursive: true })
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', main: 'lib/app.js' }))
    writeFileSync(path.join(dir, 'lib', 'app.js'), app)
  }
  write('v1', counterApp('v1'))
  write('v2', counterApp('v2'))
  write('v3', 'export default async function app () { throw new Error(\'v3 refuses to register\') }\n')
  write('v5', `export default function app (req, res, next) {
  if (req.method !== 'POST' || req.url !== '/count') { next(); return }
  const n = (req.session.get('n') ?? 0) + 1
  req.session.set('n', n)
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ version: 'v5', route: null, n }))
}
`)
  write('v4', counterApp('v4').replace('{\n', '{\n  if (options.jvmRoute === \'n2\') throw new Error(\'v4 does not start on n2\')\n'))
  return { root, dir: (v) => path.join(root, 'apps', v), deployDir: (route) => path.join(root, 'deploy', route) }
}

export interface DeployRun { code: number | null, stdout: string, stderr: string, json: any }

/** Run `nodecat-was deploy <args>` to its end (stopped by PID at teardown if it hangs). */
export async function runDeploy (t: Teardown, args: string[], env: NodeJS.ProcessEnv = {}): Promise<DeployRun> {
  const proc: TestProcess = startNode(t as any, 'was-node', 'cli.js', ['deploy', ...args], { env: { NODECAT_KEY_FILE: '', NODECAT_KEY: '', ...env } })
  const exit = await proc.exited
  const stdout = proc.lines.map((l) => l.msg !== undefined && Object.keys(l).length === 1 ? l.msg : JSON.stringify(l)).join('\n')
  let json: any = null
  if (args.includes('--json')) { try { json = JSON.parse(stdout) } catch { json = null } }
  return { code: exit.code, stdout, stderr: proc.stderr(), json }
}

export interface CountAnswer { status: number, version: string | null, route: string | null, n: number | null, startedAt: number, error?: string }

/** One session user: a cookie jar and the answers it got, in order. */
export class CountingUser {
  readonly #base: string
  cookie: string | null = null
  readonly answers: CountAnswer[] = []
  last = 0
  /** answers whose counter did not continue from the one before (a lost or a stale session) */
  readonly breaks: string[] = []

  constructor (base: string) { this.#base = base }

  async once (): Promise<CountAnswer> {
    const startedAt = Date.now()
    let answer: CountAnswer
    try {
      const res = await fetch(this.#base + '/count', { method: 'POST', headers: this.cookie === null ? {} : { cookie: this.cookie }, signal: AbortSignal.timeout(15_000) })
      const set = res.headers.get('set-cookie')
      if (set !== null) this.cookie = set.split(';')[0]!
      const text = await res.text()
      let body: any = null
      try { body = JSON.parse(text) } catch {}
      answer = { status: res.status, version: body?.version ?? null, route: body?.route ?? null, n: typeof body?.n === 'number' ? body.n : null, startedAt, ...(res.status === 200 ? {} : { error: text.slice(0, 300) }) }
    } catch (err) {
      answer = { status: 0, version: null, route: null, n: null, startedAt, error: (err as Error).message }
    }
    this.answers.push(answer)
    if (answer.status === 200) {
      if (answer.n !== this.last + 1) this.breaks.push(`n ${answer.n} after ${this.last} (from ${answer.route}, ${answer.version})`)
      this.last = answer.n ?? this.last
    }
    return answer
  }
}

/**
 * Users asking in a loop until stop() (bounded: at most maxRequests each and until deadline);
 * each waits pauseMs between requests.
 */
export function startLoad (users: CountingUser[], { maxRequests = 4000, deadlineMs = 150_000, pauseMs = 20 } = {}): { stop: () => Promise<void> } {
  let stopped = false
  const until = Date.now() + deadlineMs
  const loops = users.map(async (u) => {
    for (let i = 0; i < maxRequests && !stopped && Date.now() < until; i++) {
      await u.once()
      await new Promise((resolve) => setTimeout(resolve, pauseMs))
    }
  })
  return { stop: async () => { stopped = true; await Promise.all(loops) } }
}
