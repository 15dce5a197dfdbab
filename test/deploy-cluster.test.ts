/**
 * Cluster deploy (issue 17 part 5), real processes on 127.0.0.1: three nodes with static
 * membership and a cluster key behind nodecat-balancer, six session users counting through the
 * balancer the whole time (bounded loop). v2 rolls out one member at a time and every answer
 * after it is v2's; a v3 that throws at register stops at the first member and v2 keeps serving
 * everywhere; --status shows the versions; --rollback goes back to v1. Throughout: no request
 * failed and every user's counter went on (no session lost). The refusals without a key or with
 * another key, and a member joining later, are in deploy-join.test.ts.
 */
import t from 'tap'
import path from 'node:path'
import { waitUntil } from '@nodecat/testkit'
import { startCluster } from './lib/cluster.js'
import { clusterKeyFile } from './lib/proc.js'
import { CountingUser, runDeploy, startLoad, writeApps, type CountAnswer } from './lib/deploy-apps.js'

const USERS = 6

t.test('deploy, a broken version, status and rollback, under session load', async (t) => {
  const t0 = Date.now()
  const phase = (what: string): void => { t.comment(`${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`) }
  const key = clusterKeyFile(t)
  const apps = writeApps(t)
  const c = await startCluster(t, {
    nodes: 3,
    mode: 'sync',
    nodeArgs: (route) => ['--app', path.join(apps.dir('v1'), 'lib', 'app.js'), '--key-file', key, '--deploy-dir', apps.deployDir(route)]
  })
  phase('cluster started')
  const to = ['--to', `127.0.0.1:${c.nodes[0]!.httpPort}`]
  const users = Array.from({ length: USERS }, () => new CountingUser(c.balancerUrl))
  for (const u of users) t.equal((await u.once()).version, 'v1', 'v1 serves at first')

  /** every user has an answer that started after `since` (the load goes on meanwhile) */
  const everyoneAsked = async (since: number, what: string): Promise<void> => {
    await waitUntil(what, () => users.every((u) => u.answers.some((a) => a.startedAt > since)), { timeoutMs: 30_000 })
  }
  const between = (from: number, until: number): CountAnswer[] => users.flatMap((u) => u.answers.filter((a) => a.startedAt > from && a.startedAt < until))

  const load = startLoad(users, { maxRequests: 3000, deadlineMs: 120_000, pauseMs: 50 })
  let v2id = ''
  let v3id = ''
  const marks: Record<string, number> = {}
  try {
    phase('deploying v2')
    marks.v2Start = Date.now()
    const v2 = await runDeploy(t, [apps.dir('v2'), ...to, '--key-file', key, '--label', 'second', '--json'])
    marks.v2Done = Date.now()
    t.equal(v2.code, 0, `v2 rolled out (${v2.stderr})`)
    phase(`v2 rolled out (steps ${JSON.stringify(v2.json?.steps.map((s: any) => s.ms))} ms)`)
    v2id = v2.json?.version
    t.match(v2id, /^[0-9a-f]{16}$/, 'its version id is a content hash')
    t.same(v2.json?.steps.map((s: any) => [s.route, s.from, s.to, s.ok]), [['n1', 'initial', v2id, true], ['n2', 'initial', v2id, true], ['n3', 'initial', v2id, true]], 'one member at a time, in route order')
    await everyoneAsked(marks.v2Done, 'answers after the v2 rollout')

    phase('deploying the broken v3')
    marks.v3Start = Date.now()
    const v3 = await runDeploy(t, [apps.dir('v3'), ...to, '--key-file', key])
    marks.v3Done = Date.now()
    t.equal(v3.code, 1, 'the broken v3 makes deploy exit 1')
    t.match(v3.stderr, /WAS_ERR_DEPLOY_FAILED/, 'with the code')
    t.match(v3.stderr, /member n1/, 'naming the first member')
    t.match(v3.stderr, /v3 refuses to register/, 'and the app\'s own error')
    await everyoneAsked(marks.v3Done, 'answers after the failed v3')

    const status = await runDeploy(t, ['--status', ...to, '--key-file', key, '--json'])
    t.equal(status.code, 0, 'deploy --status')
    const members = status.json?.members ?? []
    t.same(members.map((m: any) => [m.route, m.running, m.label]), [['n1', v2id, 'second'], ['n2', v2id, 'second'], ['n3', v2id, 'second']], 'every member runs v2 (n1 never left it)')
    v3id = members[0]?.versions.find((v: any) => v.id !== v2id)?.id ?? ''
    t.ok(members.every((m: any) => m.versions.some((v: any) => v.id === v2id)), 'every member stores v2')
    const text = await runDeploy(t, ['--status', ...to, '--key-file', key])
    t.match(text.stdout, new RegExp(`n3 +${v2id} +\\(second\\)`), 'the text status names the version and its label per member')

    phase('rolling back')
    marks.rbStart = Date.now()
    const rb = await runDeploy(t, ['--rollback', ...to, '--key-file', key, '--json'])
    marks.rbDone = Date.now()
    t.equal(rb.code, 0, `rollback (${rb.stderr})`)
    phase(`rolled back (steps ${JSON.stringify(rb.json?.steps.map((s: any) => s.ms))} ms)`)
    t.equal(rb.json?.version, 'initial', 'back to the app the nodes started with')
    await everyoneAsked(marks.rbDone, 'answers after the rollback')

    marks.end = Date.now()
  } finally {
    await load.stop()
  }

  phase('load stopped')
  const all = users.flatMap((u) => u.answers)
  const failed = all.filter((a) => a.status !== 200)
  t.equal(failed.length, 0, `no request failed of ${all.length} (${JSON.stringify(failed.slice(0, 3))})`)
  t.same(users.flatMap((u) => u.breaks), [], 'every user\'s counter went on: no session lost')
  t.same(users.map((u) => u.last), users.map((u) => u.answers.filter((a) => a.status === 200).length), 'each counter counts every answer')
  const versionsIn = (from: number, until: number): string[] => [...new Set(between(from, until).map((a) => a.version ?? 'none'))].sort()
  t.same(versionsIn(marks.v2Done!, marks.rbStart!), ['v2'], 'after the v2 rollout, through the failed v3, only v2 answered')
  t.same(versionsIn(marks.rbDone!, Infinity), ['v1'], 'after the rollback, only v1 answered')
  t.ok(between(marks.v2Done!, marks.rbStart!).length >= USERS * 2, 'the load ran through the deploys')
  t.not(v3id, '', 'v3 was stored (its rollout stopped at the switch)')
})
