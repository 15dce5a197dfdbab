/**
 * How long a node with multicast membership waits for its members at start (root only: real
 * multicast between network namespaces). Heartbeats here are 5 s apart (drop time 30 s), so the
 * old rule (two heartbeat periods) would wait 10 s, and a running member's periodic heartbeat
 * can take up to 5 s to come:
 * - a node with no peer ends its wait because nobody answered within the first window, not at
 *   the wait's upper limit;
 * - a second node that starts while the first holds sessions hears it at once (the first answers
 *   a member it hears for the first time), ends its wait because the members that answered
 *   settled, and holds every session of the first before it serves.
 */
import t from 'tap'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createTestNet, netnsSkipReason } from './lib/netns.js'
import { clusterKeyFile } from './lib/proc.js'
import { SHOP_APP } from './lib/cluster.js'

const skip = netnsSkipReason()
const CLIENT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'lib', 'shop-request.mjs')
const USERS = 12

t.test('multicast start: no peer ends the wait after the first window; a peer holding sessions is heard at once and its sessions come first', { skip }, async (t) => {
  const keyFile = clusterKeyFile(t, 'nodecat-start-')
  const net = await createTestNet(t, { members: 2 })
  const [nsA, nsB] = net.names as [string, string]
  const start = (ns: string, route: string): ReturnType<typeof net.spawnNode> => {
    const addr = net.address(ns)
    return net.spawnNode(ns, 'was-node', 'cli.js', [
      '--jvm-route', route, '--http', `${addr}:8080`, '--receiver', `${addr}:4000`, '--bind', addr, '--key-file', keyFile,
      '--app', SHOP_APP, '--frequency', '5000', '--drop-time', '30000'
    ])
  }
  const request = async (ns: string, url: string, method: 'GET' | 'POST', cookie = '', form?: Record<string, string>): Promise<any> =>
    JSON.parse((await net.exec(ns, process.execPath, [CLIENT, url, method, cookie, form === undefined ? '' : JSON.stringify(form)])).trim().split('\n').pop()!)

  const a = start(nsA, 'a')
  const aKnown = await a.waitFor((l) => l.event === 'members-known', 60_000, 'a: members known')
  t.match(aKnown, { members: 0, ended: 'first-window' }, 'alone: the wait ended because nobody answered within the first window')
  await a.waitFor((l) => l.event === 'node-ready', 60_000, 'a ready')

  const urlA = `http://${net.address(nsA)}:8080`
  const cookies: string[] = []
  for (let i = 0; i < USERS; i++) {
    const r = await request(nsA, `${urlA}/login`, 'POST', '', { user: `u${i}` })
    t.equal(r.status, 200, `u${i} logged in on a`)
    cookies.push(r.cookie)
  }
  t.equal(new Set(cookies).size, USERS, 'every user has a session of their own')

  const b = start(nsB, 'b')
  const bKnown = await b.waitFor((l) => l.event === 'members-known', 60_000, 'b: members known')
  t.match(bKnown, { members: 1, ended: 'settled' }, 'b heard a (which answered it at once) and ended its wait when the answers settled')
  await b.waitFor((l) => l.event === 'node-ready', 60_000, 'b ready')
  const status = await request(nsB, `http://${net.address(nsB)}:8080/_nodecat/status`, 'GET')
  t.equal(status.status, 200, 'b status page')
  t.equal(status.body.sessions.count, USERS, `b held all ${USERS} sessions of a when it became ready`)
  t.ok(a.lines.some((l) => l.msg === 'member added' && l.route === 'b'), 'a heard b')
})
