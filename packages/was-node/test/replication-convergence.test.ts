/**
 * Property: whatever the interleaving of writes on any node, held (reordered) and dropped
 * messages, once the network delivers again and some node has written each session once more,
 * every node holds the same version and contents of every session, and nothing stays held.
 * (A node whose write lost a conflict is sent the winning copy: without that this fails.)
 */
import t from 'tap'
import fc from 'fast-check'
import { FakeHub } from './helpers/fake-channel.js'
import { FakeClock } from './helpers/clock.js'
import { SessionManager } from '../src/manager/session-manager.js'

const ROUTES = ['n1', 'n2', 'n3']

type Op =
  | { kind: 'write', node: number, session: number, key: string, value: number }
  | { kind: 'push', node: number, session: number, value: number }
  | { kind: 'net', verdict: 'deliver' | 'hold' | 'drop', from: number, to: number }
  | { kind: 'release', seed: number }
  | { kind: 'tick' }

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), node: fc.nat(2), session: fc.nat(2), key: fc.constantFrom('a', 'b', 'c'), value: fc.nat(1000) }),
  fc.record({ kind: fc.constant('push' as const), node: fc.nat(2), session: fc.nat(2), value: fc.nat(1000) }),
  fc.record({ kind: fc.constant('net' as const), verdict: fc.constantFrom('deliver' as const, 'hold' as const, 'drop' as const), from: fc.nat(2), to: fc.nat(2) }),
  fc.record({ kind: fc.constant('release' as const), seed: fc.nat(1000) }),
  fc.record({ kind: fc.constant('tick' as const) })
)

async function quiet (hub: FakeHub, managers: SessionManager[]): Promise<void> {
  const end = Date.now() + 30_000
  for (;;) {
    await hub.settle()
    await new Promise((resolve) => setTimeout(resolve, 15))
    await hub.settle()
    if (managers.every((m) => m.stats().held === 0)) return
    if (Date.now() > end) throw new Error('replication did not quiesce')
  }
}

t.test('every node converges on the same copy of every session', async (t) => {
  let runs = 0
  await fc.assert(fc.asyncProperty(fc.array(op, { maxLength: 30 }), fc.array(fc.nat(2), { minLength: 3, maxLength: 3 }), async (ops, finalNode) => {
    runs++
    const hub = new FakeHub()
    const clock = new FakeClock()
    const channels = ROUTES.map((r) => hub.channel(r))
    for (const c of channels) await c.start()
    const managers = ROUTES.map((route, i) => new SessionManager({ route, channel: channels[i]!, clock, processExpiresFrequency: 0, gapWait: 5, sessionRequestTimeout: 100 }))
    try {
      await Promise.all(managers.map(async (m) => await m.start()))
      const bases: string[] = []
      for (let s = 0; s < 3; s++) {
        const rs = managers[0]!.open([])
        rs.session.set('list', [])
        await rs.end({ replicate: true })
        bases.push(rs.session.id!.split('.')[0]!)
      }
      await quiet(hub, managers)
      const lanes = new Map<string, 'deliver' | 'hold' | 'drop'>()
      hub.filter = (_m, from, to) => lanes.get(`${from.local.meta?.route}>${to.local.meta?.route}`) ?? 'deliver'
      const write = async (node: number, session: number, fn: (s: import('../src/session/types.js').SessionApi) => void) => {
        const rs = managers[node]!.open([`${bases[session]}.${ROUTES[node]}`])
        if (rs.session.id === null) { await rs.end({ replicate: true }); return } // expired/unknown here: nothing to do
        fn(rs.session)
        await rs.end({ replicate: true })
      }
      for (const o of ops) {
        if (o.kind === 'write') await write(o.node, o.session, (s) => s.set(o.key, o.value))
        else if (o.kind === 'push') await write(o.node, o.session, (s) => { (s.get<number[]>('list') ?? []).push(o.value); if (!s.has('list')) s.set('list', [o.value]) })
        else if (o.kind === 'net') { if (o.from !== o.to) lanes.set(`${ROUTES[o.from]}>${ROUTES[o.to]}`, o.verdict) }
        else if (o.kind === 'release') { let x = o.seed; hub.release(() => ((x = (x * 7 + 3) % 11) % 2) === 0) }
        else { clock.advance(1000); await hub.settle() }
      }
      hub.filter = null
      hub.release()
      await quiet(hub, managers)
      // one more write per session, on any node (maybe one with a stale copy): a node that missed
      // the last change learns of it, and a stale writer learns that its write lost
      for (let s = 0; s < 3; s++) { await write(finalNode[s]!, s, (x) => x.set('final', s)); await quiet(hub, managers) }
      for (const base of bases) {
        const copies = managers.map((m) => m.inspect(`${base}.n1`))
        const shape = copies.map((c) => c === null ? 'none' : JSON.stringify([c.version, c.attributes]))
        if (new Set(shape).size !== 1) throw new Error(`diverged on ${base}: ${shape.join(' | ')}`)
      }
    } finally {
      for (const m of managers) await m.stop()
      for (const c of channels) await c.stop()
    }
  }), { numRuns: 40, interruptAfterTimeLimit: 120_000 })
  t.ok(runs > 0, `${runs} random schedules converged`)
})
