/**
 * The streamed answer to get-all (transfer-answer.ts) and its packed chunks (transfer-chunk.ts):
 * acknowledgements bound the chunks in flight, a failed chunk ends the answer without
 * transfer-complete, each chunk carries the copy as it was when it was packed, and a packed chunk
 * reads back as the sessions it was written from (a damaged one is refused whole, never a crash).
 */
import t from 'tap'
import pino from 'pino'
import type { Member, SendResult } from '@nodecat/tribes'
import { SessionRecord } from '../src/session/record.js'
import { encodeValue, decodeValue } from '../src/session/codec.js'
import { toFull, type SessionMessage } from '../src/manager/messages.js'
import { answerGetAll, type AnswerHost } from '../src/manager/transfer-answer.js'
import { ChunkError, ChunkWriter, readChunk } from '../src/manager/transfer-chunk.js'
import { emptyStats } from '../src/manager/stats.js'

const LIMITS = { maxSessionBytes: 64 * 1024, maxEntries: 10_000, maxChunkSessions: 5000 }
const to = { id: 'joiner' } as unknown as Member
const base = (i: number): string => `session${String(i).padStart(20, '0')}x`

function record (i: number, route = 'n1'): SessionRecord {
  const r = new SessionRecord(base(i), route, 1000, 1800, i % 2 === 0)
  r.attributes.set('user', encodeValue('user', `user-${i}@example.org`))
  r.attributes.set('cart', encodeValue('cart', ['apple', 'pear', `item-${i}`]))
  r.attributes.set('größe ✓', encodeValue('größe ✓', { n: i, at: new Date(1_795_000_000_000 + i) }))
  r.stamp = { version: 3 + i, at: 1_795_000_000_000 + i, route }
  r.history = [{ version: 1, at: 1_795_000_000_000, route: 'n2' }, { version: 2, at: 1_795_000_000_001, route }]
  if (i % 3 === 0) r.principal = encodeValue('principal', { name: `p${i}` })
  return r
}

function table (n: number): Map<string, SessionRecord> {
  const m = new Map<string, SessionRecord>()
  for (let i = 0; i < n; i++) { const r = record(i); m.set(r.base, r) }
  return m
}

/** a host whose sync sends stay unacknowledged until the test acknowledges them */
function manualHost (): { host: AnswerHost, sent: SessionMessage[], pending: Array<(ok: boolean) => void>, inFlight: () => number } {
  const sent: SessionMessage[] = []
  const pending: Array<(ok: boolean) => void> = []
  let open = 0
  const host: AnswerHost = {
    log: pino({ level: 'silent' }),
    stats: emptyStats('n1').transfer,
    mono: () => 1000,
    send: async (msg) => {
      sent.push(msg)
      open++
      return await new Promise<SendResult>((resolve) => pending.push((ok) => {
        open--
        resolve(ok ? { delivered: [to], failed: [] } : { delivered: [], failed: [{ member: to, error: new Error('gone') as any }] })
      }))
    }
  }
  return { host, sent, pending, inFlight: () => open }
}

/** the bytes of one chunk of the first 10 sessions */
function chunkBytes (sessions: Map<string, SessionRecord>): number {
  const w = new ChunkWriter()
  for (const r of [...sessions.values()].slice(0, 10)) w.add(r, 1000)
  return w.finish().length
}

const tick = async (): Promise<void> => await new Promise((resolve) => setImmediate(resolve))
async function settle (): Promise<void> { for (let i = 0; i < 20; i++) await tick() }

