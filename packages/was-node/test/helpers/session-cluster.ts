/** Build a cluster of session managers on a fake hub, and run requests against them. */
import type { Test } from 'tap'
import pino from 'pino'
import type { Logger } from 'pino'
import { SessionManager } from '../../src/manager/session-manager.js'
import type { SessionManagerOptions } from '../../src/manager/defaults.js'
import { backupStrategy, deltaStrategy } from '../../src/manager/replication-strategy.js'
import type { CookieAction, SessionApi } from '../../src/session/types.js'
import { FakeHub, type FakeChannel } from './fake-channel.js'
import { FakeClock } from './clock.js'

export interface Node { route: string, channel: FakeChannel, manager: SessionManager, logs: any[] }

/** a logger that keeps its records, so tests can assert a line was logged */
export function memoryLogger (): { logger: Logger, logs: any[] } {
  const logs: any[] = []
  const logger = pino({ level: 'debug' }, { write (line: string) { logs.push(JSON.parse(line)) } })
  return { logger, logs }
}

/** `placed`: run the backup manager on host `placed.host` with `placed.backups` copies */
export async function startNode (t: Test, hub: FakeHub, route: string, opts: Partial<SessionManagerOptions> = {}, clock?: FakeClock, placed?: { host: string, backups: number }): Promise<Node> {
  const channel = hub.channel(route, 'node', placed?.host)
  await channel.start()
  const { logger, logs } = memoryLogger()
  const strategy = placed === undefined ? deltaStrategy : backupStrategy({ route, host: placed.host }, placed.backups)
  const manager = new SessionManager({ route, channel, logger, clock, processExpiresFrequency: 0, ...opts }, strategy)
  t.teardown(async () => { await manager.stop(); await channel.stop() })
  await manager.start()
  return { route, channel, manager, logs }
}

export async function cluster (t: Test, routes: string[], opts: Partial<SessionManagerOptions> = {}): Promise<{ hub: FakeHub, clock: FakeClock, nodes: Node[] }> {
  const hub = new FakeHub()
  const clock = new FakeClock()
  const nodes: Node[] = []
  for (const r of routes) nodes.push(await startNode(t, hub, r, opts, clock))
  return { hub, clock, nodes }
}

/** one request: open with the ids, run `fn` on the session, end; returns the cookie action and final id */
export async function request<T = void> (node: Node, ids: Array<string | null | undefined>, fn: (s: SessionApi) => T, replicate = true): Promise<{ cookie: CookieAction, id: string | null, result: T, rebound: boolean }> {
  const rs = node.manager.open(ids.filter((x): x is string => typeof x === 'string'))
  const result = fn(rs.session)
  const id = rs.session.id
  const cookie = await rs.end({ replicate })
  return { cookie, id, result, rebound: rs.rebound }
}

export function attrs (node: Node, id: string): Record<string, unknown> | null {
  return node.manager.inspect(id)?.attributes ?? null
}
