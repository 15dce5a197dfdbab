/**
 * nodecat-was: run one node of a nodecat cluster.
 *   nodecat-was [--config file.json] [--jvm-route tomcat1] [--http 127.0.0.1:8081] [--app ./app.js]
 *               [--static 127.0.0.1:4001,127.0.0.1:4002] [--receiver 127.0.0.1:4001] ...
 * Exit codes: 0 after a clean stop (SIGTERM/SIGINT) or --help; 2 for bad usage or an invalid option
 * (the message names it); 1 when the node cannot start for another reason.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { gatherOptions, helpText } from './service/sources.js'
import { resolveNodeOptions } from './service/options.js'
import { startNode } from './service/node.js'

/** option-like failures: the user must change how the node is started */
const USAGE_CODES = new Set(['WAS_ERR_INVALID_OPTION', 'TRIBES_ERR_INVALID_OPTION', 'TRIBES_ERR_KEY_INVALID', 'TRIBES_ERR_INSECURE'])

function version (): string {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string }
    return pkg.version
  } catch { return 'unknown' }
}

/**
 * Parse, validate and start. Resolves with an exit code when the process should end now, or null
 * while the node runs (it exits 0 on SIGTERM/SIGINT after a graceful stop).
 */
export async function main (argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number | null> {
  let options
  try {
    const gathered = gatherOptions(argv, env)
    if (gathered.help) { process.stdout.write(helpText()); return 0 }
    if (gathered.version) { process.stdout.write(version() + '\n'); return 0 }
    options = resolveNodeOptions(gathered.options)
  } catch (err) {
    process.stderr.write(`nodecat-was: ${(err as Error).message}\n(run nodecat-was --help for the options)\n`)
    return USAGE_CODES.has((err as { code?: string }).code ?? '') ? 2 : 1
  }
  try {
    await startNode(options, { handleSignals: true })
    return null
  } catch (err) {
    const code = (err as { code?: string }).code ?? ''
    // a signal during start-up: the signal handler finishes the clean stop and exits 0
    if (code === 'WAS_ERR_STOPPED') return null
    process.stderr.write(`nodecat-was: ${USAGE_CODES.has(code) ? '' : 'cannot start: '}${(err as Error).message}\n`)
    return USAGE_CODES.has(code) ? 2 : 1
  }
}

/** main() plus exiting with its code. */
export async function run (): Promise<void> {
  const code = await main(process.argv.slice(2))
  if (code !== null) process.exit(code)
}

// run when executed directly (node dist/cli.js); bin/nodecat-was.js calls run() itself
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await run()
