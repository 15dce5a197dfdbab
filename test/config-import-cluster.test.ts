/**
 * A working cluster started from the classic setup's own files: two `nodecat-was --server-xml`
 * nodes (tomcat1, tomcat2) and `nodecat-balancer --workers-properties … --jk-mount-file …`.
 * The files are the fixtures with the test's addresses and free ports written in (192.168.0.x →
 * 127.0.0.1, the receiver and AJP ports → free ones, AJP address 0.0.0.0 → 127.0.0.1). The files'
 * multicast membership is overridden by --static on 127.0.0.1 (never multicast on the host), and
 * the HTTP connector's shared port 8080 by --http: both prove that flags win. A session that is
 * sticky to tomcat1 survives SIGKILL of tomcat1 (by PID): same login, same cart, on tomcat2.
 * Run with the balancer's workers as HTTP (--prefer-http, a per-route map) and as AJP/1.3
 * (ajp:// workers to each node's --server-xml AJP connector).
 */
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startNode, repoRoot, type TestProcess } from './lib/proc.js'
import { freePorts } from './lib/ports.js'
import { SHOP_APP, ShopClient, describe } from './lib/cluster.js'
import { waitUntil } from '@nodecat/testkit'

const FIXTURES = path.join(repoRoot, 'test', 'fixtures', 'classic-setup')
const HOST = '127.0.0.1'

for (const via of ['http', 'ajp'] as const) {
  t.test(`the classic setup's files run a cluster; a session sticky to tomcat1 survives its SIGKILL (balancer to the nodes over ${via})`, async (t) => {
    const [r1, r2, a1, a2, h1, h2, lb, admin] = await freePorts(8)
    const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-classic-cluster-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const write = (name: string, edit: (text: string) => string): string => {
      const file = path.join(dir, name)
      writeFileSync(file, edit(readFileSync(path.join(FIXTURES, name), 'utf8').replace(/192\.168\.0\.\d+/g, HOST)))
      return file
    }
    const xml = {
      tomcat1: write('was1-server.xml', (x) => x.replace('port="4000"', `port="${r1}"`).replace('port="18009"', `port="${a1}"`).replace('address="0.0.0.0"', `address="${HOST}"`)),
      tomcat2: write('was2-server.xml', (x) => x.replace('port="4001"', `port="${r2}"`).replace('port="28009"', `port="${a2}"`).replace('address="0.0.0.0"', `address="${HOST}"`))
    }
    const workers = write('workers.properties', (x) => x.replace('port=18009', `port=${a1}`).replace('port=28009', `port=${a2}`))
    const mounts = write('httpd-jk.conf', (x) => x)
    const http = { tomcat1: h1!, tomcat2: h2! }
    const peer = { tomcat1: r2!, tomcat2: r1! }

    const nodes = new Map<string, TestProcess>()
    // one after the other, as Tomcats start: the second takes the first's sessions
    for (const route of ['tomcat1', 'tomcat2'] as const) {
      const node = startNode(t, 'was-node', 'cli.js', [
        '--server-xml', xml[route], '--static', `${HOST}:${peer[route]}`, '--http', `${HOST}:${http[route]}`,
        '--app', SHOP_APP, '--shutdown-timeout', '5000',
        // why sync here: the cart must be on tomcat2 when tomcat1 dies right after the answer (the file says 8, async)
        '--channel-send-options', 'sync'
      ])
      nodes.set(route, node)
      const imported = await node.waitFor((l) => l.event === 'server-xml-imported', 60_000, `${route} lists its server.xml import`)
      const taken = new Map((imported.taken as Array<{ flag: string, value: unknown, overriddenBy?: string }>).map((i) => [i.flag, i]))
      t.equal(taken.get('--jvm-route')?.value, route, `${route}: its jvmRoute comes from the file`)
      t.equal(taken.get('--jvm-route')?.overriddenBy, undefined, `${route}: and is not overridden`)
      t.equal(taken.get('--membership')?.overriddenBy, 'flag', `${route}: the multicast membership is overridden by --static`)
      t.ok((imported.ignored as Array<{ item: string }>).some((i) => i.item === '<Receiver maxThreads="6">'), `${route}: maxThreads listed as ignored`)
      await node.waitFor((l) => l.event === 'node-ready', 90_000, `${route} ready`)
    }

    const balancer = startNode(t, 'balancer', 'cli.js', [
      '--workers-properties', workers, '--jk-mount-file', mounts,
      ...(via === 'http' ? ['--prefer-http', `tomcat1=${h1},tomcat2=${h2}`] : []),
      '--listen', `${HOST}:${lb}`, '--admin', `${HOST}:${admin}`, '--health-interval', '500', '--connect-timeout', '1000'
    ])
    const imported = await balancer.waitFor((l) => l.event === 'workers-properties-imported', 30_000, 'the balancer lists its import')
    t.equal(imported.lbWorker, 'blang_balancer')
    await balancer.waitFor((l) => l.msg === 'balancer started', 30_000, 'balancer started')
    const status = async (): Promise<Array<{ route: string, address: string, state: string }>> => {
      const res = await fetch(`http://${HOST}:${admin}/status`, { signal: AbortSignal.timeout(5000) })
      return (await res.json() as { workers: Array<{ route: string, address: string, state: string }> }).workers
    }
    await waitUntil('both workers OK', async () => (await status().catch(() => [])).filter((w) => w.state === 'OK').length === 2, { timeoutMs: 30_000, everyMs: 200 })
    const urls = Object.fromEntries((await status()).map((w) => [w.route, w.address]))
    t.same(urls, via === 'http'
      ? { tomcat1: `http://${HOST}:${h1}`, tomcat2: `http://${HOST}:${h2}` }
      : { tomcat1: `ajp://${HOST}:${a1}`, tomcat2: `ajp://${HOST}:${a2}` }, 'the workers are the lb worker\'s members')

    // a session on tomcat1: new sessions are spread over both, so a few logins find one there
    const base = `http://${HOST}:${lb}`
    let user: ShopClient | null = null
    let name = ''
    const tried: ShopClient[] = []
    for (let i = 0; i < 8 && user === null; i++) {
      const c = new ShopClient(base)
      tried.push(c)
      const login = await c.login(`ann${i}`)
      t.equal(login.status, 200, `login ${i} through the balancer`)
      if (c.route === 'tomcat1') { user = c; name = `ann${i}` }
    }
    if (user === null) throw new Error(`no login landed on tomcat1 in 8 tries (${tried.map((c) => c.route).join(',')})`)
    for (const item of ['tea', 'milk']) t.equal((await user.addToCart(item)).status, 200, `add ${item}`)
    const before = await user.state()
    t.equal(before.state?.jvmRoute, 'tomcat1', 'sticky to tomcat1')
    t.same(before.state?.cart, ['tea', 'milk'])

    const victim = nodes.get('tomcat1')!
    t.comment(`SIGKILL tomcat1, pid ${victim.child.pid}`)
    victim.signal('SIGKILL')
    await victim.exited

    const after = await user.state()
    t.equal(after.status, 200, 'the first request after the kill succeeds')
    t.equal(after.state?.jvmRoute, 'tomcat2', 'served by tomcat2')
    t.equal(after.state?.user, name, 'still logged in')
    t.same(after.state?.cart, ['tea', 'milk'], 'same cart')
    t.equal(user.route, 'tomcat2', 'the cookie now names tomcat2')
    t.equal((await user.addToCart('jam')).status, 200, 'and the session goes on there')
    t.same((await user.state()).state?.cart, ['tea', 'milk', 'jam'])
    t.same(user.failures().map(describe), [], 'no request failed')
  })
}
