/**
 * nodecat-tribes flags: parsed with node:util parseArgs (unknown flags are usage errors) and
 * validated with the flag's own name in every message, then turned into ChannelOptions.
 */
import { parseArgs } from 'node:util'
import net from 'node:net'
import { JVM_ROUTE_PATTERN } from '@nodecat/protocol'
import { TribesError } from '../errors.js'
import { validators } from '../validate.js'
import type { ChannelOptions } from '../options.js'
import type { MemberRole } from '../types.js'
import { isMulticastAddress } from '../membership/defaults.js'

/** Bad command line: printed as "nodecat-tribes: <message>", exit code 2. */
export class UsageError extends TribesError {
  constructor (message: string) {
    super('TRIBES_ERR_USAGE', message)
    this.name = 'UsageError'
  }
}

const v = validators((message) => new UsageError(message))

export const FLAGS = {
  'mcast-address': { type: 'string' },
  'mcast-port': { type: 'string' },
  bind: { type: 'string' },
  ttl: { type: 'string' },
  domain: { type: 'string' },
  frequency: { type: 'string' },
  'drop-time': { type: 'string' },
  static: { type: 'string' },
  'receiver-address': { type: 'string' },
  'receiver-port': { type: 'string' },
  'key-file': { type: 'string' },
  key: { type: 'string' },
  insecure: { type: 'boolean' },
  route: { type: 'string' },
  role: { type: 'string' },
  http: { type: 'string' },
  duration: { type: 'string' },
  listen: { type: 'string' },
  json: { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' }
} as const

export type Flags = { [K in keyof typeof FLAGS]?: (typeof FLAGS)[K]['type'] extends 'boolean' ? boolean : string }

/** Parse argv (after the subcommand). Throws UsageError naming the flag. */
export function parseFlags (argv: string[]): Flags {
  try {
    const { values } = parseArgs({ args: argv, options: FLAGS, strict: true, allowPositionals: false })
    return values as Flags
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    if (typeof e.code === 'string' && e.code.startsWith('ERR_PARSE_ARGS')) throw new UsageError(e.message.replace(/\. To specify a positional.*$/s, ''))
    throw err
  }
}

function ip (value: string, flag: string): string {
  if (net.isIP(value) === 0) v.fail(flag, 'an IP address', value)
  return value
}

/** Channel options of a command line; every value checked here, so errors name the flag. */
export function channelOptionsFromFlags (f: Flags, defaultRole: MemberRole): ChannelOptions {
  const membership: NonNullable<ChannelOptions['membership']> = {}
  if (f['mcast-address'] !== undefined) {
    membership.address = ip(f['mcast-address'], '--mcast-address')
    if (!isMulticastAddress(membership.address)) v.fail('--mcast-address', 'a multicast group address (224.0.0.0/4 or ff00::/8)', membership.address)
  }
  if (f['mcast-port'] !== undefined) membership.port = v.integer(f['mcast-port'], '--mcast-port', 1, 65535)
  if (f.bind !== undefined) membership.bind = ip(f.bind, '--bind')
  if (f.ttl !== undefined) membership.ttl = v.integer(f.ttl, '--ttl', 0, 255)
  if (f.frequency !== undefined) membership.frequency = v.integer(f.frequency, '--frequency', 10, 60000)
  if (f['drop-time'] !== undefined) {
    membership.dropTime = v.integer(f['drop-time'], '--drop-time', 11, 600000)
    if (membership.dropTime <= (membership.frequency ?? 500)) v.fail('--drop-time', `greater than --frequency (${membership.frequency ?? 500})`, f['drop-time'])
  }
  if (f.static !== undefined) {
    membership.type = 'static'
    membership.members = v.stringList(f.static, '--static').map((hp) => {
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(hp)
      if (m === null || net.isIP(m[1]!) === 0) v.fail('--static', 'a comma-separated list of IP:port', hp)
      v.integer(m![2], '--static port', 1, 65535)
      return hp
    })
    if (membership.members.length === 0) v.fail('--static', 'at least one IP:port', f.static)
  }
  const o: ChannelOptions = { membership }
  if (f['receiver-address'] !== undefined) o.address = ip(f['receiver-address'], '--receiver-address')
  if (f['receiver-port'] !== undefined) o.port = v.integer(f['receiver-port'], '--receiver-port', 0, 65535)
  if (f.domain !== undefined) o.domain = v.string(f.domain, '--domain', /^[\x20-\x7e]{0,255}$/, 'printable ASCII, at most 255 characters')
  if (f.key !== undefined && f['key-file'] !== undefined) throw new UsageError('give --key or --key-file, not both')
  if (f.key !== undefined) o.key = f.key
  if (f['key-file'] !== undefined) o.keyFile = f['key-file']
  if (f.insecure === true) o.insecure = true
  o.meta = { role: v.oneOf(f.role ?? defaultRole, '--role', ['node', 'balancer', 'tool'] as const) }
  if (f.route !== undefined) o.meta.route = v.string(f.route, '--route', JVM_ROUTE_PATTERN, 'letters, digits, "_" or "-" (1-64)')
  if (f.http !== undefined) o.meta.http = v.string(f.http, '--http', /^https?:\/\/\S+$/, 'an http(s) URL')
  return o
}

/** Option names of the channel (in its error messages) → the flag a CLI user typed. */
const FLAG_OF: Record<string, string> = {
  'membership.address': '--mcast-address',
  'membership.port': '--mcast-port',
  'membership.bind': '--bind',
  'membership.ttl': '--ttl',
  'membership.frequency': '--frequency',
  'membership.dropTime': '--drop-time',
  'membership.members': '--static',
  keyFile: '--key-file',
  key: '--key',
  insecure: '--insecure',
  'meta.route': '--route',
  'meta.role': '--role',
  'meta.http': '--http',
  domain: '--domain',
  address: '--receiver-address',
  port: '--receiver-port'
}

/** Rewrite a channel option error so it names flags ("membership.ttl must be…" → "--ttl must be…"). */
export function inFlagWords (message: string): string {
  const names = Object.keys(FLAG_OF).sort((a, b) => b.length - a.length)
  let out = message.replace(/key\/keyFile/g, '--key/--key-file').replace(/insecure: true/g, '--insecure')
  // why: only where the name is the subject ("key decodes to…", "membership.ttl must be…"), not prose ("cluster key:")
  for (const name of names) out = out.replace(new RegExp(`(^|[\\s(])${name.replace('.', '\\.')}(?= (must|decodes|has|is|cannot|"))`, 'g'), `$1${FLAG_OF[name]}`)
  return out
}

export function seconds (value: string | undefined, flag: string): number | undefined {
  return value === undefined ? undefined : v.number(value, flag, 0, 31 * 24 * 3600)
}

export function milliseconds (value: string | undefined, flag: string, fallback: number): number {
  return value === undefined ? fallback : v.integer(value, flag, 0, 600000)
}

export const USAGE = `usage: nodecat-tribes <command> [flags]

commands:
  members   join the group and print members as they join and leave
  doctor    check the membership and transport setup and say what to fix
  keygen    print a fresh cluster key (base64 of 32 random bytes)

flags (members, doctor):
  --mcast-address <ip>      multicast group (228.0.0.4)
  --mcast-port <port>       multicast port (45564)
  --bind <ip>               interface address for multicast (and the default receiver address)
  --ttl <n>                 multicast TTL (1)
  --domain <name>           cluster domain; other domains are ignored ("")
  --frequency <ms>          heartbeat interval (500)
  --drop-time <ms>          silence before a member is dropped (3000)
  --static <ip:port,...>    static membership: member receivers, instead of multicast; the members
                            hear this one only if their own lists name its receiver (--receiver-*)
  --receiver-address <ip>   address this member advertises and listens on
  --receiver-port <port>    first receiver port tried (4000; 100 ports are tried)
  --key-file <path>         cluster key file (base64 keys, one per line: current first, then still accepted; or 32 raw bytes)
  --key <base64>            cluster key
  --insecure                allow a non-loopback address without a key
  --route <name>            route (jvmRoute) to advertise
  --role node|balancer|tool role to advertise (members: tool)
  --json                    JSON lines instead of human lines
  --log-level <level>       log level of the logs on stderr (warn)
members:  --duration <s>    leave after this many seconds (default: on SIGINT/SIGTERM)
doctor:   --listen <ms>     listen this long on the group for key and domain mismatches (2000; 0 skips)
`
