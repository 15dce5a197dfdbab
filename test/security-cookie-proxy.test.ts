/**
 * The session cookie's Secure flag behind a TLS-terminating proxy, through the real balancer and
 * a real node (processes on 127.0.0.1). The node trusts X-Forwarded-Proto from the balancer's
 * address only (--trust-proxy 127.0.0.1); the balancer passes a client's X-Forwarded-Proto on
 * only with trustForwarded: true (for when a TLS proxy is its only client), and otherwise says
 * what its own connection was (plain http).
 * - default balancer: a client claiming "https" gets no Secure cookie (the claim is replaced);
 * - trustForwarded balancer behind a TLS proxy: "https" from the proxy gives Secure, "http" does not.
 */
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startCluster } from './lib/cluster.js'
import { startNode } from './lib/proc.js'
import { freePorts } from './lib/ports.js'

/** POST /count without a cookie: the attributes of the session cookie set in the answer */
async function newCookie (base: string, proto?: string): Promise<string[]> {
  const res = await fetch(`${base}/count`, { method: 'POST', headers: { accept: 'application/json', ...(proto ? { 'x-forwarded-proto': proto } : {}) }, signal: AbortSignal.timeout(10_000) })
  await res.text()
  const c = res.headers.getSetCookie().find((s) => s.startsWith('JSESSIONID='))
  if (c === undefined) throw new Error(`no session cookie from ${base} (${res.status})`)
  return c.split(';').slice(1).map((a) => a.trim().toLowerCase().split('=')[0]!)
}

t.test('Secure only when https is said by a trusted hop, through balancer and node', async (t) => {
  const c = await startCluster(t, { nodes: 1, nodeArgs: ['--trust-proxy', '127.0.0.1'] })
  const node = c.nodes[0]!
  await c.waitWorkerState(node.route, ['OK'])

  t.notOk((await newCookie(c.balancerUrl, 'https')).includes('secure'), 'default balancer: a client\'s "https" claim does not reach the node')
  t.notOk((await newCookie(c.balancerUrl)).includes('secure'), 'plain http: no Secure')
  t.ok((await newCookie(c.balancerUrl)).includes('httponly'), 'HttpOnly always')

  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-cookie-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const [port] = await freePorts(1)
  const config = path.join(dir, 'balancer.json')
  writeFileSync(config, JSON.stringify({ host: '127.0.0.1', port, trustForwarded: true, workers: [{ route: node.route, url: node.url }] }))
  const lb = startNode(t, 'balancer', 'cli.js', ['--config', config])
  await lb.waitFor((l) => l.msg === 'balancer started', 30_000, 'balancer started')
  const behindTls = `http://127.0.0.1:${port}`
  t.ok((await newCookie(behindTls, 'https')).includes('secure'), 'TLS proxy says https → Secure')
  t.notOk((await newCookie(behindTls, 'http')).includes('secure'), 'TLS proxy says http → no Secure')
})
