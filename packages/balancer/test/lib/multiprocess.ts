/** A `nodecat-balancer --workers 3` started for one test, and requests on fresh connections. */
import http from 'node:http'
import { startNode, type TestProcess } from '../../../../test/lib/proc.js'
import { freePorts } from '../../../../test/lib/ports.js'
import type { BalancerStatus } from '../../src/status.js'
import { call, until, type startBackend } from '../helpers.js'

export const PROCESSES = 3

export interface Lb { p: TestProcess, port: number, admin: string, status: () => Promise<BalancerStatus>, get: (path: string, headers?: Record<string, string>, timeoutMs?: number) => Promise<{ status: number, body: string }> }

export async function startLb (t: Parameters<typeof startBackend>[0], args: string[]): Promise<Lb> {
  const [port, adminPort] = await freePorts(2)
  const p = startNode(t, 'balancer', 'cli.js', ['--workers', String(PROCESSES), '--listen', `127.0.0.1:${port!}`, '--admin', `127.0.0.1:${adminPort!}`, ...args])
  await p.waitFor((l) => l.msg === 'balancer started' && l.proc === 0, 90_000, 'the primary says all processes started')
  const admin = `http://127.0.0.1:${adminPort!}`
  const status = async (): Promise<BalancerStatus> => JSON.parse((await call(`${admin}/status`)).text) as BalancerStatus
  // why agent false: a new connection per request, so the primary hands each to the next process
  const get = async (url: string, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<{ status: number, body: string }> => await new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: port!, path: url, agent: false, headers: { ...headers, connection: 'close' }, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
  })
  return { p, port: port!, admin, status, get }
}

/** wait until every serving process has applied the table the primary holds now */
export async function allCaughtUp (lb: Lb): Promise<void> {
  const target = (await lb.status()).balancer.tableVersion!
  await until(async () => (await lb.status()).balancer.processes!.every((x) => x.tableVersion >= target), `every process applied table ${target}`)
}

export const served = (s: BalancerStatus): number[] => s.balancer.processes!.map((x) => x.requests)
