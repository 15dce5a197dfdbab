/**
 * Fuzzing the AJP codec with fast-check:
 *
 * - encode → decode round-trips for every message, for any latin1 strings, any headers and
 *   attributes (coded or not), any method (coded or stored), at any packet size;
 * - a valid packet stream split into any chunks frames to the same payloads;
 * - random bytes and mutated packets (bit flips, truncation, lying lengths, inserted and deleted
 *   bytes) through the reader and every decoder give messages or an AjpError, never another
 *   exception, and the reader never holds more than one packet.
 *
 * NODECAT_FUZZ_RUNS=<n> runs every property n times; NODECAT_FUZZ_SEED / NODECAT_FUZZ_PATH replay.
 */
import t from 'tap'
import fc from 'fast-check'
import {
  AJP_METHODS, AJP_REQUEST_HEADERS, AJP_RESPONSE_HEADERS, AjpError, AjpPacketReader, decodeContainerMessage, decodeForwardRequest,
  decodeRequestBodyChunk, encodeCPong, encodeEndResponse, encodeForwardRequest, encodeGetBodyChunk, encodeRequestBodyChunk,
  encodeSendBodyChunk, encodeSendHeaders, encodeCPing, type AjpForwardRequest
} from '../src/index.js'
import { fuzzParams, mutate, byteMutation } from '../../../test/lib/fuzz.js'

const latin1 = (max: number): fc.Arbitrary<string> => fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)), maxLength: max })
const token = fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/)
const KNOWN_ATTRIBUTES = ['context', 'servlet_path', 'remote_user', 'auth_type', 'query_string', 'route', 'ssl_cert', 'ssl_cipher', 'ssl_session', 'secret']
const headerArb = fc.tuple(fc.oneof(fc.constantFrom(...AJP_REQUEST_HEADERS), token), latin1(40))
const attributeArb: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.tuple(fc.constantFrom(...KNOWN_ATTRIBUTES), latin1(40)),
  fc.tuple(fc.constant('ssl_key_size'), fc.integer({ min: 0, max: 0xffff }).map(String)),
  fc.tuple(fc.constantFrom('AJP_REMOTE_PORT', 'JK_LB_ACTIVATION', 'x-attr'), latin1(20))
)
const requestArb: fc.Arbitrary<AjpForwardRequest> = fc.record({
  method: fc.oneof(fc.constantFrom(...AJP_METHODS), fc.constantFrom('PATCH', 'BREW', 'X')),
  protocol: fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
  uri: latin1(60),
  remoteAddr: fc.constantFrom('127.0.0.1', '::1', '10.1.2.3'),
  remoteHost: latin1(20),
  serverName: latin1(20),
  serverPort: fc.integer({ min: 0, max: 0xffff }),
  isSsl: fc.boolean(),
  headers: fc.array(headerArb, { maxLength: 12 }),
  attributes: fc.array(attributeArb, { maxLength: 8 })
})
/** what decode gives back: coded names in their canonical spelling, a stored method as an attribute */
function expected (r: AjpForwardRequest): AjpForwardRequest {
  const headers = r.headers.map(([n, v]): [string, string] => [(AJP_REQUEST_HEADERS as readonly string[]).includes(n.toLowerCase()) ? n.toLowerCase() : n, v])
  const attributes = [...r.attributes]
  if (!(AJP_METHODS as readonly string[]).includes(r.method)) attributes.push(['stored_method', r.method])
  return { ...r, headers, attributes }
}

function onlyAjpErrors (fn: () => void): void {
  try { fn() } catch (err) { if (!(err instanceof AjpError)) throw err }
}

const lengthValue = fc.oneof(fc.constantFrom(0, 1, 0x12340000, 0x41420000, 0x1ffc, 0x1ffd, 0xffff, -1), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }))
const mutationArb = byteMutation(lengthValue)

t.test('forward requests round-trip', async (t) => {
  fc.assert(fc.property(requestArb, fc.constantFrom(8192, 16384, 65536), (r, size) => {
    let packet: Buffer
    try { packet = encodeForwardRequest(r, size) } catch (err) {
      if (err instanceof AjpError && err.code === 'AJP_ERR_MESSAGE_TOO_LARGE') return
      throw err
    }
    if (packet.length > size) throw new Error(`packet of ${packet.length} bytes at size ${size}`)
    const payloads = new AjpPacketReader('to-container', size).push(packet)
    if (payloads.length !== 1) throw new Error('not one packet')
    const back = decodeForwardRequest(payloads[0]!)
    t.same(back, expected(r))
  }), fuzzParams(300))
  t.end()
})

