/**
 * Fuzzing a node's AJP listener over real sockets on 127.0.0.1: valid AJP streams (CPings, Forward
 * Requests with and without bodies, their body packets) mutated with fast-check (bit flips,
 * truncation, lying lengths, inserted and deleted bytes) or replaced by random bytes, each sent on
 * its own connection, which the node must close or keep serving. The node never throws, counts every
 * connection it closed for an error under an AJP_ERR_* (or WAS_ERR_AJP_RESPONSE) code, and still
 * serves an honest front end afterwards.
 *
 * NODECAT_FUZZ_RUNS=<n> runs the property n times; NODECAT_FUZZ_SEED / NODECAT_FUZZ_PATH replay.
 */
import t from 'tap'
import fc from 'fast-check'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { encodeCPing, encodeForwardRequest, encodeRequestBodyChunk } from '@nodecat/protocol'
import { freePorts } from '../../../test/lib/ports.js'
import { fuzzParams, mutate, byteMutation } from '../../../test/lib/fuzz.js'
import { testNode, until } from './helpers/service-nodes.js'
import { AjpTestClient, forwardRequest, replied } from './helpers/ajp-client.js'

const app = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../test/fixtures/ajp/app.js')

const uriArb = fc.constantFrom('/count', '/hash', '/stream?bytes=20000', '/served', '/nothing', '/count;jsessionid=x.n1')
const streamArb = fc.array(fc.oneof(
  fc.constant(encodeCPing()),
  fc.record({ uri: uriArb, method: fc.constantFrom('GET', 'POST', 'HEAD', 'PATCH'), body: fc.option(fc.uint8Array({ maxLength: 300 })) }).map(({ uri, method, body }) => {
    const headers: Array<[string, string]> = [['host', 'www.example']]
    if (body !== null) headers.push(['content-length', String(body.length)])
    const parts = [encodeForwardRequest(forwardRequest({ uri, method, headers }))]
    if (body !== null && body.length > 0) parts.push(encodeRequestBodyChunk(Buffer.from(body)))
    return Buffer.concat(parts)
  })
), { minLength: 1, maxLength: 4 }).map((parts) => Buffer.concat(parts))

const lengthValue = fc.oneof(fc.constantFrom(0, 1, 0x12340000, 0x1ffc, 0x1ffd, 0xffff, -1), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }))
const inputArb = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(streamArb, fc.array(byteMutation(lengthValue), { minLength: 1, maxLength: 4 })).map(([s, m]) => mutate(s, m)) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 400 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: streamArb }
)

/** send the bytes, half-close, and wait (bounded) until the node closes the connection */
async function throwAt (port: number, bytes: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1')
    const timer = setTimeout(() => { s.destroy(); reject(new Error('the node kept the connection open 10 s after the peer ended it')) }, 10_000)
    s.on('error', () => {})
    s.on('data', () => {})
    s.on('close', () => { clearTimeout(timer); resolve() })
    s.end(bytes)
  })
}

t.test('hostile AJP streams: closed or served, counted by code, never a crash; an honest front end is served after', async (t) => {
  const [http, receiver] = await freePorts(2)
  const { node } = await testNode(t, 'n1', { http: http!, receiver: receiver! }, [], { app, ajp: { port: 0 }, sessionTracking: 'cookie,url' })
  const port = node.ajp!.address()!.port
  let runs = 0
  await fc.assert(fc.asyncProperty(inputArb, async (bytes) => {
    runs++
    await throwAt(port, bytes)
  }), fuzzParams(150))
  await until(() => node.ajp!.stats.connections === 0, 'every fuzzed connection is closed')
  const codes = Object.keys(node.ajp!.stats.errors)
  t.same(codes.filter((c) => !/^AJP_ERR_[A-Z_]+$/.test(c) && c !== 'WAS_ERR_AJP_RESPONSE'), [], `errors counted only by AJP codes: ${JSON.stringify(node.ajp!.stats.errors)}`)
  t.ok(Object.values(node.ajp!.stats.errors).reduce((a, b) => a + b, 0) > 0, 'mutated streams were refused')
  t.ok(node.ajp!.stats.requests > 0, `requests that survived mutation were served (${node.ajp!.stats.requests} in ${runs} runs)`)
  const c = await AjpTestClient.connect(port)
  t.teardown(() => c.close())
  t.equal(await c.cping(), 'cpong')
  const r = replied(await c.request(forwardRequest({ uri: '/count' })))
  t.equal(r.status, 200, 'the node still serves')
  t.equal(r.reuse, true)
})
