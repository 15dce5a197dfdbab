/**
 * nodecat-was deploy: send an app to every member of a cluster and switch them one at a time.
 *   nodecat-was deploy <app dir | app.tgz> --to host:port [--key-file f] [--label text]
 *   nodecat-was deploy --status   --to host:port [--key-file f] [--json]
 *   nodecat-was deploy --rollback --to host:port [--key-file f]
 * --to is any member's HTTP address (its /_nodecat/deploy pages); that member stores the bundle,
 * sends it to the others over the cluster channel and leads the rollout. --config node.json
 * takes --to (its http) and the key from a node's config file; NODECAT_KEY_FILE / NODECAT_KEY
 * work too. Without a cluster key the command refuses (WAS_ERR_DEPLOY_NO_KEY): a bundle is code.
 * Exit codes: 0 done; 1 the rollout failed (the member and its error are printed) or the member
 * could not be reached; 2 bad usage or no key.
 */
import http from 'node:http'
import path from 'node:path'
import { lstatSync, readdirSync, readFileSync } from 'node:fs'
import { parseKey, readKeyFile } from '@nodecat/tribes'
import { UsageError } from '../service/sources.js'
import { signRequest } from './auth.js'
import { deployErrors } from './errors.js'
import { DEPLOY_PATH } from './routes.js'
import { writeTarball, type BundleFile } from './tar.js'

export const DEPLOY_HELP = `Usage:
  nodecat-was deploy <app dir | app.tgz> --to host:port [--key-file file] [--label text]
  nodecat-was deploy --status   --to host:port [--key-file file] [--json]
  nodecat-was deploy --rollback --to host:port [--key-file file]

Sends the app to every member of the cluster over the cluster channel and switches the members
one at a time (each drains its requests and serves again before the next). A version that fails
to load on a member stops the rollout there; every member keeps serving the previous version.
  --to host:port     any member's HTTP address (it leads the rollout)
  --key-file file    the cluster key file (or --key, NODECAT_KEY_FILE, NODECAT_KEY); required
  --config file      a node's JSON config: --to and the key are taken from it
  --label text       a human label for the version (default: the bundle's name and the time)
  --status           which member runs which version
  --rollback         back to the version before the current one (one member at a time)
  --timeout s        how long to wait for the rollout (default 900)
  --json             print the member's JSON answer
`

interface DeployArgs { bundle: string | null, to: string | null, key: string | null, keyFile: string | null, config: string | null, label: string | null, status: boolean, rollback: boolean, json: boolean, timeout: number, help: boolean }

export function parseDeployArgs (argv: readonly string[], env: NodeJS.ProcessEnv): DeployArgs {
  const a: DeployArgs = { bundle: null, to: null, key: null, keyFile: null, config: null, label: null, status: false, rollback: false, json: false, timeout: 900, help: false }
  const valued = new Set(['to', 'key', 'key-file', 'config', 'label', 'timeout'])
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--help' || arg === '-h') { a.help = true; continue }
    if (!arg.startsWith('--')) {
      if (a.bundle !== null) throw new UsageError(`one bundle at a time (got ${JSON.stringify(a.bundle)} and ${JSON.stringify(arg)})`)
      a.bundle = arg; continue
    }
    const eq = arg.indexOf('=')
    const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
    if (name === 'status' || name === 'rollback' || name === 'json') { a[name] = true; continue }
    if (!valued.has(name)) throw new UsageError(`unknown deploy option --${name} (see nodecat-was deploy --help)`)
    const value = eq < 0 ? argv[++i] : arg.slice(eq + 1)
    if (value === undefined || value === '') throw new UsageError(`--${name} needs a value`)
    if (name === 'timeout') {
      if (!/^\d{1,6}$/.test(value) || Number(value) < 1) throw new UsageError(`--timeout must be a number of seconds, got ${JSON.stringify(value)}`)
      a.timeout = Number(value); continue
    }
    if (name === 'key-file') a.keyFile = value
    else if (name === 'to' || name === 'key' || name === 'config' || name === 'label') a[name] = value
  }
  if (a.help) return a
  if (a.config !== null) {
    let cfg: { http?: { address?: string, port?: number }, key?: string, keyFile?: string }
    try { cfg = JSON.parse(readFileSync(a.config, 'utf8')) } catch (err) { throw new UsageError(`--config ${a.config} cannot be read as JSON: ${(err as Error).message}`) }
    if (a.to === null && cfg.http?.port !== undefined) a.to = `${cfg.http.address ?? '127.0.0.1'}:${cfg.http.port}`
    if (a.key === null && a.keyFile === null) { a.key = cfg.key ?? null; a.keyFile = cfg.keyFile ?? null }
  }
  if (a.key === null && a.keyFile === null) { a.keyFile = env.NODECAT_KEY_FILE || null; a.key = a.keyFile === null ? env.NODECAT_KEY || null : null }
  const modes = Number(a.status) + Number(a.rollback) + Number(a.bundle !== null)
  if (modes !== 1) throw new UsageError('give one of: a bundle (app dir or .tgz), --status, --rollback')
  if (a.to === null) throw new UsageError('--to host:port (a member\'s HTTP address) is required')
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(a.to)) throw new UsageError(`--to must be host:port, got ${JSON.stringify(a.to)}`)
  return a
}

