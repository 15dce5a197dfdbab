/**
 * The example configurations under deploy/ are real: each one must pass the same validation the
 * commands run at start-up (node options, the channel options they map to, balancer options), so
 * the examples cannot drift from the option tables.
 */
import t, { type Test } from 'tap'
import path from 'node:path'
import { mkdtempSync, writeFileSync, readFileSync, rmSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { randomBytes } from 'node:crypto'
import pino from 'pino'
import { resolveNodeOptions } from '@nodecat/was-node'
import { resolveChannelOptions } from '@nodecat/tribes'
import { resolveBalancerOptions } from '@nodecat/balancer'
import { fromFile } from '../packages/was-node/src/service/sources.js'
import { channelOptionsOf } from '../packages/was-node/src/service/channel-options.js'
import { parseCli } from '../packages/balancer/src/cli-args.js'
import { repoRoot } from './lib/proc.js'

const deploy = path.join(repoRoot, 'deploy')
const silent = pino({ level: 'silent' })

/** The examples name /etc/nodecat/cluster.key; point them at a real key file for validation. */
function withKey (t: Test, file: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-deploy-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const key = path.join(dir, 'cluster.key')
  writeFileSync(key, randomBytes(32).toString('base64') + '\n', { mode: 0o600 })
  const text = readFileSync(file, 'utf8').replaceAll('/etc/nodecat/cluster.key', key)
  const copy = path.join(dir, path.basename(file))
  writeFileSync(copy, text)
  return copy
}

const setups = readdirSync(deploy, { withFileTypes: true }).filter((d) => d.isDirectory() && d.name !== 'systemd').map((d) => d.name)

t.test('deploy/ has the two documented setups', async (t) => {
  t.same(setups.sort(), ['lan-multicast', 'static-members'])
})

for (const setup of setups) {
  t.test(`${setup}/was.json is a valid nodecat-was config`, async (t) => {
    const options = resolveNodeOptions(fromFile(withKey(t, path.join(deploy, setup, 'was.json'))))
    t.equal(options.membership.type, setup === 'lan-multicast' ? 'multicast' : 'static')
    t.ok(options.keyFile, 'the example uses a cluster key')
    const channel = resolveChannelOptions({ ...channelOptionsOf(options, 'http://192.0.2.1:8080', silent), logger: silent })
    t.ok(channel.key, 'the key file was read')
    t.ok(options.workers >= 1, 'workers auto resolves to the usable cores')
    if (setup === 'static-members') t.equal(channel.membership.members.length, 12, 'three machines of four workers each (host:4000-4003)')
  })

  t.test(`${setup}/balancer.json is a valid nodecat-balancer config`, async (t) => {
    const config = parseCli(['--config', withKey(t, path.join(deploy, setup, 'balancer.json'))], {})
    t.ok(config, 'not a --help request')
    const options = resolveBalancerOptions({ ...config!.balancer, logger: silent })
    if (setup === 'lan-multicast') {
      t.ok(config!.discovery, 'workers come from the cluster')
      const channel = resolveChannelOptions({ ...(config!.discovery as object), logger: silent })
      t.equal(channel.meta.role, 'balancer')
      t.equal(options.workers.length, 0)
    } else {
      t.equal(config!.discovery, null)
      t.same(options.workers.map((w) => w.route), ['pi1', 'pi2', 'pi3'].flatMap((pi) => [0, 1, 2, 3].map((i) => `${pi}-${i}`)), 'every per-core worker of every Pi')
    }
  })
}

t.test('systemd units start the built commands with their config', async (t) => {
  for (const [unit, bin, config] of [['nodecat-was', 'packages/was-node/bin/nodecat-was.js', 'was.json'], ['nodecat-balancer', 'packages/balancer/bin/nodecat-balancer.js', 'balancer.json']]) {
    const text = readFileSync(path.join(deploy, 'systemd', `${unit}.service`), 'utf8')
    t.match(text, new RegExp(`^ExecStart=/usr/bin/node /opt/nodecat/${bin} --config /etc/nodecat/${config}$`, 'm'), unit)
    t.match(text, /^KillSignal=SIGTERM$/m, `${unit} stops gracefully`)
    if (unit === 'nodecat-was') t.match(text, /^KillMode=mixed$/m, 'systemd signals the supervisor only; it forwards SIGTERM to its workers')
    t.ok(readFileSync(path.join(repoRoot, bin), 'utf8').length > 0, `${bin} exists`)
  }
})
