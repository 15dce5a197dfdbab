/**
 * Where the service's options come from, merged in order: defaults < JSON config file (--config)
 * < environment (NODECAT_*) < command-line flags. One table names every flag, its environment
 * variable and the option it sets, so --help, env and flags never drift apart.
 */
import { readFileSync } from 'node:fs'
import { WasOptionError } from '../errors.js'
import type { NodeOptions } from './options.js'
import { readServerXml, type IgnoredItem } from './server-xml.js'

type Kind = 'string' | 'boolean' | 'hostPort' | 'list'

export interface FlagSpec {
  /** --flag */
  flag: string
  /** option path it sets (hostPort: the object holding address and port) */
  path: string
  kind: Kind
  help: string
  arg?: string
}

/** Every flag; env name = NODECAT_ + flag in upper snake case. */
export const FLAGS: readonly FlagSpec[] = [
  { flag: 'config', path: '', kind: 'string', arg: 'file.json', help: 'JSON file with any of the options below (nested as in the docs)' },
  { flag: 'server-xml', path: '', kind: 'string', arg: 'file', help: 'a Tomcat server.xml: jvmRoute, connectors and <Cluster> become options (below --config, env and flags; --print-config lists what was taken and ignored)' },
  { flag: 'jvm-route', path: 'jvmRoute', kind: 'string', arg: 'name', help: 'this node\'s route, the suffix of its session ids (default: host name)' },
  { flag: 'http', path: 'http', kind: 'hostPort', arg: 'host:port', help: 'where the app is served (default 127.0.0.1:8080)' },
  { flag: 'allowed-hosts', path: 'http.allowedHosts', kind: 'list', arg: 'name,name', help: 'more Host names the /_nodecat/ pages answer to (besides the listen and advertised address, localhost on loopback)' },
  { flag: 'ajp', path: 'ajp', kind: 'hostPort', arg: 'host:port', help: 'also serve the app over AJP/1.3 here, for an Apache httpd + mod_jk front (default off; host 127.0.0.1 when only a port is given)' },
  { flag: 'ajp-secret', path: 'ajp.secret', kind: 'string', arg: 'secret', help: 'the secret mod_jk sends (worker.<name>.secret); requests without it get 403' },
  { flag: 'ajp-secret-required', path: 'ajp.secretRequired', kind: 'string', arg: 'true|false', help: 'refuse to start an AJP listener off loopback without --ajp-secret (default true, as Tomcat)' },
  { flag: 'ajp-packet-size', path: 'ajp.packetSize', kind: 'string', arg: 'bytes', help: 'AJP packet size, 8192..65536; equal to mod_jk\'s max_packet_size (default 8192)' },
  { flag: 'app', path: 'app', kind: 'string', arg: 'module', help: 'the app: a module exporting a fastify plugin or an express/connect handler' },
  { flag: 'static', path: 'membership.members', kind: 'list', arg: 'h:p,h:p', help: 'static membership: the receivers of the other nodes (no multicast)' },
  { flag: 'receiver', path: 'receiver', kind: 'hostPort', arg: 'host:port', help: 'cluster receiver (default auto:4000, trying autoBind ports)' },
  { flag: 'auto-bind', path: 'receiver.autoBind', kind: 'string', arg: 'n', help: 'receiver ports to try from the given one (default 100)' },
  { flag: 'membership', path: 'membership.type', kind: 'string', arg: 'multicast|static', help: 'how members find each other (default multicast; static when --static)' },
  { flag: 'multicast', path: 'membership', kind: 'hostPort', arg: 'group:port', help: 'multicast group (default 228.0.0.4:45564)' },
  { flag: 'bind', path: 'membership.bind', kind: 'string', arg: 'address', help: 'interface address for multicast' },
  { flag: 'frequency', path: 'membership.frequency', kind: 'string', arg: 'ms', help: 'heartbeat interval (default 500)' },
  { flag: 'drop-time', path: 'membership.dropTime', kind: 'string', arg: 'ms', help: 'silence before a member is dropped (default 3000)' },
  { flag: 'ttl', path: 'membership.ttl', kind: 'string', arg: 'n', help: 'multicast TTL (default 1)' },
  { flag: 'domain', path: 'membership.domain', kind: 'string', arg: 'name', help: 'cluster domain: members of other domains are ignored' },
  { flag: 'workers', path: 'workers', kind: 'string', arg: 'n|auto', help: 'members to run on this machine, one per core with auto; each gets route <jvm-route>-<i>, HTTP port +i and its own receiver (default 1)' },
  { flag: 'host-id', path: 'hostId', kind: 'string', arg: 'id', help: 'this machine\'s identity, so the cluster knows which members share a machine (default: machine id, else host name)' },
  { flag: 'manager', path: 'manager', kind: 'string', arg: 'delta|backup', help: 'delta (default): every change to every node; backup: each session on its primary and --backups others, other hosts first' },
  { flag: 'backups', path: 'backups', kind: 'string', arg: 'k', help: 'with --manager backup: copies of each session besides the primary (default 1)' },
  { flag: 'channel-send-options', path: 'channelSendOptions', kind: 'string', arg: '8|6|async|sync', help: 'async (8, default) or sync (6: responses wait until every peer applied the change)' },
  { flag: 'expire-sessions-on-shutdown', path: 'expireSessionsOnShutdown', kind: 'boolean', help: 'expire this node\'s sessions cluster-wide when it stops (default false)' },
  { flag: 'notify-listeners-on-replication', path: 'notifyListenersOnReplication', kind: 'boolean', help: 'fire listeners for replicated changes (default true)' },
  { flag: 'replication-filter', path: 'replicationFilter', kind: 'string', arg: 'regex', help: 'paths not replicated (default: static files)' },
  { flag: 'state-transfer-timeout', path: 'stateTransferTimeout', kind: 'string', arg: 's', help: 'wait for the initial session transfer (default 60)' },
  { flag: 'session-fetch-timeout', path: 'sessionFetchTimeout', kind: 'string', arg: 'ms', help: 'a request for a session this node lacks waits this long for the peers\' copies (default 100; 0: off)' },
  { flag: 'max-inactive-interval', path: 'maxInactiveInterval', kind: 'string', arg: 's', help: 'session idle timeout (default 1800)' },
  { flag: 'max-active-sessions', path: 'maxActiveSessions', kind: 'string', arg: 'n', help: 'most sessions held (default -1: no limit)' },
  { flag: 'max-session-bytes', path: 'maxSessionBytes', kind: 'string', arg: 'n', help: 'most bytes of one session (default 262144)' },
  { flag: 'cookie-name', path: 'cookie.name', kind: 'string', arg: 'name', help: 'session cookie name (default JSESSIONID)' },
  { flag: 'cookie-path', path: 'cookie.path', kind: 'string', arg: 'path', help: 'cookie Path (default /)' },
  { flag: 'cookie-domain', path: 'cookie.domain', kind: 'string', arg: 'domain', help: 'cookie Domain (default unset)' },
  { flag: 'cookie-same-site', path: 'cookie.sameSite', kind: 'string', arg: 'lax|strict|none', help: 'cookie SameSite (default lax)' },
  { flag: 'cookie-secure', path: 'cookie.secure', kind: 'string', arg: 'auto|true|false', help: 'cookie Secure (default auto: when the request was HTTPS)' },
  { flag: 'session-tracking', path: 'sessionTracking', kind: 'string', arg: 'cookie|url|cookie,url', help: 'where the session id is read from (default cookie; with url a cookie still wins and a link never replaces it)' },
  { flag: 'trust-proxy', path: 'trustProxy', kind: 'string', arg: 'true|cidr,...', help: 'proxies whose X-Forwarded-Proto is believed (default none)' },
  { flag: 'key', path: 'key', kind: 'string', arg: 'key', help: 'cluster key (authenticates and encrypts cluster traffic)' },
  { flag: 'key-file', path: 'keyFile', kind: 'string', arg: 'file', help: 'file holding the cluster key (further lines: older keys still accepted; re-read when it changes)' },
  { flag: 'insecure', path: 'insecure', kind: 'boolean', help: 'allow plaintext cluster traffic on a non-loopback network' },
  { flag: 'deploy-dir', path: 'deployDir', kind: 'string', arg: 'dir', help: 'where cluster deploys keep app versions, each member in <dir>/<jvm-route> (default ./nodecat-deploy; see nodecat-was deploy --help)' },
  { flag: 'deploy-max-bytes', path: 'deployMaxBytes', kind: 'string', arg: 'n', help: 'most bytes of a deployed bundle (default 16777216)' },
  { flag: 'deploy-keep', path: 'deployKeep', kind: 'string', arg: 'n', help: 'app versions kept in --deploy-dir (default 5)' },
  { flag: 'watch-dir', path: 'deployWatchDir', kind: 'string', arg: 'dir', help: 'roll out every new app bundle (*.tgz) copied here to the cluster, led by this node (default off; watch on one node only)' },
  { flag: 'shutdown-timeout', path: 'shutdownTimeout', kind: 'string', arg: 'ms', help: 'time for in-flight requests at stop (default 10000)' },
  { flag: 'log-level', path: 'log.level', kind: 'string', arg: 'level', help: 'fatal|error|warn|info|debug|trace|silent (default info)' },
  { flag: 'pretty', path: 'log.pretty', kind: 'boolean', help: 'human-readable logs (default: when stdout is a terminal)' }
]