t.test('a packed chunk reads back as the sessions it was written from', async (t) => {
  const w = new ChunkWriter(1024)
  const recs = [...table(50).values()]
  for (const r of recs) t.ok(w.add(r, 1500))
  t.equal(w.count, 50)
  const bytes = w.finish()
  t.equal(w.count, 0, 'the writer starts a new chunk')
  const back = readChunk(bytes, 50, LIMITS)
  t.equal(back.length, 50)
  for (let i = 0; i < recs.length; i++) {
    const want = toFull(recs[i]!, 1500)
    const got = back[i]!
    t.same({ ...got, attrs: got.attrs.map(([k, v]) => [k, decodeValue(v)]), principal: got.principal && decodeValue(got.principal) },
      { ...want, attrs: want.attrs.map(([k, v]) => [k, decodeValue(v)]), principal: want.principal && decodeValue(want.principal) }, `session ${i}`)
  }
  t.equal(back[0]!.attrs[0]![0], back[1]!.attrs[0]![0], 'an attribute name is one string per chunk')
  t.same(readChunk(new ChunkWriter().finish(), 0, LIMITS), [], 'an empty chunk')
})

t.test('a damaged chunk is refused whole with a reason, at every length and every flipped byte', async (t) => {
  const w = new ChunkWriter()
  for (const r of table(3).values()) w.add(r, 1000)
  const bytes = Buffer.from(w.finish())
  let refused = 0
  for (let n = 0; n < bytes.length; n++) {
    try {
      readChunk(bytes.subarray(0, n), 3, LIMITS)
      t.fail(`a chunk cut to ${n} bytes was read`)
    } catch (err) {
      if (err instanceof ChunkError) refused++
      else t.fail(`cut to ${n}: ${(err as Error).message}`)
    }
  }
  t.equal(refused, bytes.length, 'every truncation refused with a ChunkError')
  let outcomes = 0
  for (let i = 0; i < bytes.length; i++) {
    const bad = Buffer.from(bytes)
    bad[i] = bad[i]! ^ 0xff
    try {
      const s = readChunk(bad, 3, LIMITS)
      t.equal(s.length, 3) // a flip inside a value or a time can still read: the result is whole
      outcomes++
    } catch (err) {
      if (err instanceof ChunkError) outcomes++
      else t.fail(`byte ${i} flipped: ${(err as Error).message}`)
    }
  }
  t.equal(outcomes, bytes.length, 'never a crash')
  t.throws(() => readChunk(bytes, 4, LIMITS), { message: 'bad-chunk-count' }, 'a count that differs from the message')
  t.throws(() => readChunk(bytes, 3, { ...LIMITS, maxChunkSessions: 2 }), { message: 'bad-chunk-count' }, 'more sessions than a chunk may hold')
  t.throws(() => readChunk(bytes, 3, { ...LIMITS, maxSessionBytes: 8 }), { message: 'session-too-large' }, 'a value over the size limit')
})

t.test('acknowledgements bound the chunks in flight, and every session goes exactly once', async (t) => {
  const sessions = table(100)
  const { host, sent, pending, inFlight } = manualHost()
  // chunks of 10 sessions; a window of 2.5 chunks' bytes: at most 3 unacknowledged
  const done = answerGetAll(host, 7, to, sessions, { sessions: 10, bytes: 1 << 20, window: 2.5 * chunkBytes(sessions) })
  let most = 0
  for (let round = 0; round < 100; round++) {
    await settle()
    if (pending.length === 0) break
    most = Math.max(most, inFlight())
    t.ok(inFlight() <= 3, `round ${round}: ${inFlight()} chunks unacknowledged`)
    pending.shift()!(true)
  }
  for (let round = 0; round < 20; round++) { await settle(); while (pending.length > 0) pending.shift()!(true) }
  const outcome = await done
  t.equal(most, 3, 'the window was used: three chunks in flight at once')
  t.equal(outcome.maxInFlight, 3, 'reported')
  t.equal(outcome.complete, true)
  const chunks = sent.filter((m) => m.t === 'all-data') as Array<Extract<SessionMessage, { t: 'all-data', b: Uint8Array }>>
  t.same(chunks.map((c) => c.seq), [...Array(10).keys()], 'chunks numbered in order')
  const ids = chunks.flatMap((c) => readChunk(c.b, c.n, LIMITS).map((s) => s.id))
  t.equal(ids.length, 100)
  t.equal(new Set(ids).size, 100, 'no session twice')
  const last = sent[sent.length - 1]!
  t.same(last.t === 'transfer-complete' ? [last.xfer, last.count] : null, [7, 100], 'then transfer-complete with the count')
  t.equal(host.stats.sessionsSent, 100)
})

