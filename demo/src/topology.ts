/**
 * Where the demo's processes run and how they find each other:
 * - local (default): every process on 127.0.0.1, static membership, nothing else touched;
 * - multicast (`--multicast`, root): every process in its own network namespace on a private
 *   bridge, real multicast discovery (228.0.0.4:45564) with a fresh cluster key, the balancer
 *   discovering its workers, and the same 127.0.0.1 ports reaching in through Unix-socket pipes.
 */
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import type net from 'node:net'
import type { DemoArgs } from './args.js'
import { pickPort } from './ports.js'
import { createLabNet, type LabNet } from '@nodecat/testkit'
import { forward } from './forward.js'

export const HOST = '127.0.0.1'

export interface ProcessPlan {
  name: string
  /** arguments after `node` */
  args: string[]
  /** command that runs node for us (namespaces) */
  prefix?: string[]
  stdin?: 'pipe' | 'ignore'
}

export interface Topology {
  nodes: Array<ProcessPlan & { statusUrl: string }>
  balancer: ProcessPlan
  /** helpers to start before everything else (the namespace forwarder) */
  helpers: ProcessPlan[]
  /** the balancer as a browser reaches it, and its admin page */
  url: string
  adminUrl: string
  /** lines for the banner that say how this cluster is wired */
  notes: string[]
  /** once the helpers run: open the 127.0.0.1 ports that reach into the cluster */
  connect (): Promise<void>
  /** after every process is stopped: free what the topology made */
  close (): Promise<void>
}

export interface Programs { was: string, balancer: string, tribes: string, forwarder: string, app: string }

async function hostPorts (args: DemoArgs): Promise<{ balancer: number, admin: number, nodes: number[], receivers: number[] }> {
  const taken = new Set<number>()
  const balancer = await pickPort(args.port, taken)
  const nodes: number[] = []
  const receivers: number[] = []
  for (let i = 1; i <= args.nodes; i++) {
    nodes.push(await pickPort(balancer + i, taken))
    receivers.push(await pickPort(args.receiverPort + i - 1, taken))
  }
  return { balancer, nodes, receivers, admin: await pickPort(balancer + 10, taken) }
}

const routeOf = (i: number): string => `tomcat${i + 1}`
const replication = (args: DemoArgs): string[] => ['--channel-send-options', args.sync ? 'sync' : 'async', '--frequency', '500', '--drop-time', '3000']

/** a fresh cluster key in `dir`, made by the same command a person uses on real machines */
function makeKey (dir: string, bin: Programs): string {
  const keyFile = path.join(dir, 'cluster.key')
  writeFileSync(keyFile, execFileSync(process.execPath, [bin.tribes, 'keygen'], { encoding: 'utf8' }).trim() + '\n', { mode: 0o600 })
  return keyFile
}

export async function localTopology (args: DemoArgs, bin: Programs): Promise<Topology> {
  const p = await hostPorts(args)
  const receivers = p.receivers.map((r) => `${HOST}:${r}`)
  // why a key on loopback too: without one, any local user can write in a listed member's name,
  // or take a listed receiver port while its node is down (SECURITY.md, "Local user")
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-demo-'))
  let keyFile: string
  try { keyFile = makeKey(dir, bin) } catch (err) { rmSync(dir, { recursive: true, force: true }); throw err }
  const nodes = p.nodes.map((http, i) => ({
    name: routeOf(i),
    args: [bin.was, '--jvm-route', routeOf(i), '--http', `${HOST}:${http}`, '--receiver', receivers[i]!, '--auto-bind', '1',
      '--static', receivers.filter((_, j) => j !== i).join(',') || receivers[i]!, '--key-file', keyFile, '--app', bin.app, ...replication(args)],
    statusUrl: `http://${HOST}:${http}/_nodecat/status`
  }))
  return {
    nodes,
    balancer: { name: 'balancer', args: [bin.balancer, '--listen', `${HOST}:${p.balancer}`, '--admin', `${HOST}:${p.admin}`, ...nodes.flatMap((n, i) => ['--worker', `${n.name}=http://${HOST}:${p.nodes[i]}`])] },
    helpers: [],
    url: `http://${HOST}:${p.balancer}/`,
    adminUrl: `http://${HOST}:${p.admin}/`,
    notes: [`static membership on ${HOST} (no multicast leaves this machine; --multicast shows real discovery, as root); cluster key ${keyFile}`],
    connect: async () => {},
    close: async () => { rmSync(dir, { recursive: true, force: true }) }
  }
}

