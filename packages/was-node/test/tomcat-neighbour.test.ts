/**
 * The Tomcat neighbour (src/neighbour): the strict SessionMessageImpl reader against every real
 * Tomcat 10.1 capture, the writer against their bytes, the NO-CONTEXT-MANAGER reply against the
 * layout the annotated captures describe (no Tomcat ever sent one in the captures), and the
 * handler: it answers a GET_ALL_SESSIONS and nothing else, and counts every other message.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { pino } from 'pino'
import { decodeChannelData, FrameParser, type ForeignMessage, type ForeignMessageHandler, type Member } from '@nodecat/tribes'
import { noContextManagerReply, readSessionMessage, writeSessionMessage, SESSION_EVENT, SESSION_MESSAGE_CLASS, decodeModifiedUtf8, encodeModifiedUtf8, type StreamRefused, answerTomcatNeighbours, MAX_CONTEXT_NAME } from '@nodecat/protocol'

const fixtures = fileURLToPath(new URL('../../tribes/test/fixtures/tomcat10/', import.meta.url))
/** the ChannelData of the first frame of a capture */
const channelData = (file: string) => decodeChannelData(Buffer.from(new FrameParser({ maxFrameSize: 1 << 20 }).push(readFileSync(fixtures + file))[0]!))
const messageOf = (file: string): Buffer => Buffer.from(channelData(file).message)
const GET_ALL = 'tcp-from-tomcat/get-all-sessions-from-tomcat2.bin'

t.test('every real Tomcat session message reads, with the fields Tomcat itself decoded', async (t) => {
  const expect: Array<[string, number, string | null, string, number | null]> = [
    [GET_ALL, 4, 'localhost#/lab', 'GET-ALL', null],
    ['tcp-between-tomcats/get-all-sessions-tomcat2-to-tomcat1.bin', 4, 'localhost#/lab', 'GET-ALL', null],
    ['tcp-sent-by-probe/get-all-sessions-from-fake.bin', 4, 'localhost#/lab', 'GET-ALL', null],
    ['tcp-from-tomcat/session-created.bin', 1, 'localhost#/lab', '', null],
    ['tcp-from-tomcat/session-delta-counter.bin', 13, 'localhost#/lab', '6ABFE0C150ABA9B405AC6280BD6F053D.tomcat1', 218],
    ['tcp-from-tomcat/session-expired-invalidate.bin', 2, 'localhost#/lab', '', null],
    ['tcp-between-tomcats/all-session-data-3-sessions.bin', 12, 'localhost#/lab', 'SESSION-STATE', 592],
    ['tcp-between-tomcats/all-session-data-empty.bin', 12, 'localhost#/lab', 'SESSION-STATE', null],
    ['tcp-from-tomcat/transfer-complete-to-fake.bin', 14, 'localhost#/lab', 'SESSION-STATE-TRANSFERRED', null],
    ['tcp-from-tomcat/session-id-changed-from-tomcat2.bin', 15, 'localhost#/lab', 'A79EEBEE38C7A2CCB766F5CF84F2A0F5.tomcat1', 48]
  ]
  for (const [file, event, context, sessionId, bytes] of expect) {
    const r = readSessionMessage(messageOf(file))
    if (!r.ok) { t.fail(`${file}: ${r.detail}`); continue }
    t.equal(r.message.eventType, event, `${file}: event`)
    t.equal(r.message.contextName, context, `${file}: context`)
    if (sessionId !== '') t.equal(r.message.sessionId, sessionId, `${file}: session id`)
    if (bytes !== null) t.equal(r.message.sessionBytes, bytes, `${file}: session bytes counted, not kept`)
    t.equal(r.message.timestampSet, true)
  }
  const getAll = readSessionMessage(messageOf(GET_ALL))
  t.ok(getAll.ok && getAll.message.uniqueId === 'GET-ALL-localhost#/lab' && getAll.message.timestamp === 1795638029321n, 'unique id and timestamp as Tomcat decoded them')
})

