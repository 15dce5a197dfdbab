/**
 * Cluster key rotation without a restart: three keyed channels on 127.0.0.1 read their keys from a
 * key file each, and the operator edits the files one machine after the other:
 *   1. "A\nB"  every member still sends A and now also accepts B
 *   2. "B\nA"  every member sends B and still accepts A
 *   3. "B"     A is refused
 * Messages flow between all three members throughout (after each file change the next waits until
 * every member has sent a whole message in that mixed state); none may be refused, lost or
 * failed, no member may be dropped; afterwards a member holding only A cannot join.
 * Also the key file format and reload rules of the keyring itself.
 */
import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { createChannel, generateKey, Keyring, parseKeyFileContent, type Channel, type KeyReload } from '../src/index.js'
import { freePorts } from '../../../test/lib/ports.js'
import { sleep, waitUntil } from '@nodecat/testkit'

const A = generateKey()
const B = generateKey()
function tempDir (t: Test): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-rotation-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

interface Node { ch: Channel, file: string, logs: Array<Record<string, any>>, got: Map<number, number[]>, gone: string[] }

t.test('keyring: a key file holds the current key and the previous ones; a change is used on the next check', async (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, 'cluster.key')
  writeFileSync(file, `# cluster key\n${A}\n`)
  const events: KeyReload[] = []
  const ring = new Keyring({ keyFile: file, reloadInterval: 0, onReload: (e) => events.push(e) })
  const a = new Keyring({ key: A })
  const b = new Keyring({ key: B })
  const fromA = a.seal(Buffer.from('aad'), Buffer.from('sealed by A'))
  const fromB = b.seal(Buffer.from('aad'), Buffer.from('sealed by B'))
  t.equal(ring.keyId, a.keyId, 'the first key line is the current key')
  t.throws(() => ring.open(b.keyId, Buffer.from('aad'), fromB), { code: 'TRIBES_ERR_DECRYPT' }, 'B not accepted yet')

  writeFileSync(file, `${A}\n${B}\n`)
  t.equal(ring.reload(), true, 'the change is picked up')
  t.equal(ring.keyId, a.keyId, 'still sends with A')
  t.equal(ring.open(b.keyId, Buffer.from('aad'), fromB).toString(), 'sealed by B', 'accepts B')
  t.equal(ring.verifyMac(Buffer.from('m'), b.mac(Buffer.from('m'))), true, 'accepts MACs made with B')

  writeFileSync(file, `${B}\n${A}\n`)
  ring.reload()
  t.equal(ring.keyId, b.keyId, 'sends with B')
  t.equal(ring.open(a.keyId, Buffer.from('aad'), fromA).toString(), 'sealed by A', 'still accepts A')

  writeFileSync(file, 'not a key\n')
  t.equal(ring.reload(), false, 'a bad file is not used …')
  t.equal(ring.keyId, b.keyId, '… the keys in use stay')
  t.equal(ring.open(a.keyId, Buffer.from('aad'), fromA).toString(), 'sealed by A')
  t.equal(ring.reload(), false, 'the same bad content again is not reported again')
  rmSync(file)
  t.equal(ring.reload(), false, 'a missing file is not used either')
  t.equal(ring.keyId, b.keyId)

  writeFileSync(file, `${B}\n`)
  t.equal(ring.reload(), true)
  t.throws(() => ring.open(a.keyId, Buffer.from('aad'), fromA), { code: 'TRIBES_ERR_DECRYPT' }, 'A is refused once it left the file')
  t.equal(ring.verifyMac(Buffer.from('m'), a.mac(Buffer.from('m'))), false, 'and so are MACs made with A')
  t.same(events.map((e) => e.ok), [true, true, false, false, true], 'every change reported once, errors included')

  t.throws(() => parseKeyFileContent(Buffer.from(`${A}\nshort\n`), 'f'), { code: 'TRIBES_ERR_KEY_INVALID', message: /f line 2/ }, 'a bad line is named')
  t.throws(() => parseKeyFileContent(Buffer.from('# only a comment\n'), 'f'), { code: 'TRIBES_ERR_KEY_INVALID', message: /holds no key/ })
  t.same(parseKeyFileContent(Buffer.from(A, 'base64')).key, Buffer.from(A, 'base64'), '32 raw bytes are still one key')
})

