// The conflict rules as pure functions (manager/conflict-rules.ts): no hub, no manager, no timers.
import t from 'tap'
import type { Stamp } from '../src/session/stamp.js'
import { SessionRecord } from '../src/session/record.js'
import { LossMemory, attributeChanges, expiryOverridesNewer, judgeAccessed, judgeDelta, judgeFull } from '../src/manager/conflict-rules.js'

const s = (version: number, at: number, route: string): Stamp => ({ version, at, route })

/** a record that went through these stamps, the last one current */
function record (...stamps: Stamp[]): SessionRecord {
  const rec = new SessionRecord('base', stamps.at(-1)?.route ?? 'n1', 0, 1800, false)
  for (const st of stamps) rec.advance(st)
  return rec
}

t.test('judgeDelta: a delta built on the stored stamp applies', async (t) => {
  const rec = record(s(1, 100, 'n1'), s(2, 200, 'n1'))
  t.equal(judgeDelta(rec, { from: s(2, 200, 'n1'), to: s(3, 300, 'n1') }), 'apply')
})

t.test('judgeDelta: the stored stamp or one in its history is a duplicate', async (t) => {
  const rec = record(s(1, 100, 'n1'), s(2, 200, 'n1'), s(3, 300, 'n1'))
  t.equal(judgeDelta(rec, { from: s(2, 200, 'n1'), to: s(3, 300, 'n1') }), 'duplicate', 'the current stamp')
  t.equal(judgeDelta(rec, { from: s(1, 100, 'n1'), to: s(2, 200, 'n1') }), 'duplicate', 'in history')
})

t.test('judgeDelta: older than the remembered history is a duplicate, not a conflict', async (t) => {
  const rec = record(s(40, 100, 'n1'), s(41, 200, 'n1'))
  t.equal(judgeDelta(rec, { from: s(1, 1, 'n2'), to: s(2, 2, 'n2') }), 'duplicate')
})

t.test('judgeDelta: a concurrent write that orders before ours loses', async (t) => {
  const rec = record(s(1, 100, 'n1'), s(2, 300, 'n1'))
  t.equal(judgeDelta(rec, { from: s(1, 100, 'n1'), to: s(2, 250, 'n2') }), 'incoming-lost')
})

t.test('judgeDelta: a version gap is held', async (t) => {
  const rec = record(s(1, 100, 'n1'), s(2, 200, 'n1'))
  t.equal(judgeDelta(rec, { from: s(3, 300, 'n2'), to: s(4, 400, 'n2') }), 'gap', 'base ahead of ours')
  t.equal(judgeDelta(rec, { from: s(2, 199, 'n1'), to: s(3, 300, 'n1') }), 'gap', 'the same writer is ahead')
})

t.test('judgeDelta: a concurrent write that orders after ours wins: our copy lost', async (t) => {
  const rec = record(s(1, 100, 'n1'), s(2, 200, 'n1'))
  t.equal(judgeDelta(rec, { from: s(1, 100, 'n1'), to: s(2, 250, 'n2') }), 'stored-lost')
})

t.test('judgeFull: a newer copy of the same lineage installs without a loss', async (t) => {
  const stored = record(s(1, 100, 'n1'), s(2, 200, 'n1'))
  const incoming = record(s(1, 100, 'n1'), s(2, 200, 'n1'), s(3, 300, 'n2'))
  t.same(judgeFull(stored, incoming), { install: true, lost: null })
})

t.test('judgeFull: the same copy, or an older one we descend from, is neither installed nor a loss', async (t) => {
  const stored = record(s(1, 100, 'n1'), s(2, 200, 'n1'))
  t.same(judgeFull(stored, record(s(1, 100, 'n1'), s(2, 200, 'n1'))), { install: false, lost: null }, 'same')
  t.same(judgeFull(stored, record(s(1, 100, 'n1'))), { install: false, lost: null }, 'an ancestor')
})

t.test('judgeFull: diverged copies: the greater stamp wins, the other side lost', async (t) => {
  const stored = record(s(1, 100, 'n1'), s(2, 200, 'n1'))
  const newer = record(s(1, 100, 'n1'), s(2, 250, 'n2'))
  const older = record(s(1, 100, 'n1'), s(2, 150, 'n2'))
  t.same(judgeFull(stored, newer), { install: true, lost: 'stored copy lost' })
  t.same(judgeFull(stored, older), { install: false, lost: 'incoming copy lost' })
})

t.test('judgeFull: a loser older than the winner\'s remembered history is taken for an ancestor', async (t) => {
  const stored = record(s(40, 100, 'n1'), s(41, 200, 'n1'))
  t.same(judgeFull(stored, record(s(3, 999, 'n2'))), { install: false, lost: null })
})

t.test('expiryOverridesNewer: only an expiry (not an invalidation) of an older stamp', async (t) => {
  t.equal(expiryOverridesNewer(s(3, 300, 'n1'), s(2, 200, 'n2'), 'expired'), true)
  t.equal(expiryOverridesNewer(s(3, 300, 'n1'), s(2, 200, 'n2'), 'invalidated'), false)
  t.equal(expiryOverridesNewer(s(3, 300, 'n1'), s(3, 300, 'n1'), 'expired'), false)
})

t.test('judgeAccessed: fetch what we lack or missed, push ours when the sender is behind', async (t) => {
  const rec = record(s(1, 100, 'n1'), s(2, 200, 'n1'))
  t.equal(judgeAccessed(undefined, s(1, 100, 'n1')), 'fetch', 'unknown here')
  t.equal(judgeAccessed(rec, s(3, 300, 'n2')), 'fetch', 'newer there')
  t.equal(judgeAccessed(rec, s(2, 200, 'n1')), 'touch', 'the same copy')
  t.equal(judgeAccessed(rec, s(1, 100, 'n1')), 'push-and-touch', 'older there')
})

t.test('attributeChanges: added, replaced and removed, unchanged left out', async (t) => {
  const b = (x: string): Uint8Array => Buffer.from(x)
  const before = new Map([['same', b('1')], ['changed', b('a')], ['gone', b('x')]])
  const after = new Map([['same', b('1')], ['changed', b('b')], ['new', b('n')]])
  t.same(attributeChanges(before, after).map((c) => [c.name, c.kind]), [['changed', 'replaced'], ['gone', 'removed'], ['new', 'added']])
  t.same(attributeChanges(new Map(), after).map((c) => c.kind), ['added', 'added', 'added'])
})

t.test('LossMemory: a losing change counts once, and the memory is bounded', async (t) => {
  const m = new LossMemory(2)
  t.equal(m.first('a', s(2, 1, 'n1')), true)
  t.equal(m.first('a', s(2, 1, 'n1')), false, 'seen')
  t.equal(m.first('b', s(2, 1, 'n1')), true)
  t.equal(m.first('c', s(2, 1, 'n1')), true)
  t.equal(m.first('a', s(2, 1, 'n1')), true, 'the oldest was forgotten')
})
