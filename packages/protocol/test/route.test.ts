import t from 'tap'
import { isValidRoute, isWorkerRoute, JVM_ROUTE_PATTERN, WORKER_ROUTE_PATTERN, parseSessionId, routeFromName, routeOf } from '../src/index.js'

t.test('a jvmRoute: 1 to 64 letters, digits, "_" or "-"', async (t) => {
  for (const ok of ['n1', 'tomcat1', 'web-1', 'a_b', 'x'.repeat(64)]) t.ok(isValidRoute(ok), ok)
  for (const bad of ['', 'x'.repeat(65), 'a.b', 'a b', 'é', 'n1\n', 42, null]) t.notOk(isValidRoute(bad), JSON.stringify(bad))
})

t.test('a worker route may also hold dots (a foreign Tomcat\'s dotted jvmRoute); every jvmRoute is one', async (t) => {
  for (const ok of ['n1', 'dom.t1', 'a.b.c']) t.ok(isWorkerRoute(ok), ok)
  for (const bad of ['', 'x'.repeat(65), 'a b', 'a;b']) t.notOk(isWorkerRoute(bad), bad)
  t.equal(WORKER_ROUTE_PATTERN.source.replace('.', ''), JVM_ROUTE_PATTERN.source, 'the same characters plus "."')
})

t.test('splitting: the route follows the FIRST dot', async (t) => {
  t.equal(routeOf('abc.dom.t1'), 'dom.t1')
  t.equal(routeOf('abc.'), null)
  t.equal(routeOf('abc'), null)
  t.equal(routeOf('.t1'), 't1', 'any id names its route; only a nodecat id needs a base')
  const base = 'A'.repeat(24)
  t.same(parseSessionId(`${base}.n1`), { base, route: 'n1' })
  t.equal(parseSessionId(`${base}.dom.t1`), null, 'a nodecat route has no dot')
})

t.test('routeFromName: a jvmRoute from a host name', async (t) => {
  t.equal(routeFromName('pi-1'), 'pi-1')
  t.equal(routeFromName('my box+é'), 'my-box--')
  t.equal(routeFromName('x'.repeat(70)), 'x'.repeat(64))
  t.ok(isValidRoute(routeFromName('any name at all')))
  t.equal(routeFromName(''), '')
})
