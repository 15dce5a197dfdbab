/**
 * Network namespaces for tests that need a real network (multicast, partitions): @nodecat/testkit's
 * lab network (N member namespaces on a bridge, a private 10.2xx.y.0/24, a multicast route; see
 * lab-net.ts there) tied to a tap test: processes started in it are stopped and the namespaces
 * deleted at teardown, on process exit, and on SIGINT/SIGTERM.
 *
 *   const net = await createTestNet(t, { members: 3 })   // skip first with netnsSkipReason()
 *
 * Without root or `ip` these tests skip; with NODECAT_REQUIRE_NETNS=1 (CI as root) they fail.
 *   const p = net.spawnNode(t, net.names[0], 'tribes', 'cli.js', ['members', '--json'])
 */
import { execFile } from 'node:child_process'
import tap from 'tap'
import { createLabNet, isRoot, labNetUnavailable, type LabNet } from '@nodecat/testkit'
import { dist, startProcess, type TestProcess } from './proc.js'

type Teardown = { teardown: (fn: () => Promise<void> | void) => void }

export { isRoot }

/**
 * Set to 1 (by .ci/run when it runs as root) to make a namespace test that cannot run fail the run
 * instead of skipping: there, a missing `ip` or a kernel without namespaces is a broken CI, and a
 * skip would let the partition and multicast tests silently not run.
 */
export const REQUIRE_NETNS_ENV = 'NODECAT_REQUIRE_NETNS'

/** What to do about namespace tests here: run them, skip them (and why), or fail (and why). */
export interface NetnsGate {
  skip: string | false
  fail: string | false
}

/** The decision, from why namespaces are unavailable (null: they are available) and the environment. */
export function netnsGate (unavailable: string | null = labNetUnavailable(), env: NodeJS.ProcessEnv = process.env): NetnsGate {
  if (unavailable === null) return { skip: false, fail: false }
  if (env[REQUIRE_NETNS_ENV] === '1') {
    return { skip: false, fail: `network namespaces are required here (${REQUIRE_NETNS_ENV}=1, as .ci/run sets when root) but cannot be used: ${unavailable}` }
  }
  return { skip: `${unavailable} (run as root, as CI does)`, fail: false }
}

/**
 * Why namespace tests cannot run here (pass as tap's `skip`), or false when they can. When they
 * are required (REQUIRE_NETNS_ENV) but cannot run, a failed assertion is added to the test file
 * first (call this once per file), then the reason is returned so the tests' bodies are not run.
 */
export function netnsSkipReason (gate: NetnsGate = netnsGate(), fail: (reason: string) => void = (reason) => { tap.fail(reason) }): string | false {
  if (gate.fail === false) return gate.skip
  fail(gate.fail)
  return gate.fail
}

async function run (args: string[]): Promise<string> {
  return await new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 20000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')} failed: ${stderr || err.message}`))
      else resolve(stdout)
    })
  })
}

const live = new Set<LabNet>()
let signalsHooked = false
/** why: tap ends a test file that times out with SIGTERM, which skips 'exit' handlers */
function hookSignals (): void {
  if (signalsHooked) return
  signalsHooked = true
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => { for (const n of live) n.destroy(); process.exit(sig === 'SIGINT' ? 130 : 143) })
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
  /** "10.2xx.y" */
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
  const why = labNetUnavailable()
  if (why !== null) throw new Error(`cannot create a test network: ${why}`)
  hookSignals()
  const lab = createLabNet({ hosts: options.members, prefix: 'nct' })
  live.add(lab)
  const names = lab.hosts.map((h) => h.ns)
  const processes: TestProcess[] = []
  let destroyed = false
  const destroy = async (): Promise<void> => {
    if (destroyed) return
    destroyed = true
    await Promise.all(processes.map((p) => p.stop()))
    lab.destroy()
    live.delete(lab)
  }
  t.teardown(destroy)
  const indexOf = (ns: string | number): number => {
    const i = typeof ns === 'number' ? ns : names.indexOf(ns)
    if (i < 0 || i >= names.length) throw new Error(`${ns} is not a member namespace of this test net`)
    return i
  }
  const spawnIn = (ns: string, command: string, args: string[], env?: NodeJS.ProcessEnv): TestProcess => {
    const p = startProcess('ip', ['netns', 'exec', names[indexOf(ns)]!, command, ...args], { env })
    processes.push(p)
    return p
  }
  return {
    names,
    bridge: lab.bridge,
    subnet: lab.base,
    address: (ns) => lab.hosts[indexOf(ns)]!.address,
    exec: async (ns, command, args = []) => await run(['netns', 'exec', ns, command, ...args]),
    spawnIn,
    spawnNode: (ns, pkg, file, args, env) => spawnIn(ns, process.execPath, [dist(pkg, file), ...args], env),
    cut: async (ns) => { lab.cut(indexOf(ns)) },
    heal: async (ns) => { lab.heal(indexOf(ns)) },
    destroy
  }
}
