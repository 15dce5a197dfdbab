/**
 * The balancer's admin listener as an attacker on the same machine or the LAN sees it:
 * - a configured token is required for activation changes, also on loopback (a local user who is
 *   not the operator must not stop workers when the operator set a token); only an explicit
 *   requireToken: false turns that off;
 * - the token check goes through crypto.timingSafeEqual on equal-length digests, whatever the
 *   length of the guess (no early exit that times out how much of the token was right).
 */
import t from 'tap'
import { createBalancer } from '../src/index.js'
import { call, startBackend, startBalancer } from './helpers.js'

/** what a script sends and a web page cannot send cross-site without a preflight */
const ADMIN = { 'x-nodecat-admin': '1' }

const TOKEN = 'the-operators-admin-token-42'

t.test('a configured admin token is required on loopback too', async (t) => {
  const b1 = await startBackend(t, 't1')
  const { admin, lb } = await startBalancer(t, { workers: [{ route: 't1', url: b1.url }], healthCheck: false, admin: { host: '127.0.0.1', port: 0, token: TOKEN } })
  const url = `${admin}/workers/t1/activation`
  t.equal((await call(url, { method: 'POST', body: 'stopped', headers: ADMIN })).status, 401, 'no token: refused')
  t.equal((await call(url, { method: 'POST', body: 'stopped', headers: { ...ADMIN, authorization: 'Bearer wrong-token-of-some-length' } })).status, 401, 'wrong token: refused')
  t.equal(lb.workers()[0]!.activation, 'active', 'the worker was not touched')
  t.equal((await call(url, { method: 'POST', body: 'stopped', headers: { ...ADMIN, authorization: `Bearer ${TOKEN}` } })).status, 200, 'the token: accepted')
  t.equal((await call(`${admin}/status`)).status, 200, 'reading stays open')

  const open = createBalancer({ workers: [{ route: 't1', url: b1.url }], admin: { host: '127.0.0.1', port: 0, token: TOKEN, requireToken: false } })
  t.equal(open.options.admin && open.options.admin.requireToken, false, 'an explicit requireToken: false is kept')
  const none = createBalancer({ workers: [{ route: 't1', url: b1.url }], admin: { host: '127.0.0.1', port: 0 } })
  t.equal(none.options.admin && none.options.admin.requireToken, false, 'loopback without a token: open, as documented')
})

t.test('the token comparison is constant-time: timingSafeEqual on digests for every guess', async (t) => {
  const calls: Array<[number, number]> = []
  const crypto = await import('node:crypto')
  const { tokenMatches } = await t.mockImport<typeof import('../src/admin.js')>('../src/admin.js', {
    'node:crypto': {
      ...crypto,
      timingSafeEqual: (a: Buffer, b: Buffer) => { calls.push([a.length, b.length]); return crypto.timingSafeEqual(a, b) }
    }
  })
  for (const guess of ['', 'x', TOKEN.slice(0, -1), TOKEN + 'x', 'y'.repeat(300), TOKEN]) {
    t.equal(tokenMatches(`Bearer ${guess}`, TOKEN), guess === TOKEN, `guess of ${guess.length} characters`)
  }
  t.equal(calls.length, 6, 'every guess compared with timingSafeEqual')
  t.ok(calls.every(([a, b]) => a === 32 && b === 32), 'always 32-byte digests, whatever the guess length')
})
