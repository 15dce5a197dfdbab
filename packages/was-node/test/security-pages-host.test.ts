/**
 * A node's own pages (/_nodecat/*) as a DNS-rebinding page sees them (issue 12 §5): a page whose
 * name was made to resolve to the node's address reaches it with its own name in Host and must
 * not read the members' addresses, routes and counters. The node's URL, localhost (on loopback)
 * and configured names keep working; the app's own routes are not touched. Requests are written
 * by hand so that Host is exactly what a browser would send.
 */
import t from 'tap'
import os from 'node:os'
import net from 'node:net'
import { freePorts } from '../../../test/lib/ports.js'
import { nodeHostNames } from '../src/service/page-guard.js'
import { resolveNodeOptions } from '../src/service/options.js'
import { gatherOptions } from '../src/service/sources.js'
import { testNode } from './helpers/service-nodes.js'

interface Answer { status: number, head: string, body: string }

async function ask (port: number, text: string): Promise<Answer> {
  const got = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let data = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error('no answer in 20 s')) }, 20_000)
    socket.setEncoding('latin1')
    socket.on('data', (c: string) => { data += c })
    socket.on('error', () => {})
    socket.on('close', () => { clearTimeout(timer); resolve(data) })
    socket.write(text)
  })
  const m = /^HTTP\/1\.1 (\d{3})[^\r]*\r\n([\s\S]*?)\r\n\r\n([\s\S]*)$/.exec(got)
  if (m === null) throw new Error(`not an HTTP answer: ${JSON.stringify(got.slice(0, 200))}`)
  return { status: Number(m[1]), head: m[2]!, body: m[3]! }
}

const get = async (port: number, path: string, host: string | null, extra = ''): Promise<Answer> =>
  await ask(port, `GET ${path} HTTP/1.1\r\n${host === null ? '' : `Host: ${host}\r\n`}${extra}Connection: close\r\n\r\n`)

t.test('the /_nodecat/ pages answer only to the node\'s own Host names; the app is not touched', async (t) => {
  const [http, receiver] = await freePorts(2)
  const { node, lines } = await testNode(t, 'solo', { http: http!, receiver: receiver! }, [], { http: { address: '127.0.0.1', port: http!, allowedHosts: ['Pi1.Example'] } })

  let refusals = 0
  for (const host of ['evil.example', `evil.example:${http}`, `127.0.0.1.evil.example:${http}`, '10.0.0.1', `[::2]:${http}`]) {
    for (const path of ['/_nodecat/status', '/_nodecat/status?format=json', '/_nodecat/metrics', '/_nodecat/status;jsessionid=x']) {
      const a = await get(http!, path, host, 'Accept: text/html\r\n')
      t.equal(a.status, 421, `Host ${host}, ${path}: 421`)
      t.equal(JSON.parse(a.body).code, 'WAS_ERR_BAD_HOST')
      t.notMatch(a.body, /solo|members|127\.0\.0\.1/, 'nothing of the status in the refusal')
      refusals++
    }
  }
  const twoHosts = await get(http!, '/_nodecat/status', 'a', 'Host: b\r\n')
  t.equal(twoHosts.status, 400, 'two Host headers: 400')
  t.equal(JSON.parse(twoHosts.body).code, 'WAS_ERR_DUPLICATE_HOST', 'refused by the request screen, before the pages')
  t.equal((await get(http!, '/_nodecat/status', `127.0.0.1:${http}`, `Host: 127.0.0.1:${http}\r\n`)).status, 400, 'two Host headers, both ours: 400')
  const none = await ask(http!, 'GET /_nodecat/status HTTP/1.0\r\n\r\n')
  t.equal(none.status, 400, 'no Host (HTTP/1.0): 400')
  t.equal(JSON.parse(none.body).code, 'WAS_ERR_MISSING_HOST')

  for (const host of [new URL(node.url).host, `localhost:${http}`, 'LOCALHOST', '127.0.0.1', `127.0.0.1:${http! + 3}`, 'pi1.example', 'pi1.example.']) {
    const a = await get(http!, '/_nodecat/status', host)
    t.equal(a.status, 200, `Host ${host}: served (the port is not compared)`)
    t.equal(JSON.parse(a.body).jvmRoute, 'solo')
  }
  t.equal((await fetch(`${node.url}/_nodecat/metrics`)).status, 200, 'fetch by the node\'s URL (the balancer\'s health check, the tests): served')

  const app = await get(http!, '/api/state', 'shop.example.com', 'Accept: application/json\r\n')
  t.equal(app.status, 200, 'the app answers to its public name: the guard is for /_nodecat/ only')

  const doc = await (await fetch(`${node.url}/_nodecat/status`)).json() as { pages: { refused: Record<string, number> } }
  // why 1: two Host headers are refused before any route by the request screen (WAS_ERR_DUPLICATE_HOST),
  // so the pages' guard counts only the request without a Host
  t.same(doc.pages.refused, { WAS_ERR_BAD_HOST: refusals, WAS_ERR_MISSING_HOST: 1 }, 'every refusal of the pages\' guard counted in the status')
  t.match(await (await fetch(`${node.url}/_nodecat/metrics`)).text(), new RegExp(`nodecat_pages_refused_total\\{route="solo",code="WAS_ERR_BAD_HOST"\\} ${refusals}`), 'and in the metrics')
  t.ok(lines.some((l) => l.event === 'page-refused' && l.code === 'WAS_ERR_BAD_HOST'), 'and logged')
})

t.test('the names: listen address, advertised host, localhost on loopback (the host name off it), every interface on a wildcard, configured ones', async (t) => {
  t.same([...nodeHostNames('127.0.0.1', 'http://127.0.0.1:8080', [])].sort(), ['127.0.0.1', 'localhost'])
  t.same([...nodeHostNames('192.168.1.11', 'http://192.168.1.11:8080', ['pi1'])].sort(), ['192.168.1.11', os.hostname().toLowerCase(), 'pi1'].sort(), 'off loopback: the host name, no localhost')
  const wild = nodeHostNames('0.0.0.0', 'http://192.168.1.11:8080', [])
  for (const list of Object.values(os.networkInterfaces())) for (const i of list ?? []) t.ok(wild.has(i.address.toLowerCase()), `wildcard: ${i.address}`)
  t.ok(wild.has('localhost') && wild.has(os.hostname().toLowerCase()) && wild.has('192.168.1.11'), 'wildcard: localhost, the host name, the advertised host')
  t.notOk(wild.has('evil.example'))
})

t.test('http.allowedHosts is validated once, and --allowed-hosts / NODECAT_ALLOWED_HOSTS set it', async (t) => {
  for (const bad of ['evil.example:80', '*', 'a b', 'http://x']) {
    t.throws(() => resolveNodeOptions({ http: { allowedHosts: [bad] } }), { code: 'WAS_ERR_INVALID_OPTION', message: /http\.allowedHosts/ }, `${bad} refused`)
  }
  t.same(resolveNodeOptions({ http: { allowedHosts: ['PI1', '[fe80::1]'] } }).http.allowedHosts, ['pi1', 'fe80::1'])
  t.same(resolveNodeOptions(gatherOptions(['--allowed-hosts', 'pi1,pi1.local'], {}).options).http.allowedHosts, ['pi1', 'pi1.local'])
  t.same(resolveNodeOptions(gatherOptions([], { NODECAT_ALLOWED_HOSTS: 'pi2' }).options).http.allowedHosts, ['pi2'])
  t.same(resolveNodeOptions({}).http.allowedHosts, [], 'none by default')
})
