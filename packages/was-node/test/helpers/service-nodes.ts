/** Helpers for tests that start real nodes (startNode) on 127.0.0.1 with static membership. */
import { Writable } from 'node:stream'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { pino, type Logger } from 'pino'
import type { Test } from 'tap'
import { startNode, type RunningNode } from '../../src/service/node.js'
import type { NodeOptions } from '../../src/service/options.js'
import { waitUntil } from '@nodecat/testkit'

export const shopApp = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../examples/shop/app.js')

/** A pino logger whose JSON lines land in `lines`. */
export function captureLogger (): { logger: Logger, lines: Array<Record<string, any>> } {
  const lines: Array<Record<string, any>> = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text.trim()) lines.push(JSON.parse(text))
      done()
    }
  })
  return { logger: pino({ level: 'debug' }, sink), lines }
}

export interface TestNode { node: RunningNode, lines: Array<Record<string, any>> }

/** Start one node; stopped at teardown. */
export async function testNode (t: Test, route: string, ports: { http: number, receiver: number }, peers: number[], extra: NodeOptions = {}): Promise<TestNode> {
  const { logger, lines } = captureLogger()
  const node = await startNode({
    jvmRoute: route,
    http: { address: '127.0.0.1', port: ports.http },
    receiver: { address: '127.0.0.1', port: ports.receiver, autoBind: 1 },
    membership: { type: 'static', members: peers.map((p) => `127.0.0.1:${p}`), frequency: 200, dropTime: 3000 },
    app: shopApp,
    stateTransferTimeout: 20,
    shutdownTimeout: 5000,
    ...extra
  }, { logger })
  t.teardown(() => node.stop('test teardown'))
  return { node, lines }
}

/** Poll until check() is truthy (bounded) and return its value; fails the wait with `what` (testkit's waitUntil, check first). */
export async function until<T> (check: () => T | Promise<T>, what: string, timeoutMs = 20000): Promise<T> {
  return await waitUntil(what, check, { timeoutMs, everyMs: 50 })
}
