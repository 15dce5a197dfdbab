// Cluster deploy's bundle handling without a cluster (issue 17 part 5): the tar reader refuses
// every way out of the version directory (absolute paths, `..`, backslashes, links, devices),
// bounds the unpacked size and the file count, and reads what it writes and what GNU tar writes;
// the version id is the content's; the store writes a version whole or not at all; deploy
// requests authenticate with the cluster key, once each.
import t from 'tap'
import zlib from 'node:zlib'
import path from 'node:path'
import crypto from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { readTarball, writeTarball, type BundleFile } from '../src/deploy/tar.js'
import { checkBundle, DeployStore, entryOf, versionId } from '../src/deploy/store.js'
import { RequestVerifier, signRequest } from '../src/deploy/auth.js'
import { readAppDir, deployMain } from '../src/deploy/cli.js'

const LIMITS = { maxUnpackedBytes: 1024 * 1024, maxFiles: 50 }

/** a tar entry with any name and type (what a hostile archive holds) */
function entry (name: string, data: Buffer | string, type = '0', link = ''): Buffer {
  const body = Buffer.from(data)
  const h = Buffer.alloc(512)
  h.write(name, 0, 100, 'utf8')
  h.write('0000644\0', 100); h.write('0000000\0', 108); h.write('0000000\0', 116)
  h.write(body.length.toString(8).padStart(11, '0') + '\0', 124); h.write('00000000000\0', 136)
  h.write(type, 156, 1, 'latin1'); h.write(link, 157, 100)
  h.write('ustar\0', 257); h.write('00', 263)
  h.fill(0x20, 148, 156)
  let sum = 0
  for (const b of h) sum += b
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148)
  return Buffer.concat([h, body, Buffer.alloc((512 - (body.length % 512)) % 512)])
}
const tgz = (...entries: Buffer[]): Buffer => zlib.gzipSync(Buffer.concat([...entries, Buffer.alloc(1024)]))
const file = (p: string, text: string, mode = 0o644): BundleFile => ({ path: p, data: Buffer.from(text), mode })

function tempDir (t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-deploy-unit-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

t.test('the reader refuses every way out of the bundle, with a coded error naming the entry', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['absolute path', tgz(entry('/etc/passwd', 'x'))],
    ['parent segment', tgz(entry('app/../../evil.js', 'x'))],
    ['parent segment in a pax path', tgz(entry('PaxHeader', `${' path=../evil.js\n'.length + 2} path=../evil.js\n`, 'x'), entry('ok.js', 'x'))],
    ['GNU long name climbing out', tgz(entry('././@LongLink', '../../' + 'a'.repeat(120), 'L'), entry('ok.js', 'x'))],
    ['backslash', tgz(entry('..\\evil.js', 'x'))],
    ['symbolic link', tgz(entry('lib', '', '2', '/etc'))],
    ['hard link', tgz(entry('passwd', '', '1', '/etc/passwd'))],
    ['character device', tgz(entry('tty', '', '3'))],
    ['fifo', tgz(entry('pipe', '', '6'))],
    ['file inside a file', tgz(entry('a', 'x'), entry('a/b', 'y'))],
    ['bad checksum', (() => { const e = entry('a.js', 'x'); e[0] = 0x62; return tgz(e) })()],
    ['not gzip, not tar', Buffer.from('hello world, not an archive'.repeat(40))],
    ['truncated entry', zlib.gzipSync(entry('a.js', 'x'.repeat(2000)).subarray(0, 1024))]
  ]
  for (const [what, bytes] of cases) {
    t.throws(() => readTarball(bytes, LIMITS), { code: 'WAS_ERR_DEPLOY_BAD_BUNDLE' }, what)
  }
  t.throws(() => readTarball(cases[2]![1], LIMITS), { message: /"\.\.\/evil\.js" climbs out/ }, 'a well-formed pax path is read, and refused by its name')
})

t.test('the reader bounds the unpacked size and the file count', async (t) => {
  const bomb = tgz(entry('zeros.bin', Buffer.alloc(4 * 1024 * 1024)))
  t.ok(bomb.length < 64 * 1024, 'a small gzip of 4 MiB')
  t.throws(() => readTarball(bomb, LIMITS), { code: 'WAS_ERR_DEPLOY_TOO_LARGE' }, 'unpacked size over the limit')
  const many = tgz(...Array.from({ length: 51 }, (_, i) => entry(`f${i}.js`, 'x')))
  t.throws(() => readTarball(many, LIMITS), { code: 'WAS_ERR_DEPLOY_TOO_LARGE' }, 'more files than the limit')
  t.equal(readTarball(tgz(...Array.from({ length: 50 }, (_, i) => entry(`f${i}.js`, 'x'))), LIMITS).length, 50, 'the limit itself is fine')
})

