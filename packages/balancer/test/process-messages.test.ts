/** --workers n: how the admin sums the serving processes' counters, and how a worker takes the owner's state. */
import t from 'tap'
import { mergeRetired, retire, sumStatus } from '../src/process-messages.js'
import type { BalancerStatus } from '../src/status.js'
import type { WorkerStatus } from '../src/worker.js'
import { WorkerHealth, type WorkerState } from '../src/worker-states.js'

function worker (route: string, state: WorkerState, counts: Partial<WorkerStatus> = {}): WorkerStatus {
  return { route, address: `http://127.0.0.1:1/${route}`, lbfactor: 1, activation: 'active', state, redirect: null, domain: null, source: 'static', inFlight: 0, requests: 0, errors: 0, sessionsRouted: 0, lastError: null, connectionLimit: 128, ...counts }
}

function status (listen: string | null, counts: Partial<BalancerStatus['balancer']>, workers: WorkerStatus[]): BalancerStatus {
  return {
    balancer: { listen, uptimeSeconds: 1, method: 'requests', stickySession: true, stickySessionForce: false, requests: 0, inFlight: 0, retries: 0, websockets: 0, clientErrors: 0, connectionsRefused: { perIp: 0 }, answered: {}, adminRefused: {}, workers: { total: workers.length, ok: 0, error: 0, recovering: 0 }, ...counts },
    workers
  }
}

t.test('sumStatus: counters summed over processes, states and admin refusals from the owner', async (t) => {
  const owner = status(null, { adminRefused: { LB_ERR_ADMIN_BAD_HOST: 2 } }, [worker('a', 'ERROR'), worker('b', 'OK')])
  const p1 = status('127.0.0.1:8080', { requests: 10, inFlight: 1, retries: 2, answered: { LB_ERR_NO_WORKER: 1 }, connectionsRefused: { perIp: 3 }, hedges: { sent: 1, wonByHedge: 1, wonByOriginal: 0 } }, [worker('a', 'OK', { requests: 4, errors: 1, lastError: { code: 'ECONNREFUSED', at: '2026-01-01T00:00:01.000Z' } }), worker('b', 'OK', { requests: 6, sessionsRouted: 6, inFlight: 1 })])
  const p2 = status('127.0.0.1:8080', { requests: 5, answered: { LB_ERR_NO_WORKER: 2, LB_ERR_BAD_GATEWAY: 1 }, hedges: { sent: 2, wonByHedge: 0, wonByOriginal: 2 } }, [worker('a', 'OK', { requests: 1, errors: 1, lastError: { code: 'UND_ERR_CONNECT_TIMEOUT', at: '2026-01-01T00:00:02.000Z' } }), worker('b', 'OK', { requests: 4 }), worker('gone', 'OK', { requests: 99 })])
  const s = sumStatus(owner, [p1, p2])
  t.equal(s.balancer.listen, '127.0.0.1:8080', 'the listen address from the processes (the owner has none)')
  t.match(s.balancer, { requests: 15, inFlight: 1, retries: 2, connectionsRefused: { perIp: 3 }, answered: { LB_ERR_NO_WORKER: 3, LB_ERR_BAD_GATEWAY: 1 }, adminRefused: { LB_ERR_ADMIN_BAD_HOST: 2 } })
  t.same(s.balancer.hedges, { sent: 3, wonByHedge: 1, wonByOriginal: 2 })
  t.same(s.workers.map((w) => [w.route, w.state, w.requests, w.errors, w.sessionsRouted, w.inFlight]), [['a', 'ERROR', 5, 2, 0, 0], ['b', 'OK', 10, 0, 6, 1]], 'states from the owner; a route the owner no longer has is left out')
  t.equal(s.workers[0]!.lastError?.code, 'UND_ERR_CONNECT_TIMEOUT', 'the newest last error')
  t.equal(owner.balancer.requests, 0, 'the owner\'s status is not changed')
})

t.test('a dead process keeps its counts, with nothing in flight', async (t) => {
  const dead = status('x', { requests: 7, inFlight: 3 }, [worker('a', 'OK', { requests: 7, inFlight: 3 })])
  const r = retire(dead)
  t.equal(r.balancer.inFlight, 0)
  t.equal(r.workers[0]!.inFlight, 0)
  const both = mergeRetired(r, retire(status('x', { requests: 2 }, [worker('a', 'OK', { requests: 1 }), worker('b', 'OK', { requests: 1 })])))
  t.equal(both.balancer.requests, 9)
  t.same(both.workers.map((w) => [w.route, w.requests]), [['a', 8], ['b', 1]])
  t.equal(mergeRetired(null, r), r)
})

t.test('adopt: a worker takes the owner\'s state and ERROR time; RECOVERING follows on the same clock', async (t) => {
  const changes: string[] = []
  const h = new WorkerHealth({ recoverTime: 1000, failuresToError: 2, rise: 1, fall: 1 }, (from, to, reason) => changes.push(`${from}>${to} ${reason}`))
  const errorAt = Date.now() - 400
  h.adopt('ERROR', errorAt, 'state owner')
  t.equal(h.state(), 'ERROR')
  t.equal(h.errorAt, errorAt)
  t.equal(h.state(errorAt + 1000), 'RECOVERING', 'recoverTime counts from the owner\'s ERROR time')
  h.claimProbe()
  h.adopt('RECOVERING', errorAt, 'state owner')
  t.equal(h.probing, true, 'a probe in flight here is kept while the owner says RECOVERING')
  h.adopt('ERROR', Date.now(), 'state owner')
  t.equal(h.probing, false, 'and dropped when the owner says ERROR')
  h.adopt('OK', 0, 'state owner')
  t.equal(h.state(), 'OK')
  t.same(changes, ['OK>ERROR state owner', 'ERROR>RECOVERING recover time passed', 'RECOVERING>ERROR state owner', 'ERROR>OK state owner'])
})
