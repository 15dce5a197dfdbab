/**
 * `--workers n`: what each of the n members one command runs on this machine is told. Worker i
 * (0..n-1) is a full cluster member with route `<jvmRoute>-<i>`, HTTP (and AJP) port = port + i and receiver
 * port = port + i on the same addresses (autoBind still applies); with static membership its
 * member list also names its siblings' receivers, so one machine's workers find each other with
 * no extra configuration. Everything else is what the command was given (argv, environment,
 * config file); the child re-reads those and puts {@link WORKER_OPTIONS_ENV} on top, so the
 * worker's route, ports and `workers: 1` win over anything the user set.
 * Pure: no process is started here (supervisor.ts does that).
 */
import os from 'node:os'
import { JVM_ROUTE_PATTERN } from '@nodecat/protocol'
import { isLoopback } from '@nodecat/tribes'
import { WasOptionError } from '../errors.js'
import type { NodeOptions, ResolvedNodeOptions } from './options.js'

/** env var holding a worker's option overrides (JSON), set by the supervisor for each child */
export const WORKER_OPTIONS_ENV = 'NODECAT_WORKER_OPTIONS'
/** env var holding what a worker knows of its machine's other workers (JSON {@link WorkerSiblings}) */
export const WORKER_SIBLINGS_ENV = 'NODECAT_WORKER_SIBLINGS'

export interface Sibling { route: string, http: string }

/** What the status page of worker `index` shows about the others. */
export interface WorkerSiblings { index: number, count: number, siblings: Sibling[] }

export interface WorkerPlan {
  index: number
  route: string
  http: { address: string, port: number }
  receiver: { address: string, port: number }
  /** merged over the options the child gathers itself (argv, env, config file) */
  overrides: NodeOptions
  /** the status page's view of the other workers */
  siblings: WorkerSiblings
}

const fail = (name: string, expected: string, got: unknown): never => {
  throw new WasOptionError(`${name} must be ${expected} with workers ${String(got)}`)
}

function firstExternalIPv4 (): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return undefined
}

const hostOf = (member: string): string => member.slice(0, member.lastIndexOf(':')).replace(/^\[(.*)\]$/, '$1')
const hostPort = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`

/**
 * The receiver address the workers will advertise with static membership: the one given, else
 * what tribes picks for 'auto' (loopback when every listed member is loopback, else the first
 * non-internal IPv4). The plan pins it, so the siblings list exactly what each worker advertises.
 */
export function staticReceiverHost (o: ResolvedNodeOptions, lanAddress: () => string | undefined = firstExternalIPv4): string {
  if (o.receiver.address !== 'auto') return o.receiver.address
  if (o.membership.members.every((m) => isLoopback(hostOf(m)))) return '127.0.0.1'
  return lanAddress() ?? '127.0.0.1'
}

/** a URL the supervisor's machine reaches the worker at (a wildcard listen: loopback) */
function localHttpUrl (address: string, port: number): string {
  const host = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address
  return `http://${hostPort(host, port)}`
}

/**
 * The n workers' routes, ports and overrides. Throws WasOptionError naming the option when they
 * do not fit: a route too long for its suffix, ports past 65535, or a receiver port 0 (any free
 * port) with static membership, whose siblings must be listed by port.
 */
export function planWorkers (o: ResolvedNodeOptions, lanAddress?: () => string | undefined): WorkerPlan[] {
  const n = o.workers
  const lastRoute = `${o.jvmRoute}-${n - 1}`
  if (!JVM_ROUTE_PATTERN.test(lastRoute)) fail('jvmRoute', `at most ${64 - String(n - 1).length - 1} characters (the workers' routes are <jvmRoute>-<i>, like ${lastRoute})`, n)
  if (o.http.port !== 0 && o.http.port + n - 1 > 65535) fail('http.port', `at most ${65535 - n + 1} (worker i listens on port + i)`, n)
  if (o.ajp.port !== null && o.ajp.port !== 0 && o.ajp.port + n - 1 > 65535) fail('ajp.port', `at most ${65535 - n + 1} (worker i takes AJP on port + i)`, n)
  if (o.receiver.port !== 0 && o.receiver.port + n - 1 > 65535) fail('receiver.port', `at most ${65535 - n + 1} (worker i receives on port + i)`, n)
  const isStatic = o.membership.type === 'static'
  if (isStatic && o.receiver.port === 0 && n > 1) fail('receiver.port', 'a fixed port (not 0) with static membership (each worker lists its siblings\' receivers by port)', n)
  const portOf = (base: number, i: number): number => base === 0 ? 0 : base + i
  const host = isStatic ? staticReceiverHost(o, lanAddress) : o.receiver.address
  const receivers = Array.from({ length: n }, (_, i) => hostPort(host, portOf(o.receiver.port, i)))
  const all = Array.from({ length: n }, (_, i) => ({ route: `${o.jvmRoute}-${i}`, http: localHttpUrl(o.http.address, portOf(o.http.port, i)) }))

  return all.map(({ route }, i) => {
    const http = { address: o.http.address, port: portOf(o.http.port, i) }
    const receiver = { address: host, port: portOf(o.receiver.port, i) }
    const overrides: NodeOptions = {
      jvmRoute: route,
      workers: 1,
      http: { port: http.port },
      receiver: { port: receiver.port, ...(isStatic ? { address: host } : {}) },
      ...(o.ajp.port === null ? {} : { ajp: { port: portOf(o.ajp.port, i) } })
    }
    if (isStatic) {
      const members = [...o.membership.members]
      for (const r of receivers) if (r !== receivers[i] && !members.includes(r)) members.push(r)
      overrides.membership = { type: 'static', members }
    }
    return { index: i, route, http, receiver, overrides, siblings: { index: i, count: n, siblings: all.filter((_, j) => j !== i) } }
  })
}

/** The worker overrides a child was started with (JSON in WORKER_OPTIONS_ENV), or null when it is no worker. */
export function workerOverrides (env: NodeJS.ProcessEnv): NodeOptions | null {
  const text = env[WORKER_OPTIONS_ENV]
  if (text === undefined || text === '') return null
  let parsed: unknown
  try { parsed = JSON.parse(text) } catch { parsed = null }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new WasOptionError(`${WORKER_OPTIONS_ENV} must hold a JSON object (it is set by nodecat-was --workers for its workers), got ${JSON.stringify(text.slice(0, 80))}`)
  return parsed as NodeOptions
}

/** What WORKER_SIBLINGS_ENV says, or null (not a worker, or not readable: the status page then shows none). */
export function workerSiblings (env: NodeJS.ProcessEnv): WorkerSiblings | null {
  const text = env[WORKER_SIBLINGS_ENV]
  if (text === undefined || text === '') return null
  try {
    const s = JSON.parse(text) as WorkerSiblings
    if (!Number.isInteger(s.index) || !Number.isInteger(s.count) || !Array.isArray(s.siblings)) return null
    const siblings = s.siblings.filter((x) => typeof x?.route === 'string' && typeof x?.http === 'string').map((x) => ({ route: x.route, http: x.http }))
    return { index: s.index, count: s.count, siblings }
  } catch { return null }
}

/** The environment of worker `plan`'s process: the command's own, plus the two worker variables. */
export function workerEnv (plan: WorkerPlan, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, [WORKER_OPTIONS_ENV]: JSON.stringify(plan.overrides), [WORKER_SIBLINGS_ENV]: JSON.stringify(plan.siblings) }
}
