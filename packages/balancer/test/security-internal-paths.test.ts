/**
 * A node's own pages (/_nodecat/status, /_nodecat/metrics: member addresses and ports, routes,
 * session counts, replication counters) are for the operator and the balancer's health checks,
 * which reach the node directly. A client of the balancer must not read them through it: every
 * spelling of the /_nodecat prefix is answered 404 (LB_ERR_NOT_MOUNTED) and never reaches a
 * worker, while other paths still do, and the health check keeps the worker OK.
 */
import t from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { call, startBalancer, until } from './helpers.js'

t.test('/_nodecat/* of the workers is not reachable through the balancer', async (t) => {
  const seen: string[] = []
  const server = http.createServer((req, res) => {
    if (req.headers['user-agent']?.includes('health') !== true) seen.push(req.url ?? '')
    res.end('{"ok":true,"members":[{"host":"10.0.0.12","port":4000}]}')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const { base, lb } = await startBalancer(t, { workers: [{ route: 'n1', url }], healthCheck: { interval: 100 } })
  await until(() => lb.workers()[0]!.state === 'OK', 'worker OK by its health check (direct /_nodecat/status)')

  const internal = ['/_nodecat/status', '/_nodecat/metrics', '/_nodecat/status?format=json', '/_nodecat', '/_nodecat;jsessionid=x/status',
    '/%5Fnodecat/status', '/%5fnodecat/metrics', '//_nodecat/status', '/_NODECAT/status', '/_nodecat%2Fstatus', '/.//_nodecat/status']
  for (const path of internal) {
    const r = await call(base + path)
    t.equal(r.status, 404, `${path}: 404`)
    t.equal(r.headers['x-nodecat-error'], 'LB_ERR_NOT_MOUNTED', `${path}: not mounted`)
  }
  t.same(seen, [], 'none of them reached the worker')
  for (const path of ['/', '/app/_nodecat/status', '/_nodecatalog']) {
    t.equal((await call(base + path)).status, 200, `${path} is still proxied`)
  }
  t.same(seen, ['/', '/app/_nodecat/status', '/_nodecatalog'])
})
