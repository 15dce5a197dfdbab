/**
 * The built nodecat-tribes CLI as a user runs it: keygen, usage errors (exit 2 naming the
 * flag), doctor on a bad key file, and two `members --json --static` processes on 127.0.0.1
 * that see each other, then one leaves cleanly.
 */
import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startNode, type TestProcess } from '../../../test/lib/proc.js'
import { freePorts } from '../../../test/lib/ports.js'

async function run (t: Parameters<typeof startNode>[0], args: string[]): Promise<{ code: number | null, p: TestProcess }> {
  const p = startNode(t, 'tribes', 'cli.js', args)
  const { code } = await p.exited
  return { code, p }
}

t.test('keygen prints a base64 key of 32 bytes, different every time', async (t) => {
  const a = await run(t, ['keygen'])
  const b = await run(t, ['keygen'])
  t.equal(a.code, 0)
  const key = String(a.p.lines[0]?.msg)
  t.match(key, /^[A-Za-z0-9+/]+=*$/)
  t.equal(Buffer.from(key, 'base64').length, 32)
  t.not(String(b.p.lines[0]?.msg), key)
})

t.test('bad usage exits 2 with a message naming the flag', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['members', '--bogus'], /--bogus/],
    [['members', '--ttl', '300'], /--ttl must be an integer between 0 and 255/],
    [['members', '--frequency', 'often'], /--frequency/],
    [['members', '--drop-time', '100', '--frequency', '200'], /--drop-time/],
    [['members', '--static', 'nowhere'], /--static/],
    [['members', '--receiver-address', 'localhost'], /--receiver-address must be an IP address/],
    [['members', '--mcast-address', '10.0.0.1', '--receiver-address', '127.0.0.1'], /--mcast-address/],
    [['members', '--key', 'tooshort', '--receiver-address', '127.0.0.1', '--receiver-port', '0'], /--key/],
    [['members', '--route', 'has space'], /--route/],
    [['members', '--duration', '-1'], /--duration/],
    [['frob'], /unknown command "frob"/],
    [[], /usage: nodecat-tribes/]
  ]
  for (const [args, message] of cases) {
    const { code, p } = await run(t, args)
    t.equal(code, 2, `${args.join(' ') || '(no args)'}: exit 2`)
    t.match(p.stderr(), message, `${args.join(' ') || '(no args)'}: names the problem`)
  }
})

t.test('members on a non-loopback address without a key is refused (exit 2) and says how to fix it', async (t) => {
  const { code, p } = await run(t, ['members', '--static', '10.201.0.9:4000', '--receiver-address', '10.201.0.8', '--receiver-port', '0'])
  t.equal(code, 2)
  t.match(p.stderr(), /--key\/--key-file, or --insecure/)
})

t.test('doctor reports a key file that is not a 32-byte key, and exits 1', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'nct-doctor-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const bad = path.join(dir, 'bad.key')
  writeFileSync(bad, 'c2hvcnQ=\n') // base64 of "short"
  const [port] = await freePorts(1)
  const { code, p } = await run(t, ['doctor', '--json', '--key-file', bad, '--static', `127.0.0.1:${port}`, '--receiver-port', String(port)])
  t.equal(code, 1)
  const key = p.lines.find((l) => l.check === 'key')
  t.equal(key?.status, 'fail')
  t.match(key?.message, /decodes to 5 bytes \(must be 32/)
  t.match(key?.message, /keygen/)
  t.same(p.lines.filter((l) => l.status === 'fail').map((l) => l.check), ['key'], 'only the key check fails')
  const missing = await run(t, ['doctor', '--key-file', path.join(dir, 'nope.key'), '--static', `127.0.0.1:${port}`])
  t.equal(missing.code, 1)
  t.match(missing.p.lines.map((l) => l.msg).join('\n'), /^fail key: .*cannot be read/m, 'human line for an unreadable key file')
})

t.test('doctor: a loopback receiver address with remote static members fails', async (t) => {
  const { code, p } = await run(t, ['doctor', '--json', '--static', '127.0.0.1:4000,10.201.0.2:4000', '--receiver-address', '127.0.0.1', '--insecure'])
  t.equal(code, 1)
  t.ok(p.lines.some((l) => l.check === 'receiver-address' && l.status === 'fail' && /connect to themselves/.test(l.message)), 'says peers would connect to themselves')
})

t.test('doctor: every receiver port taken fails', async (t) => {
  const net = await import('node:net')
  // --receiver-port 65535 makes the range 65535..65535: hold that one port (if someone else
  // already holds it, it is just as taken)
  const srv = net.createServer()
  const held = await new Promise<boolean>((resolve) => { srv.once('error', () => resolve(false)); srv.listen(65535, '127.0.0.1', () => resolve(true)) })
  t.teardown(async () => { if (held) await new Promise((resolve) => srv.close(resolve)) })
  const { code, p } = await run(t, ['doctor', '--json', '--static', '127.0.0.1:1', '--receiver-port', '65535'])
  const ports = p.lines.find((l) => l.check === 'receiver-port')
  t.equal(ports?.status, 'fail')
  t.match(ports?.message, /every port 65535\.\.65535 on 127\.0\.0\.1 is taken/)
  t.equal(code, 1)
})

t.test('two members --json --static on 127.0.0.1 see each other; one leaves cleanly', async (t) => {
  const [pa, pb] = await freePorts(2)
  const common = ['members', '--json', '--static', `127.0.0.1:${pa},127.0.0.1:${pb}`, '--frequency', '200', '--drop-time', '1500']
  const a = startNode(t, 'tribes', 'cli.js', [...common, '--receiver-port', String(pa), '--route', 'a'])
  const b = startNode(t, 'tribes', 'cli.js', [...common, '--receiver-port', String(pb), '--route', 'b'])
  const ja = await a.waitFor((l) => l.event === 'joined', 20000, 'a joined')
  const jb = await b.waitFor((l) => l.event === 'joined', 20000, 'b joined')
  t.equal(ja.member.port, pa)
  t.equal(ja.member.meta.route, 'a')
  const aSawB = await a.waitFor((l) => l.event === 'memberAdded' && l.member.id === jb.member.id, 20000, 'a sees b')
  await b.waitFor((l) => l.event === 'memberAdded' && l.member.id === ja.member.id, 20000, 'b sees a')
  t.same(aSawB.member.meta, { protocol: 1, role: 'tool', route: 'b' })
  b.signal('SIGTERM')
  const gone = await a.waitFor((l) => l.event === 'memberDisappeared', 20000, 'a sees b leave')
  t.equal(gone.member.id, jb.member.id)
  t.equal(gone.reason, 'shutdown')
  const bExit = await b.exited
  t.equal(bExit.code, 0, 'b exits 0 after leaving')
  t.ok(b.lines.some((l) => l.event === 'left' && l.why === 'SIGTERM'), 'b printed that it left')
  a.signal('SIGINT')
  t.equal((await a.exited).code, 0)
})
