/**
 * What logs get instead of a session id is a one-way reference. (The ids themselves, their
 * entropy and their shape are tested with the grammar: packages/protocol/test/new-session-id.test.ts.)
 */
import t from 'tap'
import { newSessionId, sessionRef } from '../src/session/id.js'

t.test('references do not give the id away', async (t) => {
  const id = newSessionId('n1')
  const ref = sessionRef(id)
  t.match(ref, /^sess:[0-9a-f]{12}$/)
  t.equal(ref, sessionRef(`${id.split('.')[0]}.other-route`), 'same reference after a rename (followable across nodes)')
  t.notOk(ref.includes(id.split('.')[0]!.slice(0, 6)), 'the reference holds no part of the id')
})
