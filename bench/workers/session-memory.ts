/**
 * Worker for bench:memory: hold N typical small sessions and report the memory they take.
 * argv: <variant: nodecat|plain> <count>. One JSON line on stdout. Run with --expose-gc.
 *  - nodecat: real sessions in a SessionManager (no peers), created through open()/set()/end()
 *    as a request would.
 *  - plain: the same attributes as plain objects in a Map keyed by a session-id-shaped string:
 *    the least any in-memory session store can take, the baseline.
 */
import { SessionManager } from '@nodecat/was-node'

const [variant = 'nodecat', countText = '10000'] = process.argv.slice(2)
const count = Number(countText)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with --expose-gc')

/** a typical small session: a logged-in user, a counter and a short cart (~120 B of data) */
function fill (set: (name: string, value: unknown) => void, i: number): void {
  set('user', `user-${i}@example.org`)
  set('count', i % 50)
  set('cart', ['apple', 'pear', `item-${i % 100}`])
  set('loginAt', 1_795_000_000_000 + i)
}

function measure (): { heap: number, rss: number } {
  gc!(); gc!()
  const m = process.memoryUsage()
  return { heap: m.heapUsed + m.arrayBuffers, rss: m.rss }
}

async function main (): Promise<void> {
  let keep: unknown
  const before = measure()
  const started = performance.now()
  if (variant === 'nodecat') {
    const manager = new SessionManager({ route: 'bench', processExpiresFrequency: 0 })
    await manager.start()
    for (let i = 0; i < count; i++) {
      const rs = manager.open([])
      fill((n, v) => rs.session.set(n, v), i)
      await rs.end({ replicate: true })
    }
    if (manager.stats().sessions !== count) throw new Error(`expected ${count} sessions, have ${manager.stats().sessions}`)
    keep = manager
  } else {
    const map = new Map<string, Record<string, unknown>>()
    for (let i = 0; i < count; i++) {
      const s: Record<string, unknown> = {}
      fill((n, v) => { s[n] = v }, i)
      map.set(`${Math.random().toString(36).slice(2).padEnd(24, 'x')}.bench`, s)
    }
    keep = map
  }
  const ms = performance.now() - started
  const after = measure()
  process.stdout.write(JSON.stringify({ variant, count, heapPerSession: (after.heap - before.heap) / count, rssPerSession: (after.rss - before.rss) / count, createPerSecond: count / (ms / 1000), kept: keep !== undefined }) + '\n')
}

main().then(() => process.exit(0), (err: unknown) => { process.stderr.write(String((err as Error).stack ?? err) + '\n'); process.exit(1) })
