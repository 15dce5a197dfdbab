/**
 * JSON over plain HTTP for driving nodes: a node's /_nodecat/status and the bench app's /_bench/*
 * routes. No keep-alive (these are control calls, not load), a timeout on every call.
 */
import http from 'node:http'
import { sleep } from '@nodecat/testkit'

export async function requestJson (method: 'GET' | 'POST', url: string, timeoutMs = 5000): Promise<Record<string, any>> {
  return await new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, timeout: timeoutMs, headers: { accept: 'application/json', ...(method === 'POST' ? { 'content-length': '0' } : {}) } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => {
        let doc: unknown
        try { doc = JSON.parse(body) } catch { return reject(new Error(`${method} ${url}: HTTP ${res.statusCode}, not JSON: ${body.slice(0, 200)}`)) }
        if ((res.statusCode ?? 0) >= 400) return reject(new Error(`${method} ${url}: HTTP ${res.statusCode}: ${body.slice(0, 300)}`))
        resolve(doc as Record<string, any>)
      })
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer in ${timeoutMs} ms`)))
    req.on('error', reject)
    req.end()
  })
}

export const getJson = async (url: string, timeoutMs?: number): Promise<Record<string, any>> => await requestJson('GET', url, timeoutMs)
export const postJson = async (url: string, timeoutMs?: number): Promise<Record<string, any>> => await requestJson('POST', url, timeoutMs)

/** Poll `probe` every `everyMs` until it returns a value other than undefined, or throw after `timeoutMs`. */
export async function pollUntil<T> (what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs
  let last = ''
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined) return v
    } catch (err) { last = `; last error: ${(err as Error).message}` }
    if (Date.now() > until) throw new Error(`${what}: not within ${timeoutMs / 1000} s${last}`)
    await sleep(everyMs)
  }
}
