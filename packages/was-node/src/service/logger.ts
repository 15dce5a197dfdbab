/**
 * The service logger: JSON lines on stdout when it is not a terminal (CI, pipes, journald),
 * pino-pretty in a terminal. Both are synchronous so lines appear in order and none is lost when
 * the process exits after a signal.
 */
import { pino, type Logger, type DestinationStream } from 'pino'
import pinoPretty from 'pino-pretty'
import type { ResolvedNodeOptions } from './options.js'

export function createServiceLogger (options: ResolvedNodeOptions['log'], destination?: DestinationStream): Logger {
  const pretty = options.pretty === 'auto' ? process.stdout.isTTY === true : options.pretty
  const base = { level: options.level, base: { pid: process.pid } }
  if (destination !== undefined) return pino(base, destination)
  if (pretty) return pino(base, pinoPretty({ sync: true, singleLine: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }))
  return pino(base, pino.destination({ dest: 1, sync: true }))
}
