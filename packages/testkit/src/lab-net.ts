/**
 * A private network of namespaces, for what must run on a real network on one machine: multicast
 * discovery (tests, `pnpm demo --multicast`), partitions (tests), shaped links (the Pi profiles of
 * the benchmarks). One network namespace per host, each with a veth `eth0` joined to a Linux
 * bridge living in a namespace of its own, an address in a random 10.2xx.y.0/24 that exists only
 * inside these namespaces, and a multicast route. Nothing is added to the host namespace, so
 * nothing sent here can leave the machine.
 *
 * Names carry the creating process's PID (`<prefix><pid36>_<random>-…`): namespaces of a run whose
 * process is gone are deleted by the next run with the same prefix; a run deletes its own on
 * destroy() and, as a last resort, when its process exits. Synchronous on purpose: it is set-up
 * code, and the benchmarks' placement is synchronous.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { randomBytes } from 'node:crypto'

export interface LabNetOptions {
  /** member namespaces (1..50) */
  hosts: number
  /** a few lower-case letters naming the user of the namespaces ("nct" tests, "ncdemo" …) */
  prefix: string
  /** shape both ends of each host's link with tbf to this rate ("1gbit"), or none */
  rate?: string | null
}

export interface LabHost {
  /** its namespace */
  ns: string
  /** its address on the private network */
  address: string
  /** the command prefix that runs a program inside it */
  exec: string[]
}

export interface LabNet {
  readonly hosts: readonly LabHost[]
  /** the namespace holding the bridge */
  readonly bridge: string
  /** the network's first three octets, "10.2xx.y" */
  readonly base: string
  /** namespaces of dead runs deleted before this one was made */
  readonly pruned: readonly string[]
  /** cut host i off the bridge (its eth0 keeps address and routes; it loses carrier) */
  cut (i: number): void
  /** reconnect host i */
  heal (i: number): void
  /** delete every namespace (stop the processes inside first); idempotent */
  destroy (): void
}

/** What labNetUnavailable() looks at: this machine by default; a test passes its own. */
export interface LabNetHostProbe {
  platform: NodeJS.Platform
  /** the effective user id (undefined off POSIX) */
  uid: number | undefined
  /** whether iproute2's `ip` command is installed */
  hasIp: () => boolean
}

const IP_PATHS = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip']

/** Why namespaces cannot be made here (or on the probed host), or null when they can. */
export function labNetUnavailable (probe: Partial<LabNetHostProbe> = {}): string | null {
  const host: LabNetHostProbe = {
    platform: process.platform,
    uid: process.getuid?.(),
    hasIp: () => IP_PATHS.some((p) => existsSync(p)),
    ...probe
  }
  if (host.platform !== 'linux') return 'needs Linux network namespaces'
  if (host.uid !== 0) return 'needs root: it creates network namespaces, veths and a bridge'
  if (!host.hasIp()) return 'needs iproute2 (the `ip` command)'
  return null
}

function ip (...args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 })
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? '').trim()
    throw new Error(`ip ${args.join(' ')} failed: ${stderr || (err as Error).message}`)
  }
}

function deleteNs (name: string): void {
  try { execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore', timeout: 20_000 }) } catch {}
}

/** Delete namespaces with this prefix whose creating process is gone. */
function pruneStale (prefix: string): string[] {
  let names: string[]
  try { names = readdirSync('/run/netns') } catch { return [] }
  const mine = new RegExp(`^${prefix}([0-9a-z]+)_[0-9a-f]+-`)
  const pruned: string[] = []
  for (const name of names) {
    const m = mine.exec(name)
    if (m === null) continue
    let alive = true
    try { process.kill(parseInt(m[1]!, 36), 0) } catch (err) { alive = (err as NodeJS.ErrnoException).code === 'EPERM' }
    if (!alive) { deleteNs(name); pruned.push(name) }
  }
  return pruned
}

export function createLabNet (options: LabNetOptions): LabNet {
  const why = labNetUnavailable()
  if (why) throw new Error(why)
  if (!Number.isInteger(options.hosts) || options.hosts < 1 || options.hosts > 50) throw new Error('hosts must be 1..50')
  if (!/^[a-z]{1,8}$/.test(options.prefix)) throw new Error('prefix must be 1..8 lower-case letters')
  const pruned = pruneStale(options.prefix)
  const run = `${options.prefix}${process.pid.toString(36)}_${randomBytes(2).toString('hex')}`
  const bridge = `${run}-br`
  const base = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}`
  const made: string[] = []
  const onExit = (): void => { for (const ns of made) deleteNs(ns) }
  process.on('exit', onExit)
  const destroy = (): void => {
    for (const ns of made.splice(0)) deleteNs(ns)
    process.off('exit', onExit)
  }
  const add = (ns: string): void => {
    ip('netns', 'add', ns)
    made.push(ns)
    ip('-n', ns, 'link', 'set', 'lo', 'up')
  }
  const hosts: LabHost[] = []
  try {
    add(bridge)
    // why: without snooping the bridge floods multicast to every port, as a plain switch does
    ip('-n', bridge, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0')
    ip('-n', bridge, 'link', 'set', 'br0', 'up')
    for (let i = 0; i < options.hosts; i++) {
      const ns = `${run}-${i}`
      add(ns)
      ip('-n', bridge, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns)
      ip('-n', bridge, 'link', 'set', `p${i}`, 'master', 'br0', 'up')
      const address = `${base}.${i + 1}`
      ip('-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0')
      ip('-n', ns, 'link', 'set', 'eth0', 'up')
      ip('-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0')
      if (options.rate) {
        // why: both directions of the link, like a NIC of that speed
        ip('netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'tbf', 'rate', options.rate, 'burst', '64kb', 'latency', '20ms')
        ip('netns', 'exec', bridge, 'tc', 'qdisc', 'add', 'dev', `p${i}`, 'root', 'tbf', 'rate', options.rate, 'burst', '64kb', 'latency', '20ms')
      }
      hosts.push({ ns, address, exec: ['ip', 'netns', 'exec', ns] })
    }
  } catch (err) {
    destroy()
    throw err
  }
  const port = (i: number): string => {
    if (!Number.isInteger(i) || i < 0 || i >= hosts.length) throw new Error(`no host ${i} in this lab network`)
    return `p${i}`
  }
  return {
    hosts,
    bridge,
    base,
    pruned,
    cut: (i) => ip('-n', bridge, 'link', 'set', port(i), 'down'),
    heal: (i) => ip('-n', bridge, 'link', 'set', port(i), 'up'),
    destroy
  }
}