t.test('what the writer writes reads back; GNU tar\'s too; the id is the content\'s', async (t) => {
  const files = [file('package.json', '{"type":"module","main":"lib/app.js"}'), file('lib/app.js', 'export default async () => {}'), file(`deep/${'d'.repeat(90)}/${'n'.repeat(90)}.js`, 'long path'), file('bin/run', '#!/bin/sh\n', 0o755)]
  const packed = writeTarball(files)
  t.same(writeTarball([...files].reverse()), packed, 'deterministic: the same files give the same bytes')
  const back = readTarball(packed, LIMITS)
  t.same(back.map((f) => [f.path, f.data.toString(), f.mode & 0o111 ? 'x' : '-']), [...files].sort((a, b) => a.path < b.path ? -1 : 1).map((f) => [f.path, f.data.toString(), f.mode & 0o111 ? 'x' : '-']), 'same names, bytes and exec bits')
  t.equal(entryOf(back), 'lib/app.js', 'the entry is package.json main')
  t.equal(versionId(back), versionId(files), 'the id does not depend on the order')
  t.not(versionId([...files.slice(1), file('package.json', '{"type":"module","main":"lib/app.js"} ')]), versionId(files), 'one byte more is another version')

  const dir = tempDir(t)
  const src = path.join(dir, 'app')
  for (const f of files) { mkdirSync(path.dirname(path.join(src, f.path)), { recursive: true }); writeFileSync(path.join(src, f.path), f.data, { mode: f.mode }) }
  const gnu = path.join(dir, 'app.tgz')
  execFileSync('tar', ['czf', gnu, '-C', src, '.'])
  const fromGnu = checkBundle(readFileSync(gnu), LIMITS)
  t.equal(fromGnu.id, versionId(files), 'GNU tar\'s archive of the same directory is the same version')
  t.equal(checkBundle(writeTarball(readAppDir(src, 1 << 20)), LIMITS).id, fromGnu.id, 'and so is the directory as the CLI packs it')
  symlinkSync('/etc', path.join(src, 'lib', 'etc'))
  t.throws(() => readAppDir(src, 1 << 20), { code: 'WAS_ERR_DEPLOY_BAD_BUNDLE' }, 'the CLI refuses a directory with a symbolic link')
})

t.test('entry module rules', async (t) => {
  t.equal(entryOf([file('index.js', '')]), 'index.js')
  t.equal(entryOf([file('app.mjs', '')]), 'app.mjs')
  t.throws(() => entryOf([file('x.js', '')]), { code: 'WAS_ERR_DEPLOY_BAD_BUNDLE' }, 'no entry')
  t.throws(() => entryOf([file('package.json', '{"main":"../x.js"}'), file('index.js', '')]), { code: 'WAS_ERR_DEPLOY_BAD_BUNDLE' }, 'main out of the bundle')
  t.throws(() => entryOf([file('package.json', '{"main":"gone.js"}'), file('index.js', '')]), { code: 'WAS_ERR_DEPLOY_BAD_BUNDLE' }, 'main missing')
})

t.test('the store keeps versions side by side, whole, bounded, never the running one', async (t) => {
  const dir = tempDir(t)
  const store = new DeployStore(dir, 2)
  const bundle = (n: number) => checkBundle(writeTarball([file('index.js', `export default async () => ${n}`)]), LIMITS)
  const b1 = bundle(1)
  const info = store.store(b1, 'one')
  t.equal(info.id, b1.id)
  t.equal(readFileSync(store.entryPath(b1.id), 'utf8'), 'export default async () => 1', 'unpacked under versions/<id>/')
  t.same(store.bundle(b1.id), b1.bytes, 'the bundle is kept to hand on')
  t.equal(store.store(b1, 'again').label, 'one', 'storing a stored version changes nothing')
  store.setState({ running: b1.id, history: [b1.id] })
  store.store(bundle(2), 'two')
  store.store(bundle(3), 'three')
  store.store(bundle(4), 'four')
  const ids = store.list().map((v) => v.label)
  t.ok(ids.includes('one'), 'the running version is never removed')
  t.equal(ids.length, 2, `at most deployKeep versions (${ids.join(', ')})`)
  t.same(readdirSync(path.join(dir, 'versions')).filter((n) => n.startsWith('.tmp')), [], 'no temp directory left')
  t.same(new DeployStore(dir, 2).state(), { running: b1.id, history: [b1.id] }, 'the state survives a restart')
  writeFileSync(path.join(dir, 'state.json'), '{"running":"../../etc","history":["nope"]}')
  t.same(new DeployStore(dir, 2).state(), { running: 'initial', history: [] }, 'a state file naming no stored version is ignored')
  t.notOk(existsSync(path.join(dir, '..', 'evil.js')), 'nothing outside')
})