export const envName = (flag: string): string => 'NODECAT_' + flag.toUpperCase().replace(/-/g, '_')

/** Bad command-line usage: exit code 2. */
export class UsageError extends WasOptionError {
  constructor (message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

type Tree = Record<string, unknown>

function setPath (target: Tree, path: string, value: unknown): void {
  const keys = path.split('.')
  let node = target
  for (const key of keys.slice(0, -1)) {
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {}
    node = node[key] as Tree
  }
  node[keys.at(-1)!] = value
}

function applyFlag (target: Tree, spec: FlagSpec, value: string, source: string): void {
  if (spec.kind === 'hostPort') {
    const m = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(value) ?? /^()(\d{1,5})$/.exec(value)
    if (m === null) throw new UsageError(`${source} must be host:port (or a port), got ${JSON.stringify(value)}`)
    if (m[1] !== '') setPath(target, `${spec.path}.address`, m[1]!.replace(/^\[|\]$/g, ''))
    setPath(target, `${spec.path}.port`, Number(m[2]))
    return
  }
  if (spec.kind === 'list') {
    setPath(target, spec.path, value.split(',').map((s) => s.trim()).filter(Boolean))
    if (spec.flag === 'static' && !(target.membership as Tree | undefined)?.type) setPath(target, 'membership.type', 'static')
    return
  }
  setPath(target, spec.path, value)
}

/** Deep-merge b over a (objects merge, everything else replaces). */
export function merge (a: Tree, b: Tree): Tree {
  const out: Tree = { ...a }
  for (const [key, value] of Object.entries(b)) {
    if (value === undefined) continue
    const prev = out[key]
    out[key] = typeof value === 'object' && value !== null && !Array.isArray(value) && typeof prev === 'object' && prev !== null && !Array.isArray(prev)
      ? merge(prev as Tree, value as Tree)
      : value
  }
  return out
}

export interface ParsedArgs { help: boolean, version: boolean, printConfig: boolean, config: string | null, serverXml: string | null, options: Tree }

/** Parse argv (without node and script). Throws UsageError naming the flag. */
export function parseArgs (argv: readonly string[]): ParsedArgs {
  const result: ParsedArgs = { help: false, version: false, printConfig: false, config: null, serverXml: null, options: {} }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '--help' || arg === '-h') { result.help = true; continue }
    if (arg === '--version') { result.version = true; continue }
    if (arg === '--print-config') { result.printConfig = true; continue }
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)} (options start with --; see --help)`)
    const eq = arg.indexOf('=')
    let name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
    let inline = eq < 0 ? undefined : arg.slice(eq + 1)
    let negated = false
    if (name.startsWith('no-') && FLAGS.some((f) => f.flag === name.slice(3) && f.kind === 'boolean')) { negated = true; name = name.slice(3); inline ??= 'false' }
    const spec = FLAGS.find((f) => f.flag === name)
    if (spec === undefined) throw new UsageError(`unknown option --${name} (see --help)`)
    if (spec.kind === 'boolean') {
      const value = inline ?? 'true'
      if (value !== 'true' && value !== 'false') throw new UsageError(`--${name} takes no value or =true/=false, got ${JSON.stringify(value)}`)
      setPath(result.options, spec.path, negated ? false : value === 'true')
      continue
    }
    let value = inline
    if (value === undefined) {
      const next = argv[i + 1]
      if (next === undefined || next.startsWith('--')) throw new UsageError(`--${name} needs a value (${spec.arg ?? 'value'})`)
      value = next; i++
    }
    if (spec.flag === 'config') { result.config = value; continue }
    if (spec.flag === 'server-xml') { result.serverXml = value; continue }
    applyFlag(result.options, spec, value, `--${name}`)
  }
  return result
}

/** Options from NODECAT_* variables. */
export function fromEnv (env: NodeJS.ProcessEnv): Tree {
  const out: Tree = {}
  for (const spec of FLAGS) {
    const value = env[envName(spec.flag)]
    if (value === undefined || value === '' || spec.flag === 'config' || spec.flag === 'server-xml') continue
    if (spec.kind === 'boolean') {
      if (value !== 'true' && value !== 'false') throw new WasOptionError(`${envName(spec.flag)} must be true or false, got ${JSON.stringify(value)}`)
      setPath(out, spec.path, value === 'true')
    } else {
      applyFlag(out, spec, value, envName(spec.flag))
    }
  }
  return out
}

/** Read a JSON config file; errors name the file. */
export function fromFile (file: string): Tree {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (err) {
    throw new WasOptionError(`config file ${file} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch (err) {
    throw new WasOptionError(`config file ${file} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new WasOptionError(`config file ${file} must hold a JSON object`)
  return parsed as Tree
}

/** a server.xml setting as its flag and option, and the source that overrides it, if one does */
export interface TakenItem { item: string, line: number, flag: string, option: string, value: string | boolean, overriddenBy?: 'config' | 'env' | 'flag' }

/** what --server-xml took and ignored (for the start-up log and --print-config) */
export interface ServerXmlReport { file: string, taken: TakenItem[], ignored: IgnoredItem[] }

function hasPath (tree: Tree, path: string): boolean {
  let node: unknown = tree
  for (const key of path.split('.')) {
    if (typeof node !== 'object' || node === null || !(key in node)) return false
    node = (node as Tree)[key]
  }
  return node !== undefined
}

/** Options from a Tomcat server.xml, applied through the flag table; a flag this build lacks is reported as ignored. */
export function fromServerXml (file: string): { options: Tree, report: ServerXmlReport } {
  const imported = readServerXml(file)
  const options: Tree = {}
  const report: ServerXmlReport = { file, taken: [], ignored: [...imported.ignored] }
  for (const s of imported.settings) {
    const spec = FLAGS.find((f) => f.flag === s.flag && f.path !== '')
    if (spec === undefined) { report.ignored.push({ item: s.item, line: s.line, reason: `this nodecat-was has no --${s.flag} option` }); continue }
    if (spec.kind === 'boolean') setPath(options, spec.path, s.value)
    else applyFlag(options, spec, String(s.value), `${file}:${s.line}: ${s.item}`)
    report.taken.push({ item: s.item, line: s.line, flag: `--${s.flag}`, option: spec.path, value: s.flag === 'ajp-secret' ? '[hidden]' : s.value })
  }
  return { options, report }
}

/** defaults < server.xml (--server-xml) < config file < env < flags, as raw options for resolveNodeOptions(). */
export function gatherOptions (argv: readonly string[], env: NodeJS.ProcessEnv): ParsedArgs & { options: NodeOptions, serverXmlReport: ServerXmlReport | null } {
  const args = parseArgs(argv)
  const configFile = args.config ?? env[envName('config')] ?? null
  const serverXml = args.serverXml ?? env[envName('server-xml')] ?? null
  const imported = serverXml === null || serverXml === '' ? null : fromServerXml(serverXml)
  const file = configFile === null || configFile === '' ? {} : fromFile(configFile)
  const envOptions = fromEnv(env)
  const merged = merge(merge(merge(imported?.options ?? {}, file), envOptions), args.options)
  if (imported !== null) {
    for (const item of imported.report.taken) {
      const spec = FLAGS.find((f) => `--${f.flag}` === item.flag)!
      const path = spec.kind === 'hostPort' ? `${spec.path}.port` : spec.path
      const by = hasPath(args.options, path) ? 'flag' : hasPath(envOptions, path) ? 'env' : hasPath(file, path) ? 'config' : undefined
      if (by !== undefined) item.overriddenBy = by
    }
  }
  return { ...args, config: configFile, serverXml, options: merged as NodeOptions, serverXmlReport: imported?.report ?? null }
}

/** The --help text. */
export function helpText (): string {
  const rows = FLAGS.map((f) => [`--${f.flag}${f.arg ? ` <${f.arg}>` : ''}`, f.help, envName(f.flag)])
  const width = Math.max(...rows.map((r) => r[0]!.length)) + 2
  return [
    'Usage: nodecat-was [options]',
    '',
    'Runs one node of a nodecat cluster: your app with replicated sessions.',
    'Options come from defaults < --server-xml file < --config file < NODECAT_* environment < flags.',
    '',
    ...rows.map(([flag, help, env]) => `  ${flag!.padEnd(width)}${help}  [${env}]`),
    `  ${'--print-config'.padEnd(width)}print the resolved options (and what --server-xml took and ignored) as JSON and exit`,
    `  ${'--help'.padEnd(width)}this text`,
    '',
    'Example (two nodes on one machine, static membership, a key made once with nodecat-tribes keygen):',
    '  nodecat-was --jvm-route n1 --http 127.0.0.1:8081 --receiver 127.0.0.1:4001 --static 127.0.0.1:4002 --key-file cluster.key --app ./app.js',
    '  nodecat-was --jvm-route n2 --http 127.0.0.1:8082 --receiver 127.0.0.1:4002 --static 127.0.0.1:4001 --key-file cluster.key --app ./app.js',
    ''
  ].join('\n')
}
