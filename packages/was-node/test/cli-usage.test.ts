import t, { type Test } from 'tap'
import { startNode as startProcess } from '../../../test/lib/proc.js'

// the built CLI (packages/was-node/dist/cli.js; scripts/test.sh builds first)
async function run (t: Test, args: string[], env: Record<string, string> = {}) {
  const p = startProcess(t, 'was-node', 'cli.js', args, { env })
  const { code } = await p.exited
  return { code, stderr: p.stderr(), stdout: p.lines.map((l) => l.msg).join('\n') }
}

t.test('--help lists the options and exits 0', async (t) => {
  const r = await run(t, ['--help'])
  t.equal(r.code, 0)
  t.match(r.stdout, /Usage: nodecat-was/)
  for (const flag of ['--jvm-route', '--http', '--app', '--static', '--receiver', '--config', '--channel-send-options', '--key-file', '--insecure']) {
    t.match(r.stdout, flag)
  }
})

t.test('bad usage exits 2 with a message naming the option', async (t) => {
  const cases: Array<[string[], RegExp, Record<string, string>?]> = [
    [['--bogus'], /--bogus/],
    [['--http'], /--http needs a value/],
    [['--http', 'x:y:z'], /--http must be host:port/],
    [['--jvm-route', 'has.dot'], /jvmRoute/],
    [['--frequency', '1'], /membership\.frequency/],
    [['--channel-send-options', 'often'], /channelSendOptions/],
    [['--config', '/nonexistent/nodecat.json'], /nodecat\.json/],
    [[], /NODECAT_INSECURE/, { NODECAT_INSECURE: 'sure' }],
    [[], /http\.port/, { NODECAT_HTTP: '127.0.0.1:99999' }]
  ]
  for (const [args, message, env] of cases) {
    const r = await run(t, args, env)
    t.equal(r.code, 2, `exit 2 for ${JSON.stringify(args)} ${JSON.stringify(env ?? {})}`)
    t.match(r.stderr, message, `names the option: ${r.stderr.trim().split('\n')[0]}`)
  }
})
