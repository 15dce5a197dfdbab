// @ts-check
/**
 * nodecat bench:was: a batch of HTTP GETs made from inside a network namespace (the bench itself
 * runs in the host namespace and cannot reach the namespaces' addresses). bench/lib/tomcat-stacks.ts
 * runs it as `ip netns exec <load-generator> node http-client.js '<json>'`.
 *
 * Input (argv[2], JSON): { requests: [{ url, cookie? }], timeoutMs }. The requests run one after
 * the other, in order (a replica is read only after its owner). Output (stdout, one JSON line):
 * { results: [{ status, cookie, body } | { error }] } where cookie is the JSESSIONID the response
 * set ("JSESSIONID=<id>"), or null.
 */
import http from 'node:http'

/** @param {string} url @param {string | undefined} cookie @param {number} timeoutMs */
function get (url, cookie, timeoutMs) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, headers: cookie ? { cookie } : {} }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c) => { if (body.length < 100_000) body += c })
      res.on('end', () => {
        const set = (res.headers['set-cookie'] ?? []).find((c) => c.startsWith('JSESSIONID='))
        resolve({ status: res.statusCode ?? 0, cookie: set ? set.split(';')[0] : null, body })
      })
      res.on('error', (err) => resolve({ error: err.message }))
    })
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', (err) => resolve({ error: err.message }))
  })
}

const input = JSON.parse(process.argv[2] ?? '{}')
const timeoutMs = Number(input.timeoutMs ?? 10_000)
const results = []
for (const r of /** @type {Array<{ url: string, cookie?: string }>} */ (input.requests ?? []).slice(0, 10_000)) {
  results.push(await get(r.url, r.cookie, timeoutMs))
}
process.stdout.write(JSON.stringify({ results }) + '\n')
