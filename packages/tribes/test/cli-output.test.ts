/**
 * What the CLI prints: human lines and JSON lines for member events and doctor checks, and
 * flag errors rewritten in the user's words.
 */
import t from 'tap'
import { createOutput } from '../src/cli/output.js'
import { inFlagWords, parseFlags, channelOptionsFromFlags } from '../src/cli/args.js'
import type { Member } from '../src/types.js'

const member: Member = {
  id: '10.0.0.11:4000/1f6f133d0098460eae4115e0512d252d',
  host: '10.0.0.11',
  port: 4000,
  uniqueId: '1f6f133d0098460eae4115e0512d252d',
  domain: '',
  aliveTime: 12345,
  meta: { protocol: 1, role: 'node', route: 'tomcat1', http: 'http://10.0.0.11:8080' }
}

t.test('human lines', async (t) => {
  const lines: string[] = []
  const out = createOutput(false, (l) => lines.push(l))
  out.event('memberAdded', { member })
  out.event('memberDisappeared', { member, reason: 'timeout' })
  out.event('foreignMember', { member: { ...member, meta: null } })
  out.check('fail', 'key', 'no key')
  t.match(lines[0], /^\+ memberAdded\s+10\.0\.0\.11:4000\/1f6f\S+\s+node route=tomcat1 http:\/\/10\.0\.0\.11:8080\s+up 12\.3s$/)
  t.match(lines[1], /^- memberDisappeared .* reason=timeout$/)
  t.match(lines[2], /foreign \(not nodecat\)/)
  t.equal(lines[3], 'fail key: no key')
})

t.test('JSON lines', async (t) => {
  const lines: string[] = []
  const out = createOutput(true, (l) => lines.push(l))
  out.event('memberDisappeared', { member, reason: 'shutdown' })
  out.check('ok', 'multicast', 'fine')
  const ev = JSON.parse(lines[0]!)
  t.equal(ev.event, 'memberDisappeared')
  t.equal(ev.reason, 'shutdown')
  t.same(ev.member, member)
  t.match(ev.time, /^\d{4}-\d\d-\d\dT/)
  t.same(JSON.parse(lines[1]!), { check: 'multicast', status: 'ok', message: 'fine' })
})

t.test('channel option names become flags in messages', async (t) => {
  t.equal(inFlagWords('membership.dropTime must be an integer >= 11, got 5'), '--drop-time must be an integer >= 11, got 5')
  t.equal(inFlagWords('invalid cluster key: key decodes to 3 bytes'), 'invalid cluster key: --key decodes to 3 bytes')
  t.match(inFlagWords('no cluster key is set; set key/keyFile, or insecure: true to accept'), /set --key\/--key-file, or --insecure to accept/)
})

t.test('flags become channel options', async (t) => {
  const o = channelOptionsFromFlags(parseFlags(['--static', '127.0.0.1:4000,127.0.0.1:4001', '--frequency', '200', '--drop-time', '900', '--route', 'r1', '--domain', 'red', '--receiver-port', '0']), 'tool')
  t.same(o, {
    membership: { type: 'static', members: ['127.0.0.1:4000', '127.0.0.1:4001'], frequency: 200, dropTime: 900 },
    port: 0,
    domain: 'red',
    meta: { role: 'tool', route: 'r1' }
  })
  t.throws(() => parseFlags(['--nope']), { code: 'TRIBES_ERR_USAGE', message: /--nope/ })
  t.throws(() => channelOptionsFromFlags(parseFlags(['--key', 'a', '--key-file', 'b']), 'tool'), { message: /--key or --key-file/ })
})