t.test('the writer reproduces real Tomcat messages byte for byte', async (t) => {
  for (const file of [GET_ALL, 'tcp-between-tomcats/get-all-sessions-tomcat2-to-tomcat1.bin', 'tcp-from-tomcat/transfer-complete-to-fake.bin', 'tcp-between-tomcats/transfer-complete.bin']) {
    const bytes = messageOf(file)
    const r = readSessionMessage(bytes)
    if (!r.ok) { t.fail(file); continue }
    t.same(writeSessionMessage(r.message), bytes, file)
  }
  t.same(messageOf(GET_ALL).subarray(4, 4 + SESSION_MESSAGE_CLASS.length), SESSION_MESSAGE_CLASS, 'the class descriptors are the captured ones')
})

t.test('the NO-CONTEXT-MANAGER reply: the layout of the annotated captures, for the asked context', async (t) => {
  const reply = noContextManagerReply('localhost#/lab')
  const captured = messageOf(GET_ALL)
  const head = 4 + SESSION_MESSAGE_CLASS.length
  t.same(reply.subarray(0, head), captured.subarray(0, head), 'stream header and class descriptors as a Tomcat writes them (offsets 128..402 of the capture)')
  const str = (s: string) => Buffer.concat([Buffer.from([0x74, 0, s.length]), Buffer.from(s, 'latin1')])
  const values = Buffer.concat([
    Buffer.alloc(8), // ClusterMessageBase.timestamp = 0
    Buffer.from([0, 0, 0, 16]), // mEvtType = EVT_ALL_SESSION_NOCONTEXTMANAGER
    Buffer.alloc(8), // serializationTimestamp never set (ClusterSessionListener does not set it)
    Buffer.from([0]), // timestampSet = false
    str('localhost#/lab'), // mContextName (handle 0x7e0005)
    Buffer.from([0x70]), // mSession = TC_NULL
    str('NO-CONTEXT-MANAGER'), // mSessionID (handle 0x7e0006)
    str('NO-CONTEXT-MANAGER-localhost#/lab') // uniqueId (handle 0x7e0007)
  ])
  t.same(reply.subarray(head), values, 'values in field order')
  const back = readSessionMessage(reply)
  t.same(back, { ok: true, message: { eventType: SESSION_EVENT.ALL_SESSION_NOCONTEXTMANAGER, contextName: 'localhost#/lab', sessionId: 'NO-CONTEXT-MANAGER', uniqueId: 'NO-CONTEXT-MANAGER-localhost#/lab', timestamp: 0n, timestampSet: false, sessionBytes: null } })
  const wide = noContextManagerReply('h\u00e9st#/caf\u00e9\u0000\u4e16')
  const r = readSessionMessage(wide)
  t.ok(r.ok && r.message.contextName === 'h\u00e9st#/caf\u00e9\u0000\u4e16', 'non-ASCII context names survive modified UTF-8')
})

t.test('modified UTF-8: U+0000 as c0 80, a surrogate pair as two 3-byte forms; broken forms refused', async (t) => {
  t.same(encodeModifiedUtf8('a\u0000'), Buffer.from([0x61, 0xc0, 0x80]))
  t.same(encodeModifiedUtf8('\u{1f600}'), Buffer.from([0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]))
  t.equal(decodeModifiedUtf8(Buffer.from([0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80])), '\u{1f600}')
  for (const bad of [[0x00], [0xc0], [0xe0, 0x80], [0xf0, 0x9f, 0x98, 0x80], [0x80]]) {
    let reason = 'no throw'
    try { decodeModifiedUtf8(Buffer.from(bad)) } catch (err) { reason = (err as StreamRefused).reason }
    t.equal(reason, 'bad-string', Buffer.from(bad).toString('hex'))
  }
})

