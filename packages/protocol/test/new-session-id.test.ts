/**
 * Session ids as an attacker guessing or planting them sees them: 144 bits from
 * crypto.randomBytes, base64url (no '.', cookie-safe), the route after the first '.', no
 * duplicates over 100 000; an id is parsed as ours only when it has that shape (anything else
 * is never adopted).
 */
import t from 'tap'
import crypto from 'node:crypto'
import { newSessionId, parseSessionId } from '../src/index.js'

t.test('shape, entropy and uniqueness over 100 000 ids', async (t) => {
  const n = 100_000
  const bases = new Set<string>()
  let badShape = 0
  for (let i = 0; i < n; i++) {
    const id = newSessionId('web-1')
    const p = parseSessionId(id)
    if (p === null || p.route !== 'web-1' || !/^[A-Za-z0-9_-]{24}$/.test(p.base) || Buffer.from(p.base, 'base64url').length !== 18) badShape++
    else bases.add(p.base)
  }
  t.equal(badShape, 0, 'every id is 24 base64url characters (18 bytes = 144 bits) + ".web-1"')
  t.equal(bases.size, n, 'no duplicate among 100 000')
  // each of the 64 characters appears at each position about equally often: no fixed or biased position
  const counts = Array.from({ length: 23 }, () => new Map<string, number>())
  for (const b of bases) for (let i = 0; i < 23; i++) counts[i]!.set(b[i]!, (counts[i]!.get(b[i]!) ?? 0) + 1)
  const skewed = counts.map((m, i) => ({ i, used: m.size, max: Math.max(...m.values()) })).filter((c) => c.used !== 64 || c.max > (n / 64) * 1.5)
  t.same(skewed, [], 'all 64 characters used at every full position, none more than 1.5x its share')
})

t.test('the randomness comes from crypto.randomBytes (18 bytes per id)', async (t) => {
  const asked: number[] = []
  const fixed = Buffer.from('000102030405060708090a0b0c0d0e0f1011', 'hex')
  const { newSessionId: mocked } = await t.mockImport<typeof import('../src/new-session-id.js')>('../src/new-session-id.js', {
    'node:crypto': { ...crypto, randomBytes: (size: number) => { asked.push(size); return Buffer.from(fixed) } }
  })
  t.equal(mocked('n1'), `${fixed.toString('base64url')}.n1`, 'the id is exactly those bytes, base64url')
  t.same(asked, [18], 'one draw of 18 bytes')
})

t.test('only ids of our shape are ours', async (t) => {
  const id = newSessionId('n1')
  for (const planted of ['', '.n1', 'short.n1', 'A'.repeat(21) + '.n1', 'A'.repeat(65) + '.n1', `${id.split('.')[0]}.`, `${id.split('.')[0]}.bad route`, `${id.split('.')[0]}+x.n1`, 'x'.repeat(200), 42, null]) {
    t.equal(parseSessionId(planted), null, `${JSON.stringify(planted)?.slice(0, 30)} is not a session id`)
  }
})
