/**
 * The access log: one line per request, as pino JSON (`accessLogFormat: 'json'`, the default) or
 * in Apache/nginx "combined" format plus the worker route and the upstream time
 * (`accessLogFormat: 'combined'`), which log tools (GoAccess, AWStats, fail2ban, …) read:
 *
 *   %h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i" route upstream_seconds
 *   127.0.0.1 - - [07/Dec/2026:15:16:40 +0000] "GET /shop/cart HTTP/1.1" 200 512 "-" "curl/7.88.1" n1 0.004
 *
 * No session id is ever written: the path (and the Referer) lose every spelling of the session
 * path parameter (`;jsessionid=…`) and their query; no cookie or Authorization header is read.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import { loggablePath } from '@nodecat/protocol'

export type AccessLogFormat = 'json' | 'combined'
export const ACCESS_LOG_FORMATS = ['json', 'combined'] as const

/** What one finished (or abandoned) request leaves for the log. */
export interface AccessRecord {
  req: IncomingMessage
  res: ServerResponse
  /** the worker that answered (or was last tried), null when the balancer answered itself */
  route: string | null
  attempts: number
  startedAt: number
  /** ms from the first try's dispatch until the worker's answer ended or failed; null: no worker tried */
  upstreamMs: number | null
  /** response body bytes sent to the client */
  bytes: number
  trustForwarded: boolean
  sessionPathParam: string
}

export interface AccessLog {
  write (r: AccessRecord): void
}

/** nginx's status for a request whose client went away before an answer was sent */
export const NO_ANSWER_STATUS = 499

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
const two = (n: number): string => (n < 10 ? '0' : '') + String(n)

/** [07/Dec/2026:15:16:40 +0000] (UTC: the line is the same on every machine) */
export function clfTime (ms: number): string {
  const d = new Date(ms)
  return `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]!}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000]`
}

/** a request value inside the line's quotes: `"`, `\` and bytes outside printable ASCII as \xHH (as nginx does) */
export function escapeField (text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/["\\\x00-\x1f\x7f-\uffff]/g, (c) => {
    const code = c.charCodeAt(0)
    return code > 0xff ? '?' : '\\x' + code.toString(16).toUpperCase().padStart(2, '0')
  })
}

function peerAddress (req: IncomingMessage): string {
  const a = req.socket.remoteAddress ?? '-'
  return a.startsWith('::ffff:') ? a.slice(7) : a
}

/**
 * The client's address: the TCP peer, or with trustForwarded the address the trusted proxy in
 * front saw (the last X-Forwarded-For entry; earlier entries are whatever the client claimed).
 */
export function clientAddress (req: IncomingMessage, trustForwarded: boolean): string {
  if (trustForwarded) {
    const xff = req.headers['x-forwarded-for']
    if (xff !== undefined) {
      const entries = String(xff).split(',')
      const last = entries[entries.length - 1]!.trim()
      if (/^[0-9A-Fa-f:.]{2,45}$/.test(last)) return last
    }
  }
  return peerAddress(req)
}

function statusOf (res: ServerResponse): number {
  return res.headersSent ? res.statusCode : NO_ANSWER_STATUS
}

/** one combined-format line (without the newline) */
export function combinedLine (r: AccessRecord, now = Date.now()): string {
  const { req, res } = r
  const path = loggablePath(req.url ?? '', r.sessionPathParam)
  const request = `${req.method ?? '-'} ${path} HTTP/${req.httpVersion}`
  const referer = req.headers.referer
  const agent = req.headers['user-agent']
  const upstream = r.upstreamMs === null ? '-' : (r.upstreamMs / 1000).toFixed(3)
  return `${clientAddress(req, r.trustForwarded)} - - ${clfTime(now)} "${escapeField(request)}" ${statusOf(res)} ${r.bytes > 0 ? r.bytes : '-'} ` +
    `"${referer === undefined ? '-' : escapeField(loggablePath(referer, r.sessionPathParam))}" "${agent === undefined ? '-' : escapeField(agent)}" ` +
    `${r.route ?? '-'} ${upstream}`
}

export function jsonAccessLog (logger: Logger): AccessLog {
  return {
    write (r) {
      logger.info({
        method: r.req.method,
        path: loggablePath(r.req.url ?? '', r.sessionPathParam),
        status: r.res.headersSent ? r.res.statusCode : 0,
        route: r.route,
        attempts: r.attempts,
        ms: Date.now() - r.startedAt,
        complete: r.res.writableFinished
      }, 'request')
    }
  }
}

/** combined lines to `out` (a file stream, stdout, …), one write per line */
export function combinedAccessLog (out: { write: (text: string) => unknown }): AccessLog {
  return {
    write (r) { out.write(combinedLine(r) + '\n') }
  }
}
