// A stored value never keeps the frame it arrived in alive: received values are views into a whole
// decrypted batch (up to 256 KiB) or transfer chunk, and an idle session would pin all of it.
import t from 'tap'
import { SessionRecord, ownBytes } from '../src/session/record.js'
import { fromFull } from '../src/manager/messages.js'

const frame = (): { big: Uint8Array, view: Uint8Array } => {
  const big = new Uint8Array(256 * 1024).fill(7)
  return { big, view: big.subarray(1000, 1100) }
}

t.test('a small view of a big frame is copied; a value that is its own buffer, or a view of a small one, is kept as it is', async (t) => {
  const { view } = frame()
  const own = ownBytes(view)
  t.equal(own.buffer.byteLength, 100, 'copied into a buffer of its own size')
  t.same([...own], [...view], 'same bytes')
  const whole = new Uint8Array(300_000)
  t.equal(ownBytes(whole), whole, 'a value filling its buffer is not copied')
  const pool = Buffer.from('small value') // from Node's 8 KiB pool
  t.equal(ownBytes(pool), pool, 'a view of a small buffer is not copied')
})

t.test('a received delta and a transferred session hold only their own bytes', async (t) => {
  const rec = new SessionRecord('a'.repeat(32), 'n1', 0, 1800, false)
  const delta = frame()
  const principal = frame()
  rec.apply([{ kind: 'set', name: 'cart', bytes: delta.view }, { kind: 'principal', bytes: principal.view }])
  t.equal(rec.attributes.get('cart')!.buffer.byteLength, 100, 'the attribute does not hold the delta\'s frame')
  t.equal(rec.principal!.buffer.byteLength, 100, 'nor does the principal')
  t.same([...rec.attributes.get('cart')!], [...delta.view])

  const chunk = frame()
  const full = fromFull({ id: 'b'.repeat(32) + '.n1', created: 0, idle: 0, max: 1800, principal: chunk.big.subarray(0, 10), attrs: [['user', chunk.view]], stamp: [1, 'n1', 0], history: [] } as never, 'b'.repeat(32), 'n1', 0)
  t.equal(full.attributes.get('user')!.buffer.byteLength, 100, 'a transferred attribute does not hold the chunk')
  t.equal(full.principal!.buffer.byteLength, 10)
})