t.test('deploy requests: the cluster key, once, on time', async (t) => {
  const key = crypto.randomBytes(32)
  const verifier = new RequestVerifier({ key: key.toString('base64'), keyFile: null })
  const body = Buffer.from('bundle bytes')
  const headers = signRequest(key, 'POST', '/_nodecat/deploy?label=x', body)
  t.doesNotThrow(() => verifier.verify('POST', '/_nodecat/deploy?label=x', headers, body), 'a signed request passes')
  t.throws(() => verifier.verify('POST', '/_nodecat/deploy?label=x', headers, body), { code: 'WAS_ERR_DEPLOY_AUTH', message: /replay/ }, 'the same request twice is refused')
  const fresh = signRequest(key, 'POST', '/_nodecat/deploy?label=x', body)
  t.throws(() => verifier.verify('POST', '/_nodecat/deploy?label=x', fresh, Buffer.from('other bytes')), { code: 'WAS_ERR_DEPLOY_AUTH' }, 'another body')
  t.throws(() => verifier.verify('POST', '/_nodecat/deploy?label=y', signRequest(key, 'POST', '/_nodecat/deploy?label=x', body), body), { code: 'WAS_ERR_DEPLOY_AUTH' }, 'another label')
  t.throws(() => verifier.verify('POST', '/_nodecat/deploy', signRequest(crypto.randomBytes(32), 'POST', '/_nodecat/deploy', body), body), { code: 'WAS_ERR_DEPLOY_AUTH' }, 'another key')
  t.throws(() => verifier.verify('POST', '/_nodecat/deploy', signRequest(key, 'POST', '/_nodecat/deploy', body, Date.now() - 10 * 60_000), body), { code: 'WAS_ERR_DEPLOY_AUTH', message: /time/ }, 'an old request')
  t.throws(() => verifier.verify('POST', '/_nodecat/deploy', {}, body), { code: 'WAS_ERR_DEPLOY_AUTH' }, 'no headers')
  t.throws(() => verifier.precheck({}), { code: 'WAS_ERR_DEPLOY_AUTH' }, 'before the body: no headers')
  t.throws(() => verifier.precheck(signRequest(key, 'POST', '/x', body, Date.now() - 10 * 60_000)), { code: 'WAS_ERR_DEPLOY_AUTH' }, 'before the body: an old time')
  t.doesNotThrow(() => verifier.precheck(signRequest(key, 'POST', '/x', body)), 'before the body: a fresh request')
  t.throws(() => new RequestVerifier({ key: null, keyFile: null }).precheck(signRequest(key, 'POST', '/x', body)), { code: 'WAS_ERR_DEPLOY_NO_KEY' }, 'before the body: no key here')
  t.throws(() => new RequestVerifier({ key: null, keyFile: null }).verify('POST', '/_nodecat/deploy', signRequest(key, 'POST', '/_nodecat/deploy', body), body), { code: 'WAS_ERR_DEPLOY_NO_KEY' }, 'a member without a key refuses every deploy')
})

t.test('the CLI refuses to run without a key, before it reads or sends anything', async (t) => {
  let err = ''
  const code = await deployMain(['/nonexistent/app', '--to', '127.0.0.1:9'], {}, () => {}, (s) => { err += s })
  t.equal(code, 2, 'exit code 2')
  t.match(err, /WAS_ERR_DEPLOY_NO_KEY/)
  err = ''
  t.equal(await deployMain(['--status'], { NODECAT_KEY: crypto.randomBytes(32).toString('base64') }, () => {}, (s) => { err += s }), 2, 'no --to: usage')
  t.match(err, /--to/)
})
