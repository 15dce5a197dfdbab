/** testkit's waits: waitUntil resolves with the first truthy value and fails naming what it awaited; becomes reports the outcome. */
import t from 'tap'
import { sleep, waitUntil, becomes } from '../src/index.js'

t.test('sleep waits at least the time asked', async (t) => {
  const start = Date.now()
  await sleep(30)
  t.ok(Date.now() - start >= 25)
})

t.test('waitUntil resolves with the first truthy value, sync or async', async (t) => {
  let n = 0
  t.equal(await waitUntil('n to reach 3', () => ++n >= 3 && n, { everyMs: 1 }), 3)
  t.equal(await waitUntil('an async answer', async () => await Promise.resolve('yes')), 'yes')
})

t.test('waitUntil fails after its timeout with a message naming what was awaited', async (t) => {
  await t.rejects(waitUntil('the impossible', () => false, 50), /timed out waiting for the impossible \(50 ms\)/)
})

t.test('becomes says whether the condition came true in time', async (t) => {
  let ready = false
  setTimeout(() => { ready = true }, 20)
  t.equal(await becomes(() => ready, { timeoutMs: 2000, everyMs: 5 }), true)
  t.equal(await becomes(() => false, 30), false)
})
