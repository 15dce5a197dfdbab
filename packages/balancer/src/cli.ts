/**
 * nodecat-balancer: run the balancer from flags and/or a JSON config. Logs are pino JSON on
 * stdout (pretty in a terminal). Exit codes: 0 stopped by a signal, 1 runtime failure, 2 bad usage.
 */
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { pino, type Logger, type Level } from 'pino'
import pretty from 'pino-pretty'
import type { Channel } from '@nodecat/tribes'
import { answerTomcatNeighbours } from '@nodecat/protocol'
import { createBalancer } from './balancer.js'
import { parseCli, UsageError, USAGE } from './cli-args.js'
import { logImport, printedConfig } from './print-config.js'
import { AppendFile } from './append-file.js'
import cluster from 'node:cluster'
import { runPrimary } from './process-group.js'
import { runFollower } from './process-follower.js'
import { PROC_ENV } from './process-messages.js'

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
/** option errors are bad usage (exit 2), not runtime failures */
const USAGE_CODES = new Set(['LB_ERR_USAGE', 'LB_ERR_INVALID_OPTION', 'LB_ERR_WORKERS_PROPERTIES', 'TRIBES_ERR_USAGE', 'TRIBES_ERR_INVALID_OPTION', 'TRIBES_ERR_KEY_INVALID', 'TRIBES_ERR_INSECURE'])

function makeLogger (level: string): Logger {
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(level)}`)
  if (process.stdout.isTTY) return pino({ level }, pretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }))
  return pino({ level: level as Level })
}

/** Run until SIGTERM/SIGINT; resolves with the exit code (never calls process.exit itself). */
export async function main (argv: string[], writeErr: (text: string) => void = (t) => process.stderr.write(t), writeOut: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  let channel: Channel | undefined
  try {
    const config = parseCli(argv)
    // why: asked-for help is output (stdout, exit 0); usage errors go to stderr
    if (config === null) { writeOut(USAGE.endsWith('\n') ? USAGE : USAGE + '\n'); return 0 }
    if (config.printConfig === true) {
      const printed = printedConfig(config.balancer, config.imported)
      writeOut(printed.text)
      return printed.code
    }
    const base = makeLogger(config.logLevel)
    // why proc: with --workers n every line says which process wrote it (0 = the primary)
    const proc = cluster.isWorker ? Number(process.env[PROC_ENV]) : 0
    if (cluster.isWorker && proc > 0) return await runFollower(argv, config, base.child({ proc }))
    const logger = config.processes > 1 ? base.child({ proc }) : base
    if (config.imported !== undefined) logImport(logger, config.imported)
    if (config.discovery !== null) {
      const { createChannel } = await import('@nodecat/tribes')
      channel = createChannel({ ...config.discovery, logger: logger.child({ component: 'tribes' }) })
      // why: a balancer on a Tomcat's group may be its oldest member, which a starting Tomcat asks
      // for its sessions and would wait 60 s on; answer as a Tomcat without that context does
      answerTomcatNeighbours(channel, { logger: logger.child({ component: 'tomcat-neighbour' }) })
    }
    if (config.processes > 1) {
      if (channel !== undefined) await channel.start()
      const code = await runPrimary({ argv, config, logger, channel })
      if (channel !== undefined) await channel.stop()
      return code
    }
    const accessFile = config.accessLogFile !== undefined ? new AppendFile(config.accessLogFile, logger) : null
    const balancer = createBalancer({ ...config.balancer, logger, ...(channel !== undefined ? { channel } : {}), ...(accessFile !== null ? { accessLogStream: accessFile } : {}) })
    // why: logrotate moves the file and sends SIGHUP; new lines go to a new file of that name
    // why SIGHUP: the config file (and the TLS files it names) read again, as httpd and nginx do
    const onHup = (): void => {
      accessFile?.reopen()
      try {
        const next = parseCli(argv)
        if (next === null) return
        balancer.reload({ ...next.balancer, logger, ...(channel !== undefined ? { channel } : {}), ...(accessFile !== null ? { accessLogStream: accessFile } : {}) })
      } catch (err) {
        logger.error({ err }, 'config reload refused: the running config keeps serving')
      }
    }
    process.on('SIGHUP', onHup)
    // why: the channel first, so discovery takes in the members it already knows
    if (channel !== undefined) await channel.start()
    await balancer.start()
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve)
      process.once('SIGINT', resolve)
    })
    logger.info('stopping')
    process.off('SIGHUP', onHup)
    await balancer.stop()
    accessFile?.close()
    if (channel !== undefined) await channel.stop()
    return 0
  } catch (err) {
    const e = err as Error & { code?: string }
    if (e.code !== undefined && USAGE_CODES.has(e.code)) {
      writeErr(`nodecat-balancer: ${e.message}\n(nodecat-balancer --help lists the flags)\n`)
      return 2
    }
    writeErr(`nodecat-balancer: ${e.code !== undefined ? `${e.code}: ` : ''}${e.message}\n`)
    if (channel !== undefined) await channel.stop().catch(() => {})
    return 1
  }
}

// why: `node dist/cli.js …` (tests, scripts) runs it directly; bin/nodecat-balancer.js imports main
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`nodecat-balancer: ${(err as Error)?.stack ?? String(err)}\n`)
    process.exit(1)
  })
}
