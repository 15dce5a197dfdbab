/**
 * Cluster deploy (issue 17 part 5) on two nodes with static membership and a cluster key, asked
 * directly (no balancer): `nodecat-was deploy` is refused without a key (exit 2, nothing sent),
 * with another cluster's key (the member refuses it) and over --deploy-max-bytes; a .tgz made by GNU tar rolls out; a v4
 * that loads on n1 but not on n2 stops at n2 and n1 goes back to v2 (one user's counter on n1
 * goes on through both switches: the sessions are not the app's); a member restarted with an
 * empty deploy directory takes the running version from the cluster before its first request,
 * and one restarted with its directory serves its version again; a connect handler replaces a
 * fastify plugin, with the same sessions; a bundle copied to n1's --watch-dir rolls out.
 */
import t from 'tap'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import crypto from 'node:crypto'
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { startCluster } from './lib/cluster.js'
import { clusterKeyFile } from './lib/proc.js'
import { CountingUser, runDeploy, writeApps } from './lib/deploy-apps.js'

t.test('refusals, a .tgz, a version failing on the second member, members that join later', async (t) => {
  const key = clusterKeyFile(t)
  const apps = writeApps(t)
  const watchDir = path.join(apps.root, 'watch')
  mkdirSync(watchDir)
  const c = await startCluster(t, {
    nodes: 2,
    mode: 'sync',
    noBalancer: true,
    nodeArgs: (route) => ['--app', path.join(apps.dir('v1'), 'lib', 'app.js'), '--key-file', key, '--deploy-dir', apps.deployDir(route), '--deploy-max-bytes', '65536', ...(route === 'n1' ? ['--watch-dir', watchDir] : [])]
  })
  const [n1, n2] = c.nodes as [typeof c.nodes[0], typeof c.nodes[0]]
  const to = ['--to', `127.0.0.1:${n1.httpPort}`]
  const user = new CountingUser(n1.url)
  t.equal((await user.once()).version, 'v1', 'v1 serves at first')

  const noKey = await runDeploy(t, [apps.dir('v2'), ...to])
  t.equal(noKey.code, 2, 'deploy without a key exits 2')
  t.match(noKey.stderr, /WAS_ERR_DEPLOY_NO_KEY/, 'and says why with its code')
  const wrong = await runDeploy(t, [apps.dir('v2'), ...to, '--key-file', clusterKeyFile(t, 'nodecat-other-key-')])
  t.equal(wrong.code, 2, 'deploy with another cluster\'s key exits 2')
  t.match(wrong.stderr, /WAS_ERR_DEPLOY_AUTH/, 'the member refused it')
  const bare = await fetch(`${n1.url}/_nodecat/deploy`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(1000), signal: AbortSignal.timeout(10_000) })
  t.equal(bare.status, 401, 'a request without the authentication headers gets 401')
  t.equal(((await bare.json()) as any).code, 'WAS_ERR_DEPLOY_AUTH', 'with the code')
  t.equal((await user.once()).version, 'v1', 'nothing was deployed by the refused requests')

  cpSync(apps.dir('v2'), path.join(apps.root, 'big'), { recursive: true })
  writeFileSync(path.join(apps.root, 'big', 'noise.bin'), crypto.randomBytes(100_000))
  const big = await runDeploy(t, [path.join(apps.root, 'big'), ...to, '--key-file', key])
  t.equal(big.code, 1, 'a bundle over --deploy-max-bytes is refused')
  t.match(big.stderr, /WAS_ERR_DEPLOY_TOO_LARGE/, 'with its code')

  const tgz = path.join(apps.root, 'v2.tgz')
  execFileSync('tar', ['czf', tgz, '-C', apps.dir('v2'), '.'])
  const v2 = await runDeploy(t, [tgz, ...to, '--key-file', key, '--json'])
  t.equal(v2.code, 0, `a GNU tar .tgz rolls out (${v2.stderr})`)
  const v2id: string = v2.json?.version
  t.equal((await user.once()).version, 'v2', 'n1 serves v2')
  t.equal((await new CountingUser(n2.url).once()).version, 'v2', 'n2 serves v2')

  const v4 = await runDeploy(t, [apps.dir('v4'), ...to, '--key-file', key, '--json'])
  t.equal(v4.code, 1, 'v4 fails')
  t.equal(v4.json?.code, 'WAS_ERR_DEPLOY_FAILED')
  t.equal(v4.json?.member, 'n2', 'on n2')
  t.match(v4.json?.error, /v4 does not start on n2/, 'with the app\'s error')
  t.same(v4.json?.steps.map((s: any) => [s.route, s.to === v2id ? 'v2' : 'v4', s.ok]), [['n1', 'v4', true], ['n2', 'v4', false], ['n1', 'v2', true]], 'n1 switched to v4, n2 failed, n1 went back to v2')
  const back = await user.once()
  t.equal(back.version, 'v2', 'n1 serves v2 again')
  t.same(user.breaks, [], 'the user\'s counter on n1 went on through every switch')

  // n2 restarted with an empty deploy directory: it takes v2 from n1 before it serves
  n2.proc!.signal('SIGTERM')
  t.same(await n2.proc!.exited, { code: 0, signal: null }, 'n2 stopped cleanly')
  rmSync(apps.deployDir('n2'), { recursive: true, force: true })
  await n2.start()
  t.ok(n2.lines().some((l) => l.event === 'deploy-synced' && l.version === v2id), 'n2 took v2 from n1')
  t.equal((await new CountingUser(n2.url).once()).version, 'v2', 'and serves v2 from its first request')

  // n2 restarted with its directory: it loads its version before it listens
  n2.proc!.signal('SIGTERM')
  t.same(await n2.proc!.exited, { code: 0, signal: null }, 'n2 stopped cleanly again')
  await n2.start()
  t.ok(n2.lines().some((l) => l.event === 'deploy-resumed' && l.version === v2id), 'n2 resumed v2 from its own directory')
  t.equal((await new CountingUser(n2.url).once()).version, 'v2', 'and serves it')

  const status = await runDeploy(t, ['--status', '--to', `127.0.0.1:${n2.httpPort}`, '--key-file', key, '--json'])
  t.same(status.json?.members.map((m: any) => [m.route, m.running]), [['n1', v2id], ['n2', v2id]], 'both members run v2')
  const v5 = await runDeploy(t, [apps.dir('v5'), ...to, '--key-file', key])
  t.equal(v5.code, 0, `a connect handler rolls out too (${v5.stderr})`)
  t.equal((await user.once()).version, 'v5', 'n1 serves the connect version')

  // --watch-dir on n1: a bundle copied there rolls out like a deploy
  execFileSync('tar', ['czf', path.join(watchDir, 'v2-again.tgz'), '-C', apps.dir('v2'), '.'])
  await n1.proc!.waitFor((l) => l.event === 'deploy-watch-done' || l.event === 'deploy-watch-failed', 60_000, 'the watch dir rollout')
  t.ok(n1.lines().some((l) => l.event === 'deploy-watch-done' && l.version === v2id), 'the watched bundle rolled out (v2 again)')
  t.equal((await user.once()).version, 'v2', 'n1 serves it')
  t.equal((await new CountingUser(n2.url).once()).version, 'v2', 'n2 serves it')
  t.same(user.breaks, [], 'no session lost on n1')
})
