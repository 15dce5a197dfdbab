/**
 * What nodecat-tribes prints on stdout: JSON lines with --json, human lines otherwise. Logs go
 * to stderr (pino), so stdout stays a clean stream of events.
 */
import type { Member } from '../types.js'

export type CheckStatus = 'ok' | 'warn' | 'fail'

export interface Output {
  /** a membership event (members) */
  event (event: string, fields: Record<string, unknown> & { member?: Member }): void
  /** one doctor line */
  check (status: CheckStatus, check: string, message: string): void
}

export function memberJson (m: Member): Record<string, unknown> {
  return { id: m.id, host: m.host, port: m.port, uniqueId: m.uniqueId, domain: m.domain, aliveTime: m.aliveTime, meta: m.meta }
}

function human (m: Member): string {
  const meta = m.meta === null ? 'foreign (not nodecat)' : [m.meta.role, m.meta.route && `route=${m.meta.route}`, m.meta.http].filter(Boolean).join(' ')
  return `${m.id}  ${meta}${m.domain ? `  domain=${m.domain}` : ''}  up ${(m.aliveTime / 1000).toFixed(1)}s`
}

const SIGN: Record<string, string> = { joined: '=', memberAdded: '+', memberDisappeared: '-', foreignMember: '?', left: '=' }

export function createOutput (json: boolean, write: (line: string) => void = (l) => process.stdout.write(l + '\n')): Output {
  return {
    event (event, fields) {
      const { member, ...rest } = fields
      if (json) return write(JSON.stringify({ time: new Date().toISOString(), event, ...(member ? { member: memberJson(member) } : {}), ...rest }))
      const extra = Object.entries(rest).map(([k, val]) => `${k}=${typeof val === 'object' ? JSON.stringify(val) : String(val)}`).join(' ')
      write(`${SIGN[event] ?? '*'} ${event.padEnd(17)} ${member ? human(member) : ''}${extra ? `  ${extra}` : ''}`.trimEnd())
    },
    check (status, check, message) {
      if (json) return write(JSON.stringify({ check, status, message }))
      write(`${status.padEnd(4)} ${check}: ${message}`)
    }
  }
}
