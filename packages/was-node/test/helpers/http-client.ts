/** A tiny HTTP(S) client for tests: full control of Cookie / X-Forwarded-Proto, raw Set-Cookie lines. */
import http from 'node:http'
import https from 'node:https'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'

export interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  setCookies: string[]
  body: string
  json (): any
}

export async function request (base: string, target: string, options: { method?: string, headers?: Record<string, string | string[]>, body?: string } = {}): Promise<Reply> {
  const url = new URL(base)
  const lib = url.protocol === 'https:' ? https : http
  return await new Promise((resolve, reject) => {
    const req = lib.request({
      host: url.hostname,
      port: url.port,
      method: options.method ?? 'GET',
      path: target,
      headers: options.headers,
      rejectUnauthorized: false,
      agent: false
    }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        setCookies: res.headers['set-cookie'] ?? [],
        body,
        json: () => JSON.parse(body)
      }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(options.body)
  })
}

/** the value of cookie `name` in a Set-Cookie line, or undefined */
export function cookieValue (setCookies: string[], name = 'JSESSIONID'): string | undefined {
  for (const line of setCookies) {
    const [pair] = line.split(';')
    const eq = pair!.indexOf('=')
    if (pair!.slice(0, eq).trim() === name) return pair!.slice(eq + 1)
  }
  return undefined
}

/** attributes of the first Set-Cookie line for `name`, lower-cased names */
export function cookieAttributes (setCookies: string[], name = 'JSESSIONID'): Map<string, string> {
  const line = setCookies.find((l) => l.startsWith(`${name}=`)) ?? ''
  const attrs = new Map<string, string>()
  for (const part of line.split(';').slice(1)) {
    const [k, ...rest] = part.split('=')
    attrs.set(k!.trim().toLowerCase(), rest.join('=').trim())
  }
  return attrs
}

/** A throwaway self-signed certificate for 127.0.0.1 (openssl). */
export function selfSignedCert (): { key: string, cert: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'nodecat-cert-'))
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-subj', '/CN=127.0.0.1', '-days', '1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' })
    return { key: readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: readFileSync(path.join(dir, 'cert.pem'), 'utf8') }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
