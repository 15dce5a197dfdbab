/**
 * nodecat-was: run one node of a nodecat cluster.
 *   nodecat-was [--config file.json] [--jvm-route tomcat1] [--http 127.0.0.1:8081] [--app ./app.js]
 *               [--static 127.0.0.1:4001,127.0.0.1:4002] [--receiver 127.0.0.1:4001] ...
 *               [--server-xml tomcat/conf/server.xml] [--print-config]
 * Exit codes: 0 after a clean stop (SIGTERM/SIGINT), --help or --print-config; 2 for bad usage or an invalid option
 * (the message names it); 1 when the node cannot start for another reason.
 *
 * With --workers n (n > 1) this process is a supervisor (service/supervisor.ts) running n workers,
 * each this same CLI with the same argv and env plus NODECAT_WORKER_OPTIONS (its route, ports,
 * sibling receivers and `workers: 1`, merged over everything else). A worker tells its supervisor
 * over IPC when it started, or why it could not.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { gatherOptions, helpText, merge, type ServerXmlReport } from './service/sources.js'
import { resolveNodeOptions, type ResolvedNodeOptions } from './service/options.js'
import { startNode } from './service/node.js'
import { createServiceLogger } from './service/logger.js'
import { planWorkers, workerOverrides } from './service/worker-plan.js'
import { forkWorker, Supervisor, WorkerStartError, type WorkerMessage } from './service/supervisor.js'
import { deployMain } from './deploy/cli.js'

/** option-like failures: the user must change how the node is started */
const USAGE_CODES = new Set(['WAS_ERR_INVALID_OPTION', 'WAS_ERR_SERVER_XML', 'TRIBES_ERR_INVALID_OPTION', 'TRIBES_ERR_KEY_INVALID', 'TRIBES_ERR_INSECURE'])

function version (): string {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../package.json', import.meta.url)), 'utf8')) as { version: string }
    return pkg.version
  } catch { return 'unknown' }
}

/** Tell the supervisor (when there is one: this process is a worker) how the start went; bounded wait. */
async function tellSupervisor (message: WorkerMessage): Promise<void> {
  if (typeof process.send !== 'function' || process.connected !== true) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000)
    try {
      process.send!(message, undefined, {}, () => { clearTimeout(timer); resolve() })
    } catch { clearTimeout(timer); resolve() }
  })
}

/**
 * Parse, validate and start. Resolves with an exit code when the process should end now, or null
 * while the node runs (it exits 0 on SIGTERM/SIGINT after a graceful stop).
 */
export async function main (argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number | null> {
  // why a subcommand of this CLI: it reads the same key file and talks to the same nodes
  if (argv[0] === 'deploy') return await deployMain(argv.slice(1), env)
  let options: ResolvedNodeOptions
  // a worker of a --workers supervisor: its route, ports and sibling receivers win over the rest
  let worker: string | null = null
  const failed = async (err: unknown, prefix: string): Promise<number> => {
    const code = (err as { code?: string }).code ?? ''
    const exitCode = USAGE_CODES.has(code) ? 2 : 1
    const message = (err as Error).message
    process.stderr.write(`nodecat-was${worker === null ? '' : `[${worker}]`}: ${prefix}${message}\n`)
    if (worker !== null) await tellSupervisor({ type: 'nodecat-worker-failed', message, code: code === '' ? null : code, exitCode })
    return exitCode
  }
  try {
    const overrides = workerOverrides(env)
    if (overrides !== null) worker = typeof overrides.jvmRoute === 'string' ? overrides.jvmRoute : 'worker'
    const gathered = gatherOptions(argv, env)
    if (gathered.help) { process.stdout.write(helpText()); return 0 }
    if (gathered.version) { process.stdout.write(version() + '\n'); return 0 }
    options = resolveNodeOptions(overrides === null ? gathered.options : merge(gathered.options, overrides as Record<string, unknown>))
    if (gathered.printConfig) { process.stdout.write(printedConfig(options, gathered.serverXmlReport)); return 0 }
    // why only here and not in each worker: one list per command, not one per process
    if (gathered.serverXmlReport !== null && worker === null) logServerXml(options, gathered.serverXmlReport)
    if (options.workers > 1) return await supervise(options, argv, env)
  } catch (err) {
    const code = await failed(err, '')
    process.stderr.write('(run nodecat-was --help for the options)\n')
    return code
  }
  try {
    if (worker !== null) {
      // why: a worker whose supervisor is gone (killed, crashed) stops as on SIGTERM instead of running orphaned
      process.once('disconnect', () => { process.kill(process.pid, 'SIGTERM') })
    }
    const node = await startNode(options, { handleSignals: true })
    if (worker !== null) await tellSupervisor({ type: 'nodecat-worker-ready', url: node.url })
    return null
  } catch (err) {
    const code = (err as { code?: string }).code ?? ''
    // a signal during start-up: the signal handler finishes the clean stop and exits 0
    if (code === 'WAS_ERR_STOPPED') return null
    return await failed(err, USAGE_CODES.has(code) ? '' : 'cannot start: ')
  }
}

/** --print-config: the resolved options (secrets hidden) and what --server-xml took and ignored, as JSON. */
function printedConfig (options: ResolvedNodeOptions, report: ServerXmlReport | null): string {
  const hide = (key: string, value: unknown): unknown => (key === 'secret' || key === 'key') && value !== null && value !== undefined && value !== false ? '[hidden]' : value
  return JSON.stringify({ options, serverXml: report }, hide, 2) + '\n'
}

/** One structured line at start: each item --server-xml took (and which source overrides it) and each it ignored, with why. */
function logServerXml (options: ResolvedNodeOptions, report: ServerXmlReport): void {
  const logger = createServiceLogger(options.log).child({ component: 'server-xml' })
  const overridden = report.taken.filter((i) => i.overriddenBy !== undefined).length
  logger.info({ event: 'server-xml-imported', file: report.file, taken: report.taken, ignored: report.ignored },
    `${report.file}: took ${report.taken.length} settings (${overridden} overridden by --config, env or flags), ignored ${report.ignored.length} items (see "ignored" for why)`)
}

/**
 * --workers n > 1: run the workers and serve nothing here. Resolves null once every worker started
 * (a signal then stops them all and exits 0), or an exit code when one of them could not start.
 */
async function supervise (options: ResolvedNodeOptions, argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number | null> {
  const plans = planWorkers(options)
  const logger = createServiceLogger(options.log).child({ component: 'supervisor' })
  const supervisor = new Supervisor({ plans, logger, shutdownTimeout: options.shutdownTimeout, spawn: forkWorker(argv, env) })
  let signalled = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) { logger.info({ event: 'signal-ignored', signal }, `${signal}: already stopping the workers`); return }
    signalled = true
    supervisor.stop(signal).then(() => process.exit(0), (err: unknown) => { logger.fatal({ err }, 'stopping the workers failed'); process.exit(1) })
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  try {
    await supervisor.start()
    return null
  } catch (err) {
    if (signalled) return null
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    process.stderr.write(`nodecat-was: ${(err as Error).message}\n`)
    return err instanceof WorkerStartError ? err.exitCode : 1
  }
}

/** main() plus exiting with its code. */
export async function run (): Promise<void> {
  const code = await main(process.argv.slice(2))
  if (code !== null) process.exit(code)
}

// run when executed directly (node dist/cli.js); bin/nodecat-was.js calls run() itself
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await run()
