/**
 * A session id is a credential: whoever has it is logged in. No log line and no error message of
 * the session manager may carry one; they name a session by sessionRef() instead, which is the
 * same on every node and across a binder rename.
 */
import t from 'tap'
import { cluster, request } from './helpers/session-cluster.js'
import { sessionRef } from '../src/session/id.js'

t.test('binder, conflict and size-limit lines name the session by reference, never by id', async (t) => {
  const { hub, nodes: [t1, t2] } = await cluster(t, ['tomcat1', 'tomcat2'], { maxSessionBytes: 2048 })
  const r = await request(t1!, [], (s) => { s.set('n', 1) })
  const base = r.id!.split('.')[0]!
  await hub.settle()
  const moved = await request(t2!, [r.id], (s) => { s.set('n', 2) }) // binder rename on tomcat2
  await hub.settle()
  // a concurrent write on both nodes: one of them loses and that is logged
  hub.filter = () => 'hold'
  await request(t1!, [moved.id], (s) => { s.set('n', 3) })
  await request(t2!, [moved.id], (s) => { s.set('n', 4) })
  hub.filter = null
  hub.release()
  await hub.settle()
  t.ok(t1!.manager.stats().conflicts + t2!.manager.stats().conflicts >= 1, 'the concurrent writes conflicted')
  // too large: refused, logged, and the error message names no id
  const tooLarge = await request(t2!, [moved.id], (s) => { s.set('blob', 'x'.repeat(4096)) }).then(() => null, (err: Error) => err)
  t.match(tooLarge, { code: 'WAS_ERR_SESSION_TOO_LARGE' })
  t.notMatch(tooLarge!.message, base, 'the error message carries no session id')
  t.match(tooLarge!.message, sessionRef(base))

  const lines = [...t1!.logs, ...t2!.logs].map((l) => JSON.stringify(l))
  t.ok(lines.some((l) => l.includes('binder') && l.includes(sessionRef(base))), 'the binder line names the session by reference')
  t.ok(lines.some((l) => l.includes('too large') && l.includes(sessionRef(base))), 'so does the size-limit line')
  t.ok(lines.some((l) => /conflict|lost|losing/i.test(l) && l.includes(sessionRef(base))), 'and the conflict line')
  t.same(lines.filter((l) => l.includes(base)), [], 'no line carries the session id')
  t.equal(sessionRef(r.id!), sessionRef(moved.id!), 'the reference survives the rename')
})
