/**
 * `nodecat-balancer --print-config`: the options as the balancer would run with them, as JSON,
 * and what --workers-properties took and ignored (with why). Secrets (the admin token, AJP
 * secrets) are never printed. When the options do not validate, the mapped options are still
 * printed (marked valid: false, with the error), so an import can be read before it can run.
 */
import type { Logger } from 'pino'
import { resolveBalancerOptions, type BalancerOptions } from './options.js'
import type { WorkersPropertiesImport } from './workers-properties.js'

function hidden (key: string, value: unknown): unknown {
  if ((key === 'secret' || key === 'token') && value !== undefined && value !== null && value !== false) return '[hidden]'
  return value
}

/** the JSON text; exit code 0 when the options validate, 2 when not */
export function printedConfig (balancer: BalancerOptions, imported: WorkersPropertiesImport | undefined): { text: string, code: number } {
  const report = imported === undefined ? null : { file: imported.file, mountFile: imported.mountFile, lbWorker: imported.lbWorker, taken: imported.taken, ignored: imported.ignored }
  try {
    const { logger, channel, accessLogStream, ...options } = resolveBalancerOptions(balancer)
    void logger; void channel; void accessLogStream
    return { text: JSON.stringify({ valid: true, options, workersProperties: report }, hidden, 2) + '\n', code: 0 }
  } catch (err) {
    const e = err as Error & { code?: string }
    return { text: JSON.stringify({ valid: false, error: { code: e.code, message: e.message }, options: balancer, workersProperties: report }, hidden, 2) + '\n', code: 2 }
  }
}

/** one structured line at start: what the import took and ignored */
export function logImport (logger: Logger, imported: WorkersPropertiesImport): void {
  logger.info({ event: 'workers-properties-imported', file: imported.file, mountFile: imported.mountFile, lbWorker: imported.lbWorker, taken: imported.taken, ignored: imported.ignored },
    `${imported.file}: lb worker ${imported.lbWorker}, took ${imported.taken.length} settings, ignored ${imported.ignored.length} items (see "ignored" for why)`)
}
