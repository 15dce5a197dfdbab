import t from 'tap'
import { startNode as startProcess } from '../../../test/lib/proc.js'
import { freePorts } from '../../../test/lib/ports.js'
import { shopApp, until } from './helpers/service-nodes.js'
import { request, cookieValue } from './helpers/http-client.js'

t.test('two nodecat-was processes started together both start, and a session moves between them', async (t) => {
  const [httpA, httpB, rcvA, rcvB] = await freePorts(4)
  const args = (route: string, http: number, rcv: number, peer: number) => [
    '--jvm-route', route, '--http', `127.0.0.1:${http}`, '--receiver', `127.0.0.1:${rcv}`, '--auto-bind', '1',
    '--static', `127.0.0.1:${peer}`, '--frequency', '200', '--app', shopApp, '--channel-send-options', 'sync'
  ]
  const a = startProcess(t, 'was-node', 'cli.js', args('bootA', httpA!, rcvA!, rcvB!))
  const b = startProcess(t, 'was-node', 'cli.js', args('bootB', httpB!, rcvB!, rcvA!))
  await a.waitFor((l) => l.event === 'node-started', 60000, 'A started')
  await b.waitFor((l) => l.event === 'node-started', 60000, 'B started')
  await until(async () => (await request(`http://127.0.0.1:${httpA}`, '/_nodecat/status')).json().members.length === 1, 'A to list B')

  const post = (port: number, path: string, body: string, id?: string) => request(`http://127.0.0.1:${port}`, path, {
    method: 'POST', body, headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded', ...(id ? { cookie: `JSESSIONID=${id}` } : {}) }
  })
  const login = await post(httpA!, '/login', 'user=bo')
  const id = cookieValue(login.setCookies)!
  await post(httpA!, '/cart', 'item=bread', id)
  // sync send mode: the change is on B once A answered
  const onB = await request(`http://127.0.0.1:${httpB}`, '/api/state', { headers: { accept: 'application/json', cookie: `JSESSIONID=${id}` } })
  t.same({ user: onB.json().user, cart: onB.json().cart, jvmRoute: onB.json().jvmRoute }, { user: 'bo', cart: ['bread'], jvmRoute: 'bootB' })
  t.equal(cookieValue(onB.setCookies), `${id.split('.')[0]}.bootB`, 'B took the session over')
  const status = (await request(`http://127.0.0.1:${httpB}`, '/_nodecat/status')).json()
  t.equal(status.stateTransfer.state === 'done' || status.stateTransfer.state === 'idle', true, `B's state transfer finished (${status.stateTransfer.state})`)
  t.notOk(a.lines.some((l) => l.level >= 50), 'A logged no errors')
  t.notOk(b.lines.some((l) => l.level >= 50), 'B logged no errors')
})