export async function multicastTopology (args: DemoArgs, bin: Programs): Promise<Topology> {
  const p = await hostPorts(args)
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-demo-'))
  const servers: net.Server[] = []
  let lab: LabNet | null = null
  const close = async (): Promise<void> => {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))))
    lab?.destroy()
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const keyFile = makeKey(dir, bin)
    lab = createLabNet({ hosts: args.nodes + 1, prefix: 'ncdemo' })
    const hosts = lab.hosts
    const lb = hosts[args.nodes]!
    const nodes = hosts.slice(0, args.nodes).map((h, i) => ({
      name: routeOf(i),
      prefix: h.exec,
      // no --static: the nodes find each other by multicast on their namespace's eth0; their
      // pages are read through the pipes below, as 127.0.0.1, which is not their own address
      args: [bin.was, '--jvm-route', routeOf(i), '--http', `${h.address}:8080`, '--receiver', `${h.address}:4000`, '--bind', h.address,
        '--key-file', keyFile, '--allowed-hosts', HOST, '--app', bin.app, ...replication(args)],
      statusUrl: `http://${HOST}:${p.nodes[i]}/_nodecat/status`
    }))
    const balancer: ProcessPlan = {
      name: 'balancer',
      prefix: lb.exec,
      args: [bin.balancer, '--listen', `${lb.address}:8080`, '--admin', '127.0.0.1:8090', '--discover', '--multicast-bind', lb.address,
        '--cluster-address', lb.address, '--key-file', keyFile]
    }
    // 127.0.0.1:<port> here → Unix socket in `dir` → forwarder in the balancer's namespace → address in there
    const pipes = [
      { port: p.balancer, sock: path.join(dir, 'balancer.sock'), to: `${lb.address}:8080` },
      { port: p.admin, sock: path.join(dir, 'admin.sock'), to: '127.0.0.1:8090' },
      ...hosts.slice(0, args.nodes).map((h, i) => ({ port: p.nodes[i]!, sock: path.join(dir, `${routeOf(i)}.sock`), to: `${h.address}:8080` }))
    ]
    const forwarder: ProcessPlan = { name: 'forwarder', prefix: lb.exec, stdin: 'pipe', args: [bin.forwarder, ...pipes.map((x) => `${x.sock}=${x.to}`)] }
    return {
      nodes,
      balancer,
      helpers: [forwarder],
      url: `http://${HOST}:${p.balancer}/`,
      adminUrl: `http://${HOST}:${p.admin}/`,
      notes: [
        `real multicast discovery (228.0.0.4:45564) inside ${hosts.length + 1} network namespaces on a private bridge (${lab.base}.0/24); the host's network is not touched`,
        ...hosts.slice(0, args.nodes).map((h, i) => `${routeOf(i)} in namespace ${h.ns} at ${h.address}`),
        `balancer in namespace ${lb.ns} at ${lb.address}, discovering its workers by multicast; cluster key ${keyFile}`,
        `see the group yourself: ip netns exec ${lb.ns} node ${bin.tribes} members --bind ${lb.address} --key-file ${keyFile}`,
        ...(lab.pruned.length > 0 ? [`deleted ${lab.pruned.length} namespace(s) left by an earlier demo that did not end cleanly`] : [])
      ],
      connect: async () => {
        for (const x of pipes) servers.push(await forward({ host: HOST, port: x.port }, { path: x.sock }))
      },
      close
    }
  } catch (err) {
    await close()
    throw err
  }
}
