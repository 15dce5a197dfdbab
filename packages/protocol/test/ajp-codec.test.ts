/**
 * The AJP codec against the wire bytes the reference (§2) and mod_jk/Tomcat give: fixed packets,
 * a Forward Request assembled by hand field by field, coded header names, the stored method, the
 * int-valued ssl_key_size, body packets, the packet-size bounds and the reader's framing.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import {
  AJP_TYPE, AJP_DEFAULT_PACKET_SIZE, AjpError, AjpPacketReader, decodeContainerMessage, decodeForwardRequest,
  decodeRequestBodyChunk, encodeCPing, encodeCPong, encodeEndResponse, encodeForwardRequest, encodeGetBodyChunk,
  encodeRequestBodyChunk, encodeSendBodyChunk, encodeSendHeaders, checkPacketSize, maxRequestBodyChunk, maxResponseBodyChunk,
  type AjpForwardRequest
} from '../src/index.js'

const hex = (b: Buffer): string => b.toString('hex')
function str (s: string): Buffer {
  const b = Buffer.alloc(s.length + 3)
  b.writeUInt16BE(s.length, 0)
  b.write(s, 2, 'latin1')
  return b
}
const int = (n: number): Buffer => Buffer.from([n >> 8, n & 0xff])
function packet (magic: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(4)
  h.writeUInt16BE(magic, 0)
  h.writeUInt16BE(payload.length, 2)
  return Buffer.concat([h, payload])
}
function codeOf (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return err instanceof AjpError ? err.code : `not an AjpError: ${String(err)}` }
  return undefined
}

t.test('the fixed packets are the reference\'s bytes', async (t) => {
  t.equal(hex(encodeCPing()), '123400010a')
  t.equal(hex(encodeCPong()), '4142000109')
  t.equal(hex(encodeEndResponse(true)), '414200020501')
  t.equal(hex(encodeEndResponse(false)), '414200020500')
  t.equal(hex(encodeGetBodyChunk(8186)), '41420003061ffa')
  t.equal(hex(encodeSendBodyChunk(Buffer.alloc(0))), '4142000403000000', 'a zero-length chunk is a flush')
  t.equal(hex(encodeSendBodyChunk(Buffer.from('hi'))), '41420006030002686900')
  t.equal(hex(encodeRequestBodyChunk(Buffer.alloc(0))), '12340000', 'end of body')
  t.equal(hex(encodeRequestBodyChunk(Buffer.from('abc'))), '12340005' + '0003' + '616263')
  t.same(AJP_TYPE, { FORWARD_REQUEST: 2, SEND_BODY_CHUNK: 3, SEND_HEADERS: 4, END_RESPONSE: 5, GET_BODY_CHUNK: 6, SHUTDOWN: 7, PING: 8, CPONG_REPLY: 9, CPING: 10 })
})

const HAND_MADE = packet(0x1234, Buffer.concat([
  Buffer.from([2, 4]), // forward request, POST
  str('HTTP/1.1'), str('/app/x;jsessionid=abc.tomcat1'), str('10.0.0.7'), str('client.example'), str('www.example'),
  int(443), Buffer.from([1]),
  int(4),
  int(0xa00b), str('www.example'), // host
  int(0xa008), str('3'), // content-length
  str('X-Custom'), str('v'),
  int(0xa009), str('JSESSIONID=abc.tomcat1'), // cookie
  Buffer.from([0x05]), str('a=1&b=2'), // query_string
  Buffer.from([0x06]), str('tomcat1'), // route
  Buffer.from([0x0b]), int(256), // ssl_key_size: an int
  Buffer.from([0x0a]), str('AJP_REMOTE_PORT'), str('51234'),
  Buffer.from([0x0a]), str('JK_LB_ACTIVATION'), str('ACT'),
  Buffer.from([0x0c]), str('s3cret'),
  Buffer.from([0xff])
]))

const HAND_MADE_REQUEST: AjpForwardRequest = {
  method: 'POST',
  protocol: 'HTTP/1.1',
  uri: '/app/x;jsessionid=abc.tomcat1',
  remoteAddr: '10.0.0.7',
  remoteHost: 'client.example',
  serverName: 'www.example',
  serverPort: 443,
  isSsl: true,
  headers: [['host', 'www.example'], ['content-length', '3'], ['X-Custom', 'v'], ['cookie', 'JSESSIONID=abc.tomcat1']],
  attributes: [['query_string', 'a=1&b=2'], ['route', 'tomcat1'], ['ssl_key_size', '256'], ['AJP_REMOTE_PORT', '51234'], ['JK_LB_ACTIVATION', 'ACT'], ['secret', 's3cret']]
}

t.test('a Forward Request assembled by hand decodes field by field, and encodes to the same bytes', async (t) => {
  const payloads = new AjpPacketReader('to-container').push(HAND_MADE)
  t.equal(payloads.length, 1)
  t.same(decodeForwardRequest(payloads[0]!), HAND_MADE_REQUEST)
  t.equal(hex(encodeForwardRequest(HAND_MADE_REQUEST)), hex(HAND_MADE), 'coded names are chosen case-insensitively')
  const mixedCase = { ...HAND_MADE_REQUEST, headers: HAND_MADE_REQUEST.headers.map(([n, v]): [string, string] => [n === 'X-Custom' ? n : n.toUpperCase(), v]) }
  t.equal(hex(encodeForwardRequest(mixedCase)), hex(HAND_MADE))
  t.same(decodeForwardRequest(encodeForwardRequest({ ...HAND_MADE_REQUEST, attributes: [['jvm_route', 'r']] }).subarray(4)).attributes, [['route', 'r']], 'jvm_route is route (0x06)')
})

t.test('methods: coded, and stored (0xFF + attribute 0x0D) for the others', async (t) => {
  const base = { ...HAND_MADE_REQUEST, attributes: [] }
  t.equal(encodeForwardRequest({ ...base, method: 'GET' })[5], 2)
  t.equal(encodeForwardRequest({ ...base, method: 'MKACTIVITY' })[5], 27)
  const stored = encodeForwardRequest({ ...base, method: 'PATCH' })
  t.equal(stored[5], 0xff)
  t.equal(hex(stored.subarray(-10)), '0d' + hex(str('PATCH')) + 'ff')
  const back = decodeForwardRequest(stored.subarray(4))
  t.equal(back.method, 'PATCH')
  t.same(back.attributes, [['stored_method', 'PATCH']])
  t.same(decodeForwardRequest(encodeForwardRequest(back).subarray(4)), back, 'a stored_method attribute is not added twice')
  const bad = Buffer.from(stored.subarray(4)); bad[1] = 28
  t.equal(codeOf(() => decodeForwardRequest(bad)), 'AJP_ERR_MALFORMED', 'method code 28 does not exist')
  const noStored = encodeForwardRequest({ ...base, method: 'GET' }).subarray(4); noStored[1] = 0xff
  t.equal(codeOf(() => decodeForwardRequest(noStored)), 'AJP_ERR_MALFORMED', '0xFF without stored_method')
})

t.test('the forward request must fit one packet (413, as mod_jk), at the packet size asked for', async (t) => {
  const big = { ...HAND_MADE_REQUEST, headers: [['x-big', 'v'.repeat(9000)]] as Array<[string, string]> }
  const err = (() => { try { encodeForwardRequest(big); return null } catch (e) { return e as AjpError } })()
  t.equal(err?.code, 'AJP_ERR_MESSAGE_TOO_LARGE')
  t.equal(err?.statusCode, 413)
  const fits = encodeForwardRequest(big, 16384)
  t.equal(fits.readUInt16BE(2), fits.length - 4)
  t.equal(codeOf(() => new AjpPacketReader('to-container').push(fits)), 'AJP_ERR_PACKET_TOO_LARGE', 'a default reader refuses it')
  t.equal(new AjpPacketReader('to-container', 16384).push(fits).length, 1)
  t.equal(codeOf(() => encodeForwardRequest(HAND_MADE_REQUEST, 4096)), 'AJP_ERR_BAD_PACKET_SIZE')
  t.equal(codeOf(() => encodeForwardRequest({ ...HAND_MADE_REQUEST, uri: '/\u20ac' })), 'AJP_ERR_NOT_ENCODABLE', 'strings are bytes (latin1)')
  t.equal(codeOf(() => encodeForwardRequest({ ...HAND_MADE_REQUEST, attributes: [['ssl_key_size', 'x']] })), 'AJP_ERR_NOT_ENCODABLE')
})

t.test('packet size bounds and chunk sizes', async (t) => {
  t.equal(checkPacketSize(8192), 8192)
  t.equal(checkPacketSize(65536), 65536)
  for (const bad of [8191, 65537, 1e4 + 0.5, '8192', Number.NaN]) t.equal(codeOf(() => checkPacketSize(bad)), 'AJP_ERR_BAD_PACKET_SIZE', String(bad))
  t.equal(maxRequestBodyChunk(), 8186)
  t.equal(maxResponseBodyChunk(), 8184)
  t.equal(maxResponseBodyChunk(65536), 65528)
  t.equal(AJP_DEFAULT_PACKET_SIZE, 8192)
  const full = encodeSendBodyChunk(Buffer.alloc(8184))
  t.equal(full.length, 8192, 'a full response chunk is one whole packet')
  t.equal(new AjpPacketReader('from-container').push(full).length, 1)
  const fullBody = encodeRequestBodyChunk(Buffer.alloc(8186))
  t.equal(fullBody.length, 8192)
  t.equal(decodeRequestBodyChunk(new AjpPacketReader('to-container').push(fullBody)[0]!).length, 8186)
})

t.test('request body payloads', async (t) => {
  t.equal(decodeRequestBodyChunk(Buffer.alloc(0)).length, 0)
  t.equal(decodeRequestBodyChunk(Buffer.from([0, 0])).length, 0, 'a zero data length is the end too')
  t.equal(decodeRequestBodyChunk(Buffer.from([0, 2, 0x61, 0x62])).toString(), 'ab')
  t.equal(codeOf(() => decodeRequestBodyChunk(Buffer.from([0, 3, 0x61, 0x62]))), 'AJP_ERR_MALFORMED')
  t.equal(codeOf(() => decodeRequestBodyChunk(Buffer.from([0]))), 'AJP_ERR_MALFORMED')
})

t.test('container messages: send headers with coded names, body, end, get body, cpong', async (t) => {
  const headers = encodeSendHeaders(200, '', [['content-type', 'text/plain'], ['Set-Cookie', 'a=b'], ['X-Node', 'n1'], ['content-length', '2']])
  const hand = packet(0x4142, Buffer.concat([
    Buffer.from([4]), int(200), str('200'), int(4),
    int(0xa001), str('text/plain'), int(0xa007), str('a=b'), str('X-Node'), str('n1'), int(0xa003), str('2')
  ]))
  t.equal(hex(headers), hex(hand), 'an empty reason goes as the number, like Tomcat (mod_jk needs one)')
  t.same(decodeContainerMessage(headers.subarray(4)), {
    type: 'send-headers', status: 200, message: '200', headers: [['Content-Type', 'text/plain'], ['Set-Cookie', 'a=b'], ['X-Node', 'n1'], ['Content-Length', '2']]
  })
  t.same(decodeContainerMessage(encodeSendBodyChunk(Buffer.from('hey')).subarray(4)), { type: 'body-chunk', data: Buffer.from('hey') })
  t.same(decodeContainerMessage(Buffer.from([3, 0, 2, 0x68, 0x69])), { type: 'body-chunk', data: Buffer.from('hi') }, 'without the trailing NUL')
  t.equal(codeOf(() => decodeContainerMessage(Buffer.from([3, 0, 3, 0x68, 0x69]))), 'AJP_ERR_MALFORMED', 'longer than the payload')
  t.same(decodeContainerMessage(encodeEndResponse(true).subarray(4)), { type: 'end-response', reuse: true })
  t.same(decodeContainerMessage(encodeEndResponse(false).subarray(4)), { type: 'end-response', reuse: false })
  t.same(decodeContainerMessage(encodeGetBodyChunk(8186).subarray(4)), { type: 'get-body-chunk', size: 8186 })
  t.same(decodeContainerMessage(encodeCPong().subarray(4)), { type: 'cpong' })
  t.equal(codeOf(() => decodeContainerMessage(Buffer.from([7]))), 'AJP_ERR_UNKNOWN_TYPE')
  t.equal(codeOf(() => decodeContainerMessage(Buffer.alloc(0))), 'AJP_ERR_MALFORMED')
  t.equal(codeOf(() => decodeContainerMessage(Buffer.from([4, 0, 200, 0, 0, 0, 0, 1, 0xa0, 0x0c, 0, 0, 0]))), 'AJP_ERR_MALFORMED', 'response header code 0xA00C does not exist')
  t.equal(codeOf(() => encodeSendHeaders(200, 'OK', [['x', 'v'.repeat(9000)]])), 'AJP_ERR_MESSAGE_TOO_LARGE')
  t.equal(encodeSendHeaders(200, 'OK', [['x', 'v'.repeat(9000)]], 16384).length > 9000, true)
})

t.test('forward request decoding refuses what it cannot read', async (t) => {
  const p = HAND_MADE.subarray(4)
  t.equal(codeOf(() => decodeForwardRequest(Buffer.concat([p, Buffer.from([0])]))), 'AJP_ERR_MALFORMED', 'bytes after 0xFF')
  t.equal(codeOf(() => decodeForwardRequest(p.subarray(0, p.length - 1))), 'AJP_ERR_MALFORMED', 'no 0xFF')
  t.equal(codeOf(() => decodeForwardRequest(Buffer.from([10]))), 'AJP_ERR_UNKNOWN_TYPE', 'a CPing is not a forward request')
  const unknownAttr = Buffer.concat([p.subarray(0, p.length - 1), Buffer.from([0x0e, 0, 0, 0, 0xff])])
  t.equal(codeOf(() => decodeForwardRequest(unknownAttr)), 'AJP_ERR_MALFORMED', 'an unknown attribute code cannot be skipped')
  const noNul = Buffer.from(p); noNul[2 + 2 + 8] = 0x41 // the NUL after "HTTP/1.1"
  t.equal(codeOf(() => decodeForwardRequest(noNul)), 'AJP_ERR_MALFORMED', 'a string without its NUL')
  const nulls = Buffer.concat([Buffer.from([2, 2]), str('HTTP/1.1'), str('/'), Buffer.from([0xff, 0xff]), Buffer.from([0xff, 0xff]), str('h'), int(80), Buffer.from([0]), int(0), Buffer.from([0xff])])
  const r = decodeForwardRequest(nulls)
  t.equal(r.remoteAddr, '', 'a null string reads as empty')
  t.equal(r.remoteHost, '')
})

t.test('the reader: any split, magic checked at once, length bounded, failed for good', async (t) => {
  const stream = Buffer.concat([encodeCPing(), HAND_MADE, encodeRequestBodyChunk(Buffer.from('abc')), encodeRequestBodyChunk(Buffer.alloc(0))])
  const whole = new AjpPacketReader('to-container').push(stream)
  t.equal(whole.length, 4)
  t.equal(whole[3]!.length, 0)
  for (let cut = 0; cut <= stream.length; cut += 7) {
    const r = new AjpPacketReader('to-container')
    const got = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))]
    t.same(got.map(hex), whole.map(hex), `cut at ${cut}`)
    t.equal(r.buffered, 0)
  }
  const byByte = new AjpPacketReader('to-container')
  const got: Buffer[] = []
  for (const b of stream) got.push(...byByte.push(Buffer.from([b])))
  t.same(got.map(hex), whole.map(hex), 'one byte at a time')
  const wrong = new AjpPacketReader('to-container')
  t.equal(codeOf(() => wrong.push(encodeCPong())), 'AJP_ERR_BAD_MAGIC', 'AB is the other direction')
  t.equal(codeOf(() => wrong.push(encodeCPing())), 'AJP_ERR_BAD_MAGIC', 'and the reader stays failed')
  t.equal(codeOf(() => new AjpPacketReader('to-container').push(Buffer.from('GET / HTTP/1.1\r\n'))), 'AJP_ERR_BAD_MAGIC', 'HTTP on the AJP port')
  t.equal(codeOf(() => new AjpPacketReader('from-container').push(Buffer.from([0x41, 0x42, 0x1f, 0xfd]))), 'AJP_ERR_PACKET_TOO_LARGE', 'refused from the header alone')
  t.equal(new AjpPacketReader('from-container').push(Buffer.from([0x41, 0x42, 0x1f, 0xfc])).length, 0, '8188 is the largest payload at 8192')
  t.equal(codeOf(() => new AjpPacketReader('to-container', 100)), 'AJP_ERR_BAD_PACKET_SIZE')
})

t.test('real mod_jk bytes (fixtures/mod-jk-1.2.48-post.json): decoded field by field, re-encoded byte for byte', async (t) => {
  const fixture = JSON.parse(readFileSync(new URL('./fixtures/mod-jk-1.2.48-post.json', import.meta.url), 'utf8')) as { payloads: string[] }
  const [cping, forward, body] = fixture.payloads.map((h) => Buffer.from(h, 'hex'))
  t.equal(hex(cping!), hex(encodeCPing().subarray(4)), 'ping_mode=A: a CPing first')
  const r = decodeForwardRequest(forward!)
  t.same(r, {
    method: 'POST',
    protocol: 'HTTP/1.1',
    uri: '/app/x;jsessionid=abc.tomcat1',
    remoteAddr: '127.0.0.1',
    remoteHost: '',
    serverName: '127.0.0.1',
    serverPort: 18180,
    isSsl: false,
    headers: [['host', '127.0.0.1:18180'], ['user-agent', 'curl/7.88.1'], ['accept', '*/*'], ['cookie', 'JSESSIONID=abc.tomcat1'], ['X-Custom', 'v'], ['content-type', 'text/plain'], ['content-length', '10']],
    attributes: [['secret', 's3cret'], ['query_string', 'a=1&b=%20'], ['route', 'tomcat1'], ['AJP_REMOTE_PORT', r.attributes[3]![1]], ['AJP_LOCAL_ADDR', '127.0.0.1'], ['JK_LB_ACTIVATION', 'ACT']]
  })
  t.match(r.attributes[3]![1], /^\d+$/, 'AJP_REMOTE_PORT is the client port')
  t.equal(hex(encodeForwardRequest(r).subarray(4)), hex(forward!), 'our encoder writes what mod_jk writes (remote_host null, coded names, attribute order)')
  t.equal(decodeRequestBodyChunk(body!).toString(), 'hello body', 'the first body packet came unasked')
  t.equal(hex(encodeRequestBodyChunk(Buffer.from('hello body')).subarray(4)), hex(body!))
})
