// The worker state machine and the one-probe rule, without sockets.
import t from 'tap'
import pino from 'pino'
import { Chooser } from '../src/choose.js'
import { resolveBalancerOptions } from '../src/options.js'
import { WorkerRegistry } from '../src/worker-registry.js'
import { WorkerHealth } from '../src/worker-states.js'

t.test('OK → ERROR → RECOVERING → OK / ERROR', async (t) => {
  const changes: string[] = []
  const h = new WorkerHealth({ recoverTime: 1000, failuresToError: 2, rise: 2, fall: 2 }, (from, to) => changes.push(`${from}>${to}`))
  h.fail('UND_ERR_SOCKET', false)
  t.equal(h.state(), 'OK', 'one failure after send is not enough')
  h.succeed(Date.now())
  h.fail('UND_ERR_SOCKET', false)
  t.equal(h.state(), 'OK', 'a success in between resets the count')
  h.fail('UND_ERR_SOCKET', false)
  t.equal(h.state(), 'ERROR', 'failuresToError in a row')
  const errorAt = h.errorAt
  t.equal(h.state(errorAt + 999), 'ERROR')
  t.notOk(h.usable(errorAt + 999))
  h.succeed(errorAt - 1)
  t.equal(h.state(errorAt + 1), 'ERROR', 'a slow request sent before the failure does not undo it')
  t.equal(h.state(errorAt + 1000), 'RECOVERING', 'after recoverTime')
  t.ok(h.usable(errorAt + 1000))
  h.claimProbe()
  t.notOk(h.usable(errorAt + 1000), 'one probe at a time')
  h.fail('ECONNREFUSED', true)
  t.equal(h.state(), 'ERROR', 'a failed probe: ERROR again')
  h.check(true, 'status 200')
  t.equal(h.state(), 'ERROR', 'one good check is not rise')
  h.check(true, 'status 200')
  t.equal(h.state(), 'OK', 'rise good checks bring it back')
  h.check(false, 'ECONNREFUSED')
  t.equal(h.state(), 'OK')
  h.check(false, 'ECONNREFUSED')
  t.equal(h.state(), 'ERROR', 'fall bad checks')
  h.fail('ECONNREFUSED', true)
  h.announced()
  t.equal(h.state(), 'RECOVERING', 'announced by tribes: probe it')
  h.gone()
  t.equal(h.state(), 'ERROR', 'gone: ERROR at once')
  t.same(changes, ['OK>ERROR', 'ERROR>RECOVERING', 'RECOVERING>ERROR', 'ERROR>OK', 'OK>ERROR', 'ERROR>RECOVERING', 'RECOVERING>ERROR'])
})

t.test('the chooser sends exactly one probe to a RECOVERING worker; nothing usable forces one probe', async (t) => {
  const o = resolveBalancerOptions({ workers: ['a=http://127.0.0.1:1', 'b=http://127.0.0.1:2'], recoverTime: 0, healthCheck: false })
  const registry = new WorkerRegistry(o, pino({ level: 'silent' }))
  for (const w of o.workers) registry.add(w, true)
  const chooser = new Chooser(registry, o)
  const a = registry.get('a')!
  const b = registry.get('b')!
  a.health.fail('x', true) // recoverTime 0: RECOVERING at once
  const picks: string[] = []
  for (let i = 0; i < 10; i++) {
    const c = chooser.choose(['a'], null)
    picks.push(c.worker!.route)
  }
  t.equal(picks.filter((p) => p === 'a').length, 1, 'one probe while it is outstanding')
  a.health.releaseProbe()
  t.equal(chooser.choose(['a'], null).worker, a, 'the next probe after release')
  a.health.releaseProbe()

  const o2 = resolveBalancerOptions({ workers: ['a=http://127.0.0.1:1', 'b=http://127.0.0.1:2'], recoverTime: 60_000, healthCheck: false })
  const r2 = new WorkerRegistry(o2, pino({ level: 'silent' }))
  for (const w of o2.workers) r2.add(w, true)
  const c2 = new Chooser(r2, o2)
  r2.get('a')!.health.fail('x', true)
  r2.get('b')!.health.fail('x', true)
  const forced = c2.choose([], null)
  t.equal(forced.worker, r2.get('a'), 'all ERROR: the one that failed first is probed')
  t.ok(forced.error === undefined && forced.probe)
  t.equal(c2.choose([], null).worker, r2.get('b'), 'a second request probes the other')
  t.same(c2.choose([], null), { error: 'LB_ERR_NO_WORKER' }, 'then nothing until a probe returns')
  t.ok(b)
  await r2.closeAll()
  await registry.closeAll()
})

t.test('options are validated with messages that name the option', async (t) => {
  t.throws(() => resolveBalancerOptions({ port: -1 }), { code: 'LB_ERR_INVALID_OPTION', message: /^port must be/ })
  t.throws(() => resolveBalancerOptions({ workers: [{ route: 'a b', url: 'http://x:1' }] }), { message: /workers\[0\]\.route/ })
  t.throws(() => resolveBalancerOptions({ workers: [{ route: 'a', url: 'http://x:1/path' }] }), { message: /workers\[0\]\.url/ })
  t.throws(() => resolveBalancerOptions({ healthCheck: { rise: 0 } }), { message: /healthCheck\.rise/ })
  t.throws(() => resolveBalancerOptions({ client: { maxHeaderSize: 1 } }), { message: /client\.maxHeaderSize/ })
  t.throws(() => resolveBalancerOptions({ mounts: ['app'] }), { message: /mounts\[0\]/ })
  t.throws(() => resolveBalancerOptions({ nosuch: 1 } as never), { message: /nosuch/ })
  t.throws(() => resolveBalancerOptions({ method: 'random' as never }), { message: /method must be one of/ })
  t.equal(resolveBalancerOptions({ workers: ['dom.t1=http://127.0.0.1:1'] }).workers[0]!.domain, 'dom', 'a dotted route implies its domain')
  t.throws(() => resolveBalancerOptions({ admin: { token: 'short-secret' } }), { message: /^admin\.token must be .*\[hidden\]/ })
  try { resolveBalancerOptions({ admin: { token: 'short-secret' } }) } catch (err) { t.notMatch((err as Error).message, 'short-secret', 'a bad token is never echoed') }
})