t.test('anything else is refused with a reason, never read as something it is not', async (t) => {
  const getAll = messageOf(GET_ALL)
  const reason = (b: Buffer) => { const r = readSessionMessage(b); return r.ok ? 'ok' : r.reason }
  t.equal(reason(Buffer.from('not java')), 'not-java')
  t.equal(reason(Buffer.alloc(0)), 'truncated')
  t.equal(reason(Buffer.from([0xac, 0xed])), 'truncated', 'the start of a stream header, cut short')
  const otherClass = Buffer.from(getAll); otherClass[4 + 3 + 10] ^= 1 // a letter of the class name
  t.equal(reason(otherClass), 'not-session-message')
  const otherVersion = Buffer.from(getAll); otherVersion[4 + 3 + 49 + 7] = 3 // serialVersionUID 3
  t.equal(reason(otherVersion), 'not-session-message')
  t.equal(reason(Buffer.concat([getAll, Buffer.from([0])])), 'trailing-bytes')
  t.equal(reason(getAll.subarray(0, getAll.length - 1)), 'truncated')
  const head = 4 + SESSION_MESSAGE_CLASS.length
  const withValues = (v: Buffer) => Buffer.concat([getAll.subarray(0, head), v])
  const fixed = Buffer.concat([Buffer.alloc(8), Buffer.from([0, 0, 0, 4]), Buffer.alloc(8)])
  t.equal(reason(withValues(Buffer.concat([fixed, Buffer.from([2])]))), 'bad-value', 'a boolean byte of 2')
  t.equal(reason(withValues(Buffer.concat([fixed, Buffer.from([1, 0x71, 0, 0x7e, 0, 0])]))), 'bad-reference', 'a reference to a class descriptor where a string belongs')
  t.equal(reason(withValues(Buffer.concat([fixed, Buffer.from([1, 0x73])]))), 'unexpected-content', 'an object where a string belongs')
  t.equal(reason(withValues(Buffer.concat([fixed, Buffer.from([1, 0x7c])]))), 'unexpected-content', 'TC_LONGSTRING is not read')
  t.equal(reason(withValues(Buffer.concat([fixed, Buffer.from([1, 0x70, 0x75, 0x72, 0, 2, 0x5b, 0x49])]))), 'unexpected-content', 'an int[] session')
  const ok = withValues(Buffer.concat([fixed, Buffer.from([1, 0x74, 0, 1, 0x61, 0x70, 0x71, 0, 0x7e, 0, 5, 0x70])]))
  const r = readSessionMessage(ok)
  t.ok(r.ok && r.message.sessionId === 'a', 'a reference to an earlier string of the message is that string')
})

const tomcat: Member = { id: '10.77.0.12:4000/91cb', host: '10.77.0.12', port: 4000, uniqueId: '91cb6297707347fb8bafad80f5d2538e', domain: '', aliveTime: 3039, meta: null }

function neighbour (replyWith: (bytes: Buffer) => Promise<void> = async () => {}, maxInFlight?: number) {
  let handler: ForeignMessageHandler | undefined
  const channel = { onForeignMessage: (h: ForeignMessageHandler) => { handler = h; return () => { handler = undefined } } }
  const replies: Buffer[] = []
  const n = answerTomcatNeighbours(channel, { logger: pino({ level: 'silent' }), maxInFlight })
  const offer = (message: Buffer, options = 8): boolean => {
    const m: ForeignMessage = { options, timestamp: 0, uniqueId: Buffer.alloc(16), message, sender: tomcat, from: tomcat.host, reply: async (b) => { replies.push(Buffer.from(b)); await replyWith(Buffer.from(b)) } }
    return handler!(m)
  }
  return { n, offer, replies, registered: () => handler !== undefined }
}

t.test('the handler answers a GET_ALL_SESSIONS with NO-CONTEXT-MANAGER for its context, and counts it', async (t) => {
  const { n, offer, replies } = neighbour()
  t.equal(offer(messageOf(GET_ALL)), true)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(replies.length, 1)
  t.same(replies[0], noContextManagerReply('localhost#/lab'))
  t.same(n.stats(), { answeredNoContextManager: 1, dropped: {} })
})

