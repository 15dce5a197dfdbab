/**
 * The README's promises: its first screen gives the two fresh-machine commands (the demo and the
 * tests, the second being what CI runs), and its command reference is each command's own --help.
 */
import t from 'tap'
import path from 'node:path'
import { readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { repoRoot, dist } from './lib/proc.js'

const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8')

t.test('the first screen gives the demo and the test command', async (t) => {
  const firstScreen = readme.split('\n').slice(0, 40).join('\n')
  const commands = [...firstScreen.matchAll(/^npx -y pnpm@([\d.]+) install --frozen-lockfile && npx -y pnpm@\1 (\w+)$/gm)]
  t.same(commands.map((m) => m[2]), ['demo', 'test'])
  const pinned = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).packageManager
  for (const m of commands) t.equal(`pnpm@${m[1]}`, pinned, 'the pinned pnpm')
  const scripts = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).scripts
  t.ok(scripts.demo && scripts.test, 'both are package scripts')
  const ci = readFileSync(path.join(repoRoot, '.ci', 'run'), 'utf8')
  t.match(ci, /install --frozen-lockfile/, 'CI installs the same way')
  t.match(ci, /\$PNPM test/, 'CI runs the same test command')
})

t.test('the command reference is each command\'s --help', async (t) => {
  for (const pkg of ['was-node', 'balancer', 'tribes']) dist(pkg, 'cli.js') // built, or a clear error
  const check = spawnSync(process.execPath, [path.join(repoRoot, 'scripts', 'readme-help.mjs'), '--check'], { encoding: 'utf8' })
  t.equal(check.status, 0, check.stderr || 'README.md matches every --help')
  for (const pkg of ['was-node', 'balancer', 'tribes']) {
    const help = spawnSync(process.execPath, [dist(pkg, 'cli.js'), '--help'], { encoding: 'utf8' })
    t.equal(help.status, 0, `${pkg} --help exits 0`)
    t.ok(help.stdout.length > 200, `${pkg} --help prints its flags on stdout`)
  }
})