t.test('three members move from key A to key B while messages flow; afterwards A is refused', async (t) => {
  const dir = tempDir(t)
  const ports = await freePorts(4)
  const members = ports.map((p) => `127.0.0.1:${p}`)
  const nodes: Node[] = []
  for (let i = 0; i < 3; i++) {
    const file = path.join(dir, `n${i}.key`)
    writeFileSync(file, `${A}\n`)
    const logs: Array<Record<string, any>> = []
    const logger = pino({ level: 'info' }, { write: (s: string) => { logs.push(JSON.parse(s)) } })
    const ch = createChannel({
      port: ports[i]!,
      autoBind: 1,
      sendMode: 'sync',
      timeout: 10_000,
      keyFile: file,
      logger,
      meta: { route: `n${i}` },
      membership: { type: 'static', members: members.slice(0, 3), frequency: 100, dropTime: 1500 }
    })
    const node: Node = { ch, file, logs, got: new Map(), gone: [] }
    ch.onMessage((v) => {
      const m = v as { from: number, seq: number }
      node.got.set(m.from, [...(node.got.get(m.from) ?? []), m.seq])
    })
    ch.on('memberDisappeared', (m, reason) => node.gone.push(`${m.meta?.route ?? m.id} ${reason}`))
    nodes.push(node)
  }
  await Promise.all(nodes.map((x) => x.ch.start()))
  t.teardown(() => Promise.all(nodes.map((x) => x.ch.stop())))
  await waitUntil('full mesh', () => nodes.every((x) => x.ch.members().length === 2))

  // every member sends a numbered message to both others, in sync mode, until the rollout is over
  let rolling = true
  const sent = [0, 0, 0]
  const failures: string[] = []
  const senders = nodes.map(async (x, i) => {
    const until = Date.now() + 60_000
    while (rolling && Date.now() < until && sent[i]! < 5000) {
      const seq = sent[i]!++
      const r = await x.ch.send({ from: i, seq }, { mode: 'sync' }).catch((err: Error) => ({ delivered: [], failed: [{ error: err }] }))
      if (r.delivered.length !== 2) failures.push(`n${i} #${seq}: delivered to ${r.delivered.length} (${r.failed.map((f: any) => f.error?.code ?? f.error?.message).join(',')})`)
      await sleep(5)
    }
  })

  const reloads = (x: Node) => x.logs.filter((l) => l.msg === 'cluster key file changed: new keys in use').length
  // the mixed states in which not every member sent a whole message (started after the change)
  const quiet: string[] = []
  for (const [step, content] of [[1, `${A}\n${B}\n`], [2, `${B}\n${A}\n`], [3, `${B}\n`]] as const) {
    for (const [i, x] of nodes.entries()) {
      // one machine after the other, as an operator would; the others still run the previous step
      writeFileSync(x.file, content)
      await waitUntil(`step ${step} picked up`, () => reloads(x) === step, 10_000)
      // why +2: sends are sequential, so once #mark+1 has started, #mark (begun after the change) is done
      const mark = [...sent]
      await waitUntil(`a message from every member once n${i} took step ${step}`, () => sent.every((n, k) => n >= mark[k]! + 2), 20_000)
        .catch(() => { quiet.push(`n${i} at step ${step}: sent ${sent.map((n, k) => n - mark[k]!).join(', ')} since`) })
    }
  }
  await sleep(500)
  rolling = false
  await Promise.all(senders)

  t.same(failures, [], 'no message failed or went undelivered during the rollout')
  t.same(quiet, [], 'every member sent messages in every mixed state of the rollout')
  t.comment(`${sent.join(', ')} messages sent`)
  for (const [i, x] of nodes.entries()) {
    const d = x.ch.stats().dropped
    t.equal(d.decrypt ?? 0, 0, `n${i} refused no frame`)
    t.equal(d.auth ?? 0, 0, `n${i} dropped no membership datagram`)
    t.same(x.gone, [], `n${i} never lost a member`)
    for (const j of [0, 1, 2].filter((j) => j !== i)) {
      const seqs = x.got.get(j) ?? []
      t.same(seqs, Array.from({ length: sent[j]! }, (_, k) => k), `n${i} got every message of n${j} once, in order`)
    }
    t.equal(x.logs.find((l) => l.msg === 'cluster key file changed: new keys in use' && l.previousKeys === 0)?.keyId,
      new Keyring({ key: B }).keyId, `n${i} ends on B alone`)
  }

  // a member still holding only A cannot join (its sealed heartbeats fail to open: counted as decrypt)
  const stale = createChannel({
    port: ports[3]!,
    autoBind: 1,
    sendMode: 'sync',
    timeout: 3000,
    key: A,
    meta: { route: 'old' },
    membership: { type: 'static', members, frequency: 100, dropTime: 1500 }
  })
  await stale.start()
  t.teardown(() => stale.stop())
  await waitUntil('the stale member\'s heartbeats refused by everyone', () => nodes.every((x) => (x.ch.stats().dropped.decrypt ?? 0) >= 2))
  for (const x of nodes) t.same(x.ch.members().map((m) => m.meta?.route).sort(), ['n0', 'n1', 'n2'].filter((r) => r !== x.ch.local.meta?.route), 'the A-only member is never listed')
  t.same(stale.members(), [], 'and it lists nobody')
})

t.test('nodecat-tribes doctor reads a key file in the middle of a rotation: current key and older ones', async (t) => {
  const { startNode } = await import('../../../test/lib/proc.js')
  const dir = tempDir(t)
  const file = path.join(dir, 'rotating.key')
  writeFileSync(file, `${B}\n${A}\n`)
  const [port] = await freePorts(1)
  const p = startNode(t, 'tribes', 'cli.js', ['doctor', '--json', '--key-file', file, '--static', `127.0.0.1:${port}`, '--receiver-port', String(port)])
  await p.exited
  const key = p.lines.find((l) => l.check === 'key')
  t.equal(key?.status, 'ok')
  t.match(key?.message, /holds a 32-byte cluster key and 1 older key\(s\) still accepted/)
})
