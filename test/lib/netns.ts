/**
 * Network namespaces for tests that need a real network (multicast, partitions): N member
 * namespaces joined by a Linux bridge living in its own namespace, each with one veth `eth0` in a
 * private test subnet (10.201.x.0/24, which exists only inside these namespaces) and a multicast
 * route, so nothing a test sends can leave the machine. Names are unique per run; everything is
 * deleted at teardown, on process exit, and stale leftovers of dead runs are pruned.
 *
 *   const net = await createTestNet(t, { members: 3 })   // skip first with netnsSkipReason()
 *   const p = net.spawnNode(t, net.names[0], 'tribes', 'cli.js', ['members', '--json'])
 */
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { dist, startProcess, type TestProcess } from './proc.js'

type Teardown = { teardown: (fn: () => Promise<void> | void) => void }

const PREFIX = 'nct'
const NAME = /^nct([0-9a-z]+)_[0-9a-z]+-/

export function isRoot (): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0
}

function hasIp (): boolean {
  return ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].some((p) => existsSync(p))
}

/** Why namespace tests cannot run here (pass as tap's `skip`), or false when they can. */
export function netnsSkipReason (): string | false {
  if (process.platform !== 'linux') return 'needs Linux network namespaces'
  if (!isRoot()) return 'needs root: network namespace tests create namespaces, veths and a bridge (run as root, as CI does)'
  if (!hasIp()) return 'needs iproute2 (the `ip` command) to create network namespaces'
  return false
}

async function ip (args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 20000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')} failed: ${stderr || err.message}`))
      else resolve(stdout)
    })
  })
}

/** Namespaces of all runs ever made here whose process is gone, left by a crash: delete them. */
function pruneStale (): void {
  let names: string[]
  try { names = readdirSync('/run/netns') } catch { return }
  for (const name of names) {
    const m = NAME.exec(name)
    if (m === null) continue
    const pid = parseInt(m[1]!, 36)
    let alive = true
    try { process.kill(pid, 0) } catch (err) { alive = (err as NodeJS.ErrnoException).code === 'EPERM' }
    if (!alive) { try { execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' }) } catch {} }
  }
}

const owned = new Set<string>()
function deleteOwnedSync (): void {
  for (const name of owned) { try { execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' }) } catch {} }
  owned.clear()
}
let exitHooked = false
function hookExit (): void {
  if (exitHooked) return
  exitHooked = true
  process.on('exit', deleteOwnedSync)
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { deleteOwnedSync(); process.exit(sig === 'SIGINT' ? 130 : 143) })
  }
}

export interface TestNetOptions {
  /** member namespaces to create (1..50) */
  members: number
}

export interface TestNet {
  /** member namespace names, in order */
  readonly names: readonly string[]
  /** the namespace holding the bridge */
  readonly bridge: string
  /** "10.201.x" */
  readonly subnet: string
  /** eth0 address of a member namespace (by name or index) */
  address (ns: string | number): string
  /** run a command inside a namespace; resolves with its output, rejects on a non-zero exit */
  exec (ns: string, command: string, args?: string[]): Promise<string>
  /** start a process inside a namespace (stopped by PID at teardown, before the namespace goes) */
  spawnIn (ns: string, command: string, args: string[], env?: NodeJS.ProcessEnv): TestProcess
  /** start a built node script of a package inside a namespace */
  spawnNode (ns: string, pkg: string, file: string, args: string[], env?: NodeJS.ProcessEnv): TestProcess
  /** cut a member off the bridge (its eth0 keeps its address and routes; it just loses carrier) */
  cut (ns: string): Promise<void>
  /** reconnect a member cut off with cut() */
  heal (ns: string): Promise<void>
  /** stop every process started here and delete every namespace (teardown does this) */
  destroy (): Promise<void>
}

/** Create the namespaces; `t.teardown` removes them even when the test fails. */
export async function createTestNet (t: Teardown, options: TestNetOptions): Promise<TestNet> {
  const skip = netnsSkipReason()
  if (skip) throw new Error(skip)
  if (!Number.isInteger(options.members) || options.members < 1 || options.members > 50) throw new Error('members must be 1..50')
  pruneStale()
  hookExit()
  const run = `${PREFIX}${process.pid.toString(36)}_${randomBytes(3).toString('hex')}`
  const bridge = `${run}-br`
  const names = Array.from({ length: options.members }, (_, i) => `${run}-${String.fromCharCode(97 + (i % 26))}${i >= 26 ? '2' : ''}`)
  const subnet = `10.201.${1 + randomBytes(1)[0]! % 250}`
  const processes: TestProcess[] = []
  let destroyed = false
  const destroy = async (): Promise<void> => {
    if (destroyed) return
    destroyed = true
    await Promise.all(processes.map((p) => p.stop()))
    for (const ns of [...names, bridge]) {
      if (!owned.has(ns)) continue
      try { await ip(['netns', 'del', ns]) } catch {}
      owned.delete(ns)
    }
  }
  t.teardown(destroy)
  const addNs = async (ns: string): Promise<void> => {
    await ip(['netns', 'add', ns])
    owned.add(ns)
    await ip(['-n', ns, 'link', 'set', 'lo', 'up'])
  }
  try {
    await addNs(bridge)
    // why: without snooping the bridge floods multicast to every port, as a dumb switch would
    await ip(['-n', bridge, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0'])
    await ip(['-n', bridge, 'link', 'set', 'br0', 'up'])
    for (const [i, ns] of names.entries()) {
      await addNs(ns)
      await ip(['-n', bridge, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      await ip(['-n', bridge, 'link', 'set', `p${i}`, 'master', 'br0', 'up'])
      await ip(['-n', ns, 'addr', 'add', `${subnet}.${i + 1}/24`, 'dev', 'eth0'])
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up'])
      await ip(['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
    }
  } catch (err) {
    await destroy()
    throw err
  }
  const indexOf = (ns: string | number): number => {
    const i = typeof ns === 'number' ? ns : names.indexOf(ns)
    if (i < 0 || i >= names.length) throw new Error(`${ns} is not a member namespace of this test net`)
    return i
  }
  const spawnIn = (ns: string, command: string, args: string[], env?: NodeJS.ProcessEnv): TestProcess => {
    indexOf(ns)
    const p = startProcess('ip', ['netns', 'exec', ns, command, ...args], { env })
    processes.push(p)
    return p
  }
  return {
    names,
    bridge,
    subnet,
    address: (ns) => `${subnet}.${indexOf(ns) + 1}`,
    exec: async (ns, command, args = []) => await ip(['netns', 'exec', ns, command, ...args]),
    spawnIn,
    spawnNode: (ns, pkg, file, args, env) => spawnIn(ns, process.execPath, [dist(pkg, file), ...args], env),
    cut: async (ns) => { await ip(['-n', bridge, 'link', 'set', `p${indexOf(ns)}`, 'down']) },
    heal: async (ns) => { await ip(['-n', bridge, 'link', 'set', `p${indexOf(ns)}`, 'up']) },
    destroy
  }
}