t.test('it answers nothing else: session traffic, state, probes and broken bytes are counted drops', async (t) => {
  const { n, offer, replies } = neighbour()
  for (const f of ['tcp-from-tomcat/session-delta-counter.bin', 'tcp-from-tomcat/session-created.bin', 'tcp-between-tomcats/all-session-data-3-sessions.bin', 'tcp-from-tomcat/transfer-complete-to-fake.bin', 'tcp-from-tomcat/session-id-changed-from-tomcat2.bin']) {
    t.equal(offer(messageOf(f)), true, `${f} taken (and dropped here)`)
  }
  offer(channelData('tcp-from-tomcat/tcp-fail-detect-from-tomcat1.bin').message, 1)
  offer(messageOf(GET_ALL), 9)
  offer(Buffer.from('garbage'))
  const noContext = readSessionMessage(messageOf(GET_ALL))
  if (!noContext.ok) throw new Error('fixture')
  offer(writeSessionMessage({ ...noContext.message, contextName: null }))
  offer(writeSessionMessage({ ...noContext.message, contextName: 'x'.repeat(MAX_CONTEXT_NAME + 1) }))
  await new Promise((resolve) => setImmediate(resolve))
  t.same(replies, [], 'no reply to any of them')
  t.same(n.stats(), { answeredNoContextManager: 0, dropped: { 'other-event': 5, 'byte-message': 2, 'not-java': 1, 'no-context': 1, 'context-too-long': 1 } })
})

t.test('answers under way are bounded; a failed reply is counted, not an answer', async (t) => {
  const pending: Array<() => void> = []
  const { n, offer } = neighbour(() => new Promise<void>((resolve) => pending.push(resolve)), 2)
  offer(messageOf(GET_ALL)); offer(messageOf(GET_ALL)); offer(messageOf(GET_ALL))
  t.same(n.stats().dropped, { busy: 1 }, 'the third while two are under way')
  pending.forEach((resolve) => resolve())
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(n.stats().answeredNoContextManager, 2)
  const failing = neighbour(async () => { throw new Error('connection refused') })
  failing.offer(messageOf(GET_ALL))
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.same(failing.n.stats(), { answeredNoContextManager: 0, dropped: { 'reply-failed': 1 } })
})

t.test('close() removes the handler', async (t) => {
  const x = neighbour()
  t.equal(x.registered(), true)
  x.n.close()
  t.equal(x.registered(), false)
})

t.test('/_nodecat/metrics: answers and drops of the neighbour, by answer and reason', async (t) => {
  const { metricsText } = await import('../src/service/metrics.js')
  const text = metricsText({ jvmRoute: 'n1', httpUrl: () => 'http://127.0.0.1:1', startedAt: Date.now(), channel: () => null, sessions: () => null, tomcatNeighbour: () => ({ answeredNoContextManager: 1, dropped: { 'other-event': 3, truncated: 1 } }) })
  t.match(text, 'nodecat_tomcat_answers_total{route="n1",answer="no_context_manager"} 1\n')
  t.match(text, 'nodecat_foreign_messages_dropped_total{route="n1",reason="other-event"} 3\n')
  t.match(text, 'nodecat_foreign_messages_dropped_total{route="n1",reason="truncated"} 1\n')
  const before = metricsText({ jvmRoute: 'n1', httpUrl: () => '', startedAt: Date.now(), channel: () => null, sessions: () => null })
  t.match(before, 'nodecat_tomcat_answers_total{route="n1",answer="no_context_manager"} 0\n', 'zero before the channel exists')
})

t.test('/_nodecat/status: the same counts under tomcatNeighbour', async (t) => {
  const { statusDocument } = await import('../src/service/status.js')
  const doc = statusDocument({ jvmRoute: 'n1', httpUrl: () => '', startedAt: Date.now(), channel: () => null, sessions: () => null, workerSiblings: () => null, tomcatNeighbour: () => ({ answeredNoContextManager: 2, dropped: { busy: 1 } }) })
  t.same(doc.tomcatNeighbour, { answeredNoContextManager: 2, dropped: { busy: 1 } })
  t.equal(statusDocument({ jvmRoute: 'n1', httpUrl: () => '', startedAt: Date.now(), channel: () => null, sessions: () => null, workerSiblings: () => null }).tomcatNeighbour, null)
})
