/**
 * nodecat-tribes: join and watch a cluster (members), check a setup (doctor), make a cluster key
 * (keygen). Exit codes: 0 ok, 1 runtime failure (or a failed doctor check), 2 bad usage.
 */
import { realpathSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { pino, type Logger, type Level } from 'pino'
import pretty from 'pino-pretty'
import { generateKey } from './crypto/keyring.js'
import { inFlagWords, parseFlags, UsageError, USAGE, type Flags } from './cli/args.js'
import { createOutput } from './cli/output.js'
import { runMembers } from './cli/members.js'
import { runDoctor } from './cli/doctor.js'

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']
/** codes of option errors: bad usage (exit 2), not runtime failures */
const USAGE_CODES = new Set(['TRIBES_ERR_USAGE', 'TRIBES_ERR_INVALID_OPTION', 'TRIBES_ERR_KEY_INVALID', 'TRIBES_ERR_INSECURE'])

function makeLogger (flags: Flags): Logger {
  const level = flags['log-level'] ?? 'warn'
  if (!LEVELS.includes(level)) throw new UsageError(`--log-level must be one of ${LEVELS.join(', ')}, got ${JSON.stringify(level)}`)
  // why: stdout carries the member events; logs go to stderr, pretty only in a terminal
  if (process.stderr.isTTY) return pino({ level }, pretty({ destination: 2, sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }))
  return pino({ level: level as Level }, pino.destination({ fd: 2, sync: true }))
}

/** Run one command line; resolves with the exit code (never calls process.exit itself). */
export async function main (argv: string[], write?: (line: string) => void, writeErr: (text: string) => void = (t) => process.stderr.write(t)): Promise<number> {
  const [command, ...rest] = argv
  try {
    // why: asked-for help is output (stdout, exit 0); a missing command is a usage error (stderr, 2)
    const out = write ?? ((l: string) => process.stdout.write(l + '\n'))
    if (command === undefined) { writeErr(USAGE); return 2 }
    if (command === 'help' || command === '--help' || command === '-h') { out(USAGE.trimEnd()); return 0 }
    const flags = parseFlags(rest)
    if (flags.help === true) { out(USAGE.trimEnd()); return 0 }
    switch (command) {
      case 'keygen':
        if (rest.length > 0) throw new UsageError('keygen takes no flags')
        ;(write ?? ((l: string) => process.stdout.write(l + '\n')))(generateKey())
        return 0
      case 'members':
        return await runMembers(flags, createOutput(flags.json === true, write), makeLogger(flags))
      case 'doctor':
        return await runDoctor(flags, createOutput(flags.json === true, write), makeLogger(flags))
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)} (members, doctor, keygen)`)
    }
  } catch (err) {
    const e = err as Error & { code?: string }
    if (e.code !== undefined && USAGE_CODES.has(e.code)) {
      writeErr(`nodecat-tribes: ${inFlagWords(e.message)}\n(nodecat-tribes --help lists the flags)\n`)
      return 2
    }
    writeErr(`nodecat-tribes: ${e.code ? `${e.code}: ` : ''}${e.message}\n`)
    return 1
  }
}

// why: `node dist/cli.js …` (tests, scripts) runs it directly; bin/nodecat-tribes.js imports main
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (err: unknown) => {
    process.stderr.write(`nodecat-tribes: ${(err as Error)?.stack ?? String(err)}\n`)
    process.exit(1)
  })
}
