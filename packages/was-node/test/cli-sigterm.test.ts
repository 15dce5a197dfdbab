import t from 'tap'
import net from 'node:net'
import { startNode as startProcess } from '../../../test/lib/proc.js'
import { freePorts } from '../../../test/lib/ports.js'
import { shopApp, until } from './helpers/service-nodes.js'
import { request, cookieValue } from './helpers/http-client.js'

t.test('SIGTERM stops a real nodecat-was process cleanly: exit 0, its peer logs it leaving (shutdown), sessions live on', async (t) => {
  const [httpA, httpB, rcvA, rcvB] = await freePorts(4)
  const args = (route: string, http: number, rcv: number, peer: number) => [
    '--jvm-route', route, '--http', `127.0.0.1:${http}`, '--receiver', `127.0.0.1:${rcv}`, '--auto-bind', '1',
    '--static', `127.0.0.1:${peer}`, '--frequency', '200', '--app', shopApp, '--log-level', 'debug'
  ]
  const a = startProcess(t, 'was-node', 'cli.js', args('procA', httpA!, rcvA!, rcvB!))
  // one after the other: this test is about stopping (simultaneous starts are the manager's tests)
  await a.waitFor((l) => l.event === 'node-started', 30000, 'A started')
  const b = startProcess(t, 'was-node', 'cli.js', args('procB', httpB!, rcvB!, rcvA!))
  await a.waitFor((l) => l.event === 'member-added' && l.member?.route === 'procB', 30000, 'A to log B joining')
  await b.waitFor((l) => l.event === 'member-added' && l.member?.route === 'procA', 30000, 'B to log A joining')
  await b.waitFor((l) => l.event === 'node-started', 30000, 'B started')

  const made = await request(`http://127.0.0.1:${httpA}`, '/count', { method: 'POST', headers: { accept: 'application/json' } })
  const id = cookieValue(made.setCookies)!
  t.match(id, /\.procA$/)

  a.signal('SIGTERM')
  const { code, signal } = await a.exited
  t.equal(code, 0, 'exit code 0')
  t.equal(signal, null)
  t.ok(a.lines.some((l) => l.event === 'node-stopping' && l.reason === 'SIGTERM'), 'A logged the stop and why')
  t.ok(a.lines.some((l) => l.event === 'node-stopped'), 'A logged that it stopped')
  const left = await b.waitFor((l) => l.event === 'member-disappeared' && l.member?.route === 'procA', 20000, 'B to log A leaving')
  t.equal(left.reason, 'shutdown', 'the peer saw a clean leave, not a timeout')

  const onB = await until(async () => {
    const r = await request(`http://127.0.0.1:${httpB}`, '/api/state', { headers: { accept: 'application/json', cookie: `JSESSIONID=${id}` } })
    return r.json().count === 1 ? r : null
  }, 'the session on B')
  t.equal(onB!.json().jvmRoute, 'procB', 'the session survived the stop of its node')

  b.signal('SIGINT')
  t.equal((await b.exited).code, 0, 'SIGINT: exit 0 too')
})

t.test('SIGTERM while the node is still starting (waiting for its members) also ends in a clean stop, exit 0', async (t) => {
  const [http, rcv, silent] = await freePorts(3)
  // the listed peer accepts connections but never answers (as a frozen process does): the node
  // waits for it (up to dropTime, 60 s here) instead of starting empty
  const sockets = new Set<net.Socket>()
  const frozen = net.createServer((s) => { sockets.add(s); s.on('error', () => {}); s.on('close', () => sockets.delete(s)) })
  await new Promise<void>((resolve) => frozen.listen(silent, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); frozen.close() })
  const p = startProcess(t, 'was-node', 'cli.js', [
    '--jvm-route', 'early', '--http', `127.0.0.1:${http}`, '--receiver', `127.0.0.1:${rcv}`, '--auto-bind', '1',
    '--static', `127.0.0.1:${silent}`, '--drop-time', '60000', '--app', shopApp
  ])
  await p.waitFor((l) => l.msg === 'membership started', 30000, 'the channel to join')
  p.signal('SIGTERM')
  const { code } = await p.exited
  t.equal(code, 0, 'exit 0')
  t.ok(p.lines.some((l) => l.event === 'node-stopped'), 'stopped cleanly')
  t.notOk(p.lines.some((l) => l.event === 'node-started'), 'it never claimed to have started')
  t.equal(p.stderr(), '', 'nothing on stderr')
})
