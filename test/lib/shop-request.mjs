// One HTTP request for tests that must send it from inside a network namespace
// (`ip netns exec <ns> node shop-request.mjs <url> <method> [cookie] [form-json]`).
// Prints one JSON line: { status, cookie (JSESSIONID from Set-Cookie or null), body, error }.
const [url, method = 'GET', cookie = '', form = ''] = process.argv.slice(2)
const headers = { accept: 'application/json' }
if (cookie !== '') headers.cookie = `JSESSIONID=${cookie}`
let body
if (form !== '') {
  headers['content-type'] = 'application/x-www-form-urlencoded'
  body = new URLSearchParams(JSON.parse(form)).toString()
}
try {
  const res = await fetch(url, { method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(20000) })
  let next = null
  for (const c of res.headers.getSetCookie()) {
    const m = /^JSESSIONID=([^;]*)/.exec(c)
    if (m) next = m[1]
  }
  const text = await res.text()
  let parsed = text
  try { parsed = JSON.parse(text) } catch {}
  console.log(JSON.stringify({ status: res.status, cookie: next, body: parsed, error: null }))
} catch (err) {
  console.log(JSON.stringify({ status: 0, cookie: null, body: null, error: `${err.name}: ${err.message} ${err.cause?.code ?? ''}` }))
}