t.test('a window smaller than a chunk: one chunk at a time; a huge one: every chunk at once', async (t) => {
  for (const [window, expected] of [[0, 1], [1, 1], [1 << 30, 10]] as const) {
    const { host, pending, inFlight } = manualHost()
    const done = answerGetAll(host, 1, to, table(100), { sessions: 10, bytes: 1 << 20, window })
    let most = 0
    for (let round = 0; round < 200; round++) {
      await settle()
      most = Math.max(most, inFlight())
      if (pending.length === 0) break
      pending.shift()!(true)
    }
    const outcome = await done
    t.equal(most, expected, `window ${window}: at most ${expected} chunks in flight`)
    t.equal(outcome.complete, true)
  }
})

t.test('a chunk that is not acknowledged ends the answer without transfer-complete', async (t) => {
  const { host, sent, pending } = manualHost()
  const done = answerGetAll(host, 1, to, table(100), { sessions: 10, bytes: 1 << 20, window: 2.5 * chunkBytes(table(10)) })
  await settle()
  pending.shift()!(true)
  await settle()
  pending.shift()!(false) // the joiner is gone
  for (let round = 0; round < 20; round++) { await settle(); while (pending.length > 0) pending.shift()!(false) }
  const outcome = await done
  t.equal(outcome.complete, false)
  t.notOk(sent.some((m) => m.t === 'transfer-complete'), 'no transfer-complete')
  t.ok(outcome.chunks < 10, `stopped sending (${outcome.chunks} chunks)`)
  t.equal(host.stats.sessionsSent, 0, 'nothing counted as sent')
})

t.test('a chunk carries the copy as it is when the chunk is packed', async (t) => {
  const sessions = table(30)
  const { host, sent, pending } = manualHost()
  const done = answerGetAll(host, 1, to, sessions, { sessions: 10, bytes: 1 << 20, window: 0 })
  await settle()
  t.equal(sent.length, 1, 'one chunk out, the next waits for its acknowledgement')
  const late = sessions.get(base(25))!
  late.attributes.set('user', encodeValue('user', 'changed'))
  late.stamp = { version: 99, at: 1, route: 'n1' }
  sessions.delete(base(29)) // removed meanwhile: not sent, not counted
  for (let round = 0; round < 20; round++) { await settle(); while (pending.length > 0) pending.shift()!(true) }
  const outcome = await done
  const third = sent[2] as Extract<SessionMessage, { t: 'all-data', b: Uint8Array }>
  const s25 = readChunk(third.b, third.n, LIMITS).find((s) => s.id === `${base(25)}.n1`)!
  t.equal(decodeValue(s25.attrs.find(([k]) => k === 'user')![1]), 'changed')
  t.equal(s25.stamp[0], 99)
  t.equal(outcome.sessions, 29)
  const last = sent[sent.length - 1]!
  t.equal(last.t === 'transfer-complete' ? last.count : -1, 29, 'the count is what was sent')
})

t.test('names and routes beyond one chunk\'s tables start the next chunk', async (t) => {
  const w = new ChunkWriter()
  const r = record(1)
  for (let i = 0; i < 70_000; i += 10_000) {
    const big = new SessionRecord(base(1000 + i), 'n1', 1000, 1800, false)
    for (let k = 0; k < 10_000; k++) big.attributes.set(`a${i + k}`, encodeValue('x', k))
    if (!w.add(big, 1000)) { t.ok(i >= 60_000, `refused once the names table is full (at ${i})`); break }
  }
  t.ok(w.add(r, 1000) || w.count > 0, 'a chunk stays usable')
  const n = w.count
  t.equal(readChunk(w.finish(), n, LIMITS).length, n, 'and reads back')
})
