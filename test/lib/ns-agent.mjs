// A request agent that runs inside a test network namespace and listens on a unix socket (a
// filesystem path, reachable from the test process outside the namespace): each POST carries
// { url, method, cookie, form } as JSON, the agent makes that request from inside the namespace
// and answers { status, cookie, body, error } like shop-request.mjs, plus `code`: the balancer's
// x-nodecat-error header, if any. Saves starting a node
// process per request. Usage: node ns-agent.mjs <socket path>
import http from 'node:http'
import { rmSync } from 'node:fs'

const socketPath = process.argv[2]
rmSync(socketPath, { force: true })
const server = http.createServer(async (req, res) => {
  let text = ''
  for await (const chunk of req) text += chunk
  let out
  try {
    const { url, method = 'GET', cookie = '', form } = JSON.parse(text)
    const headers = { accept: 'application/json' }
    if (cookie !== '') headers.cookie = `JSESSIONID=${cookie}`
    let body
    if (form !== undefined && form !== null) {
      headers['content-type'] = 'application/x-www-form-urlencoded'
      body = new URLSearchParams(form).toString()
    }
    const r = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(20000) })
    let next = null
    for (const c of r.headers.getSetCookie()) {
      const m = /^JSESSIONID=([^;]*)/.exec(c)
      if (m) next = m[1]
    }
    const t = await r.text()
    let parsed = t
    try { parsed = JSON.parse(t) } catch {}
    out = { status: r.status, cookie: next, body: parsed, error: null, code: r.headers.get('x-nodecat-error') }
  } catch (err) {
    out = { status: 0, cookie: null, body: null, error: `${err.name}: ${err.message} ${err.cause?.code ?? ''}` }
  }
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify(out))
})
server.listen(socketPath, () => console.log(JSON.stringify({ msg: 'ns-agent listening', socketPath })))
process.on('SIGTERM', () => { server.close(); rmSync(socketPath, { force: true }); process.exit(0) })