/** Every regular file under dir, as bundle files; a symbolic link or a special file is refused. */
export function readAppDir (dir: string, maxBytes: number): BundleFile[] {
  const files: BundleFile[] = []
  let total = 0
  const walk = (rel: string): void => {
    for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`
      const st = lstatSync(path.join(dir, relPath))
      if (st.isSymbolicLink()) throw deployErrors.badBundle(`${relPath} is a symbolic link: bundles may hold only files and directories`)
      if (st.isDirectory()) { walk(relPath); continue }
      if (!st.isFile()) throw deployErrors.badBundle(`${relPath} is not a regular file`)
      total += st.size
      if (total > 8 * maxBytes) throw deployErrors.tooLarge('app directory', 8 * maxBytes)
      files.push({ path: relPath, data: readFileSync(path.join(dir, relPath)), mode: st.mode & 0o755 })
    }
  }
  walk('')
  return files
}

function request (to: string, method: string, url: string, key: Buffer, body: Buffer, timeoutMs: number): Promise<{ status: number, json: any }> {
  const [, host, port] = /^\[?(.*?)\]?:(\d+)$/.exec(to)!
  return new Promise((resolve, reject) => {
    const req = http.request({
      host,
      port: Number(port),
      method,
      path: url,
      headers: { ...signRequest(key, method, url, body), 'content-type': 'application/octet-stream', 'content-length': String(body.length) }
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        try { resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }) } catch { resolve({ status: res.statusCode ?? 0, json: { ok: false, error: text.slice(0, 500) } }) }
      })
      res.on('error', reject)
    })
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${to} within ${timeoutMs / 1000} s`)))
    req.on('error', reject)
    req.end(body)
  })
}

const MAX_UPLOAD = 30 * 1024 * 1024

function printReport (out: (s: string) => void, r: any): void {
  for (const s of r.steps ?? []) out(`  ${String(s.route).padEnd(16)} ${s.from || '?'} -> ${s.to}  ${s.ok ? 'ok' : 'FAILED'} (${s.ms} ms)${s.ok ? '' : ': ' + (s.error ?? '')}\n`)
}

/** Run the deploy command; resolves with the exit code. */
export async function deployMain (argv: readonly string[], env: NodeJS.ProcessEnv, out = (s: string) => { process.stdout.write(s) }, err = (s: string) => { process.stderr.write(s) }): Promise<number> {
  let a: DeployArgs
  let key: Buffer
  try {
    a = parseDeployArgs(argv, env)
    if (a.help) { out(DEPLOY_HELP); return 0 }
    if (a.key === null && a.keyFile === null) throw deployErrors.noKey('nodecat-was deploy')
    key = a.key !== null ? parseKey(a.key, '--key') : readKeyFile(a.keyFile!, '--key-file')
  } catch (e) {
    const code = (e as { code?: string }).code
    err(`nodecat-was deploy: ${code !== undefined && code !== 'WAS_ERR_INVALID_OPTION' ? code + ': ' : ''}${(e as Error).message}\n(run nodecat-was deploy --help for the options)\n`)
    return 2
  }
  try {
    let method = 'GET'
    let url = DEPLOY_PATH
    let body: Buffer = Buffer.alloc(0)
    if (a.rollback) { method = 'POST'; url = `${DEPLOY_PATH}/rollback` }
    if (a.bundle !== null) {
      const st = lstatSync(a.bundle)
      body = st.isDirectory() ? writeTarball(readAppDir(a.bundle, MAX_UPLOAD)) : readFileSync(a.bundle)
      if (body.length > MAX_UPLOAD) throw deployErrors.tooLarge('bundle', MAX_UPLOAD)
      const label = a.label ?? `${path.basename(path.resolve(a.bundle))} ${new Date().toISOString()}`
      method = 'POST'
      url = `${DEPLOY_PATH}?label=${encodeURIComponent(label)}`
    }
    const r = await request(a.to!, method, url, key, body, a.timeout * 1000)
    if (a.json) out(JSON.stringify(r.json) + '\n')
    if (r.status !== 200 || r.json.ok !== true) {
      err(`nodecat-was deploy: ${r.json.code ?? 'HTTP ' + r.status}: ${r.json.error ?? 'failed'}${r.json.member !== undefined ? ` (member ${r.json.member})` : ''}\n`)
      if (!a.json) printReport(err, r.json)
      return r.json.code === 'WAS_ERR_DEPLOY_NO_KEY' || r.json.code === 'WAS_ERR_DEPLOY_AUTH' ? 2 : 1
    }
    if (a.json) return 0
    if (a.status) {
      for (const m of r.json.members) {
        if (m.error !== undefined) { out(`${String(m.route).padEnd(16)} ? (${m.code}: ${m.error})\n`); continue }
        out(`${String(m.route).padEnd(16)} ${m.running}${m.label !== '' ? `  (${m.label})` : ''}${m.switching ? '  [switching]' : ''}  versions: ${m.versions.map((v: any) => v.id).join(', ') || '-'}\n`)
      }
    } else {
      out(`version ${r.json.version} (${r.json.label}) serves on every member\n`)
      printReport(out, r.json)
    }
    return 0
  } catch (e) {
    const code = (e as { code?: string }).code
    err(`nodecat-was deploy: ${code !== undefined ? code + ': ' : ''}${(e as Error).message}\n`)
    return 1
  }
}
