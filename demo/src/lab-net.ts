/**
 * The demo's private network for `--multicast`: one network namespace per process (nodes and the
 * balancer), joined by veths to a Linux bridge in a namespace of its own, with a multicast route,
 * so real multicast discovery runs exactly as on a LAN while nothing can leave this machine. The
 * addresses (10.2xx.y.0/24) exist only inside these namespaces; the host namespace is not touched.
 * Names carry the launcher's PID, so namespaces left by a crashed run are found and deleted by the
 * next one; everything is deleted on quit and, as a last resort, when the process exits.
 */
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { randomBytes } from 'node:crypto'

const PREFIX = 'ncdemo'
const NAME = /^ncdemo([0-9a-z]+)_[0-9a-f]+-/

/** Why the namespaces cannot be made here, or null when they can. */
export function labNetUnavailable (): string | null {
  if (process.platform !== 'linux') return 'needs Linux (network namespaces)'
  if (process.getuid?.() !== 0) return 'needs root: it creates network namespaces, veths and a bridge (try: sudo npx -y pnpm@10.34.9 demo --multicast)'
  if (!['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].some((p) => existsSync(p))) return 'needs iproute2 (the `ip` command): apt-get install iproute2'
  return null
}

function ip (args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 20000 }, (err, _out, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')} failed: ${(stderr || err.message).trim()}`))
      else resolve()
    })
  })
}

function deleteSync (name: string): void {
  try { execFileSync('ip', ['netns', 'del', name], { stdio: 'ignore' }) } catch {}
}

/** Delete namespaces left by demo runs whose launcher is gone. */
function pruneStale (): string[] {
  let names: string[]
  try { names = readdirSync('/run/netns') } catch { return [] }
  const pruned: string[] = []
  for (const name of names) {
    const m = NAME.exec(name)
    if (m === null) continue
    let alive = true
    try { process.kill(parseInt(m[1]!, 36), 0) } catch (err) { alive = (err as NodeJS.ErrnoException).code === 'EPERM' }
    if (!alive) { deleteSync(name); pruned.push(name) }
  }
  return pruned
}

export interface LabHost {
  /** the namespace */
  ns: string
  /** its address on the private network */
  address: string
  /** the command prefix that runs a program inside it */
  exec: string[]
}

export interface LabNet {
  readonly hosts: readonly LabHost[]
  /** "10.2xx.y.0/24" */
  readonly subnet: string
  /** namespaces of dead runs deleted before this one was made */
  readonly pruned: readonly string[]
  /** delete every namespace (processes inside must be stopped first) */
  destroy (): Promise<void>
}

/** Make `count` namespaces on one bridge. */
export async function createLabNet (count: number): Promise<LabNet> {
  const why = labNetUnavailable()
  if (why) throw new Error(why)
  const pruned = pruneStale()
  const run = `${PREFIX}${process.pid.toString(36)}_${randomBytes(2).toString('hex')}`
  const bridge = `${run}-br`
  const base = `10.${200 + (randomBytes(1)[0]! % 50)}.${randomBytes(1)[0]!}`
  const made: string[] = []
  const onExit = (): void => { for (const ns of made) deleteSync(ns) }
  process.on('exit', onExit)
  const destroy = async (): Promise<void> => {
    for (const ns of made.splice(0)) { try { await ip(['netns', 'del', ns]) } catch { deleteSync(ns) } }
    process.off('exit', onExit)
  }
  const add = async (ns: string): Promise<void> => {
    await ip(['netns', 'add', ns])
    made.push(ns)
    await ip(['-n', ns, 'link', 'set', 'lo', 'up'])
  }
  const hosts: LabHost[] = []
  try {
    await add(bridge)
    // why: without snooping the bridge floods multicast to every port, as a plain switch does
    await ip(['-n', bridge, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0'])
    await ip(['-n', bridge, 'link', 'set', 'br0', 'up'])
    for (let i = 0; i < count; i++) {
      const ns = `${run}-${i}`
      await add(ns)
      await ip(['-n', bridge, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns])
      await ip(['-n', bridge, 'link', 'set', `p${i}`, 'master', 'br0', 'up'])
      const address = `${base}.${i + 1}`
      await ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0'])
      await ip(['-n', ns, 'link', 'set', 'eth0', 'up'])
      await ip(['-n', ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
      hosts.push({ ns, address, exec: ['ip', 'netns', 'exec', ns] })
    }
  } catch (err) {
    await destroy()
    throw err
  }
  return { hosts, subnet: `${base}.0/24`, pruned, destroy }
}
