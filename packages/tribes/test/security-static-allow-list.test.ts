/**
 * Static membership's list is an allow-list (issue 12 §4): a process on 127.0.0.1 whose own
 * static list named the real members was accepted as a member by both, although neither listed
 * it, and received what they replicated. Now a member's heartbeats and messages count only when
 * the receiver its blob advertises is listed and its connection comes from a listed host;
 * everything else is dropped as `not-listed` and nothing is ever sent to it.
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import crypto from 'node:crypto'
import type { Channel, ChannelOptions, Member } from '../src/index.js'
import { createChannel, encodeEnvelopeFrame, encodeMember, FrameParser, generateKey, hostToBytes, isAck, isFailAck, packValue } from '../src/index.js'
import { StaticAllowList } from '../src/membership/static-allow-list.js'
import { freePorts } from '../../../test/lib/ports.js'
import { waitUntil, sleep } from '@nodecat/testkit'

interface Node { ch: Channel, got: unknown[] }

async function node (t: Test, port: number, listed: number[], route: string, extra: ChannelOptions = {}): Promise<Node> {
  const ch = createChannel({
    port,
    autoBind: 1,
    sendMode: 'sync',
    timeout: 10_000,
    meta: { route },
    ...extra,
    membership: { type: 'static', members: listed.map((p) => `127.0.0.1:${p}`), frequency: 100, dropTime: 1500 }
  })
  const got: unknown[] = []
  ch.onMessage((v) => { got.push(v) })
  await ch.start()
  t.teardown(() => ch.stop())
  return { ch, got }
}

const blobOf = (host: string, port: number): Buffer => encodeMember({
  aliveTime: 10, port, securePort: -1, udpPort: -1, host: hostToBytes(host), command: Buffer.alloc(0), domain: Buffer.alloc(0), uniqueId: crypto.randomBytes(16), payload: Buffer.alloc(0)
})

t.test('a process that lists the members but is not listed by them never joins and never receives a message', async (t) => {
  const [pa, pb, pc] = await freePorts(3)
  const a = await node(t, pa!, [pa!, pb!], 'a')
  const b = await node(t, pb!, [pa!, pb!], 'b')
  const c = await node(t, pc!, [pa!, pb!, pc!], 'intruder')
  await waitUntil('a and b to see each other', () => a.ch.members().length === 1 && b.ch.members().length === 1)
  await waitUntil('the intruder\'s heartbeats refused by both', () => [a, b].every((x) => (x.ch.stats().dropped['not-listed'] ?? 0) >= 5))
  for (const [x, name] of [[a, 'a'], [b, 'b']] as const) {
    t.same(x.ch.members().map((m) => m.meta?.route), [name === 'a' ? 'b' : 'a'], `${name} lists only its listed peer`)
    t.ok((x.ch.stats().dropped['first-frame-not-listed'] ?? 0) >= 1, `${name} closed the intruder's connection`)
  }
  t.same(c.ch.members(), [], 'the intruder hears from nobody: nobody lists it')

  const sent = await a.ch.send({ secret: 'the session' })
  t.same(sent.delivered.map((m) => m.meta?.route), ['b'], 'a sends to its members: b alone')
  t.same(b.got, [{ secret: 'the session' }])
  t.same(c.got, [], 'the intruder received nothing')

  // the intruder writes to a directly, as a member would
  const forged = await c.ch.send({ forged: 'sync' }, { to: a.ch.local, mode: 'sync' })
  t.equal(forged.failed[0]?.error.code, 'TRIBES_ERR_REMOTE_PROCESSING', 'a sync message from it is answered FAIL_ACK')
  await c.ch.send({ forged: 'async' }, { to: a.ch.local, mode: 'async' })
  await c.ch.send({ forged: 'ack' }, { to: a.ch.local, mode: 'ack' })
  await waitUntil('the forged async and ack messages counted', () => (a.ch.stats().dropped['not-listed'] ?? 0) >= 8)
  await sleep(300)
  t.same(a.got, [], 'nothing of it reached a\'s handlers')
})

t.test('with a key too: a member that holds the key but is not listed is refused as not-listed', async (t) => {
  const key = generateKey()
  const [pa, pb, pc] = await freePorts(3)
  const a = await node(t, pa!, [pa!, pb!], 'a', { key })
  const b = await node(t, pb!, [pa!, pb!], 'b', { key })
  await node(t, pc!, [pa!, pb!, pc!], 'unlisted', { key })
  await waitUntil('a and b to see each other', () => a.ch.members().length === 1 && b.ch.members().length === 1)
  await waitUntil('the unlisted member refused by both', () => [a, b].every((x) => (x.ch.stats().dropped['not-listed'] ?? 0) >= 3))
  t.same(a.ch.members().map((m: Member) => m.meta?.route), ['b'])
  t.same(b.ch.members().map((m: Member) => m.meta?.route), ['a'])
  t.notOk(a.ch.stats().dropped.decrypt, 'its frames were authentic: the list, not the key, refused them')
})

t.test('a listed address claimed from an unlisted source host is refused', async (t) => {
  const [pa, pb] = await freePorts(2)
  const a = await node(t, pa!, [pa!, pb!], 'a')
  const frame = (v: unknown): Buffer => encodeEnvelopeFrame({ options: 7, timestamp: Date.now(), uniqueId: crypto.randomBytes(16), sender: blobOf('127.0.0.1', pb!) }, 'app', packValue(v))
  const reply = async (localAddress: string): Promise<string> => {
    const s = net.connect({ port: pa!, host: '127.0.0.1', localAddress })
    t.teardown(() => s.destroy())
    const parser = new FrameParser({ maxFrameSize: 64 })
    return await new Promise<string>((resolve) => {
      s.on('data', (chunk) => { for (const f of parser.push(chunk)) resolve(isAck(f) ? 'ack' : isFailAck(f) ? 'fail' : 'other') })
      s.on('error', () => resolve('error'))
      s.on('close', () => resolve('closed'))
      s.write(frame(`from ${localAddress}`))
    })
  }
  t.equal(await reply('127.0.0.2'), 'fail', 'b\'s address, but the connection comes from 127.0.0.2, which is not listed')
  t.same(a.got, [])
  t.equal(await reply('127.0.0.1'), 'ack', 'the same frame from the listed host is taken (without a key nothing tells it from b)')
  t.same(a.got, ['from 127.0.0.1'])
})

t.test('StaticAllowList: receivers and source hosts, in any spelling of the address', async (t) => {
  const list = new StaticAllowList([{ host: '127.0.0.1', port: 4000 }, { host: '0:0:0:0:0:0:0:1', port: 4001 }, { host: '192.168.1.11', port: 4000 }])
  t.ok(list.listsBlob(blobOf('127.0.0.1', 4000)))
  t.ok(list.listsBlob(blobOf('::1', 4001)), 'IPv6 compared as bytes')
  t.ok(list.listsBlob(blobOf('192.168.1.11', 4000)))
  t.notOk(list.listsBlob(blobOf('127.0.0.1', 4001)), 'listed host, other port')
  t.notOk(list.listsBlob(blobOf('127.0.0.2', 4000)), 'listed port, other host')
  t.notOk(list.listsBlob(blobOf('192.168.1.12', 4000)))
  t.notOk(list.listsBlob(Buffer.alloc(20)), 'a blob too short to say')
  t.notOk(list.listsBlob(Buffer.alloc(80)), 'a blob of zeros')
  for (const from of ['127.0.0.1:51000', '::ffff:127.0.0.1:51000', '::1:51000', '192.168.1.11:4000']) t.ok(list.listsSource(from), `source ${from}`)
  for (const from of ['127.0.0.2:51000', '192.168.1.12:4000', '::2:1', 'garbage', '']) t.notOk(list.listsSource(from), `source ${from}`)
  t.notOk(new StaticAllowList([]).admits(blobOf('127.0.0.1', 4000), '127.0.0.1:5'), 'an empty list admits nobody')
})