t.test('container messages and body packets round-trip', async (t) => {
  const respHeader = fc.tuple(fc.oneof(fc.constantFrom(...AJP_RESPONSE_HEADERS), token), latin1(40))
  fc.assert(fc.property(fc.integer({ min: 100, max: 999 }), latin1(20), fc.array(respHeader, { maxLength: 10 }), fc.uint8Array({ maxLength: 8184 }), fc.boolean(), fc.nat(0xffff),
    (status, message, headers, data, reuse, size) => {
      const h = decodeContainerMessage(encodeSendHeaders(status, message, headers).subarray(4))
      const canon = headers.map(([n, v]): [string, string] => [AJP_RESPONSE_HEADERS.find((c) => c.toLowerCase() === n.toLowerCase()) ?? n, v])
      t.same(h, { type: 'send-headers', status, message: message === '' ? String(status) : message, headers: canon })
      const chunk = decodeContainerMessage(encodeSendBodyChunk(Buffer.from(data)).subarray(4))
      t.same(chunk, { type: 'body-chunk', data: Buffer.from(data) })
      t.same(decodeContainerMessage(encodeEndResponse(reuse).subarray(4)), { type: 'end-response', reuse })
      t.same(decodeContainerMessage(encodeGetBodyChunk(size).subarray(4)), { type: 'get-body-chunk', size })
      const body = decodeRequestBodyChunk(encodeRequestBodyChunk(Buffer.from(data.subarray(0, 8186))).subarray(4))
      t.same(body, Buffer.from(data.subarray(0, 8186)))
    }), fuzzParams(100))
  t.end()
})

t.test('a packet stream split anywhere frames to the same payloads', async (t) => {
  fc.assert(fc.property(fc.array(requestArb, { maxLength: 4 }), fc.array(fc.nat(), { maxLength: 10 }), (reqs, cuts) => {
    const packets: Buffer[] = []
    for (const r of reqs) {
      try { packets.push(encodeForwardRequest(r)) } catch { continue }
      packets.push(encodeRequestBodyChunk(Buffer.from('body')), encodeRequestBodyChunk(Buffer.alloc(0)), encodeCPing())
    }
    const stream = Buffer.concat(packets)
    const points = [...new Set(cuts.map((c) => stream.length === 0 ? 0 : c % stream.length))].sort((a, b) => a - b)
    const reader = new AjpPacketReader('to-container')
    const got: Buffer[] = []
    let prev = 0
    for (const p of [...points, stream.length]) { got.push(...reader.push(stream.subarray(prev, p))); prev = p }
    t.same(got.map((b) => b.toString('hex')), packets.map((b) => b.subarray(4).toString('hex')))
  }), fuzzParams(200))
  t.end()
})

t.test('random bytes: payloads or an AjpError, never another exception, never more than one packet held', async (t) => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }), fc.boolean(), (chunks, toContainer) => {
    const reader = new AjpPacketReader(toContainer ? 'to-container' : 'from-container')
    onlyAjpErrors(() => {
      for (const c of chunks) {
        for (const p of reader.push(Buffer.from(c))) {
          if (toContainer) { onlyAjpErrors(() => decodeForwardRequest(p)); onlyAjpErrors(() => decodeRequestBodyChunk(p)) } else onlyAjpErrors(() => decodeContainerMessage(p))
        }
        if (reader.buffered > 8192) throw new Error(`reader holds ${reader.buffered} bytes`)
      }
    })
    // the same bytes straight into the decoders, with and without a plausible type byte
    for (const c of chunks) {
      const b = Buffer.from(c)
      onlyAjpErrors(() => decodeForwardRequest(b))
      onlyAjpErrors(() => decodeForwardRequest(Buffer.concat([Buffer.from([2, 2]), b])))
      onlyAjpErrors(() => decodeContainerMessage(b))
      onlyAjpErrors(() => decodeRequestBodyChunk(b))
    }
  }), fuzzParams(500))
  t.end()
})

t.test('mutated packets: a message or an AjpError, and a decoded request re-encodes', async (t) => {
  const validArb = fc.oneof(
    requestArb.map((r) => { try { return encodeForwardRequest(r) } catch { return encodeCPing() } }),
    fc.constantFrom(encodeSendHeaders(200, 'OK', [['Content-Type', 'text/html'], ['X-A', 'b']]), encodeEndResponse(true), encodeGetBodyChunk(8186), encodeCPong(),
      encodeSendBodyChunk(Buffer.from('some body')), encodeRequestBodyChunk(Buffer.from('data')))
  )
  fc.assert(fc.property(validArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (packet, mutations) => {
    const bad = mutate(packet, mutations)
    const toContainer = packet[0] === 0x12
    const reader = new AjpPacketReader(toContainer ? 'to-container' : 'from-container')
    onlyAjpErrors(() => {
      for (const p of reader.push(bad)) {
        if (toContainer) {
          onlyAjpErrors(() => {
            const r = decodeForwardRequest(p)
            // whatever decodes is a request we can forward again (its stored method included)
            onlyAjpErrors(() => decodeForwardRequest(encodeForwardRequest(r, 65536).subarray(4)))
          })
          onlyAjpErrors(() => decodeRequestBodyChunk(p))
        } else onlyAjpErrors(() => decodeContainerMessage(p))
      }
    })
    onlyAjpErrors(() => decodeForwardRequest(bad.subarray(4)))
    onlyAjpErrors(() => decodeContainerMessage(bad.subarray(4)))
  }), fuzzParams(1000))
  t.end()
})
