// @ts-check
/**
 * nodecat bench app: a fastify plugin (plain JS, no build step, no imports) that `nodecat-was`
 * loads with `--app bench-app.js`. The benchmarks drive it locally, and over the network when
 * you run it on your own machines (e.g. Raspberry Pis) and pass `--targets` to a benchmark.
 *
 * FOR BENCHMARKS ONLY: /_bench/fill creates many sessions on request. Never expose it to a
 * network you do not control.
 *
 *  POST /count                        a counter in the session (the same JSON as examples/shop)
 *  POST /_bench/session               one typical small session (user, count, 3-item cart, loginAt)
 *  POST /_bench/fill?count=N          N such sessions, created in-process through the real request
 *                                     path (fastify.inject), `concurrency` at a time
 *  POST /_bench/put?size=S&v=K        set the session's `payload` attribute (~S bytes) to version K
 *  GET  /_bench/get                   { v } of the session's payload (null when none)
 *  POST /_bench/write?count=N&size=S  N puts of ~S bytes, in-process, `concurrency` sessions in
 *                                     parallel, each updated in turn: N deltas to replicate
 *  GET  /_bench/memory                this process: rss, heapUsed, peak heapUsed (sampled every
 *                                     25 ms since the app loaded), VmHWM (peak RSS) from /proc
 */
import { readFileSync } from 'node:fs'

/** @typedef {import('fastify').FastifyInstance} FastifyInstance */
/** @typedef {{ get (name: string): unknown, set (name: string, value: unknown): void, id: string | null }} Session */
/** @typedef {import('fastify').FastifyRequest & { session: Session }} Request */

const LIMITS = { fill: 1_000_000, write: 10_000_000, size: 1_000_000, concurrency: 256 }

/** An integer query parameter within [min, max], or `fallback` when absent; null when invalid. */
function int (/** @type {unknown} */ raw, /** @type {number} */ fallback, /** @type {number} */ min, /** @type {number} */ max) {
  if (raw === undefined || raw === '') return fallback
  const n = Number(raw)
  return Number.isInteger(n) && n >= min && n <= max ? n : null
}

/** VmHWM and VmRSS of this process in bytes (Linux), or null elsewhere. */
function procMemory () {
  try {
    const text = readFileSync('/proc/self/status', 'utf8')
    const kb = (/** @type {string} */ key) => {
      const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)
      return m ? Number(m[1]) * 1024 : null
    }
    return { vmHWM: kb('VmHWM'), vmRSS: kb('VmRSS') }
  } catch { return { vmHWM: null, vmRSS: null } }
}

/** `count` tasks, `concurrency` at a time; resolves with how many failed. */
async function pool (/** @type {number} */ count, /** @type {number} */ concurrency, /** @type {(i: number, lane: number) => Promise<boolean>} */ task) {
  let next = 0
  let failed = 0
  const lane = async (/** @type {number} */ l) => {
    while (next < count) {
      const i = next++
      if (!await task(i, l)) failed++
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, (_, l) => lane(l)))
  return failed
}

/**
 * @param {FastifyInstance} fastify
 * @param {{ jvmRoute?: string }} options
 */
export default async function benchApp (fastify, options) {
  const jvmRoute = options.jvmRoute ?? 'standalone'

  let peakHeapUsed = 0
  const sample = () => { const h = process.memoryUsage().heapUsed; if (h > peakHeapUsed) peakHeapUsed = h }
  sample()
  const sampler = setInterval(sample, 25)
  sampler.unref()
  fastify.addHook('onClose', async () => { clearInterval(sampler) })

  const bad = (/** @type {import('fastify').FastifyReply} */ reply, /** @type {string} */ what) => reply.code(400).send({ error: what })

  fastify.post('/count', async (request) => {
    const session = /** @type {Request} */ (request).session
    const count = /** @type {number} */ (session.get('count') ?? 0) + 1
    session.set('count', count)
    return { jvmRoute, sessionId: session.id, count }
  })

  // the same typical small session as bench:memory (~120 B of attribute data)
  let made = 0
  fastify.post('/_bench/session', async (request) => {
    const session = /** @type {Request} */ (request).session
    const i = made++
    session.set('user', `user-${i}@example.org`)
    session.set('count', i % 50)
    session.set('cart', ['apple', 'pear', `item-${i % 100}`])
    session.set('loginAt', 1_795_000_000_000 + i)
    return { jvmRoute }
  })

  fastify.post('/_bench/fill', async (request, reply) => {
    const q = /** @type {Record<string, string>} */ (request.query)
    const count = int(q.count, 1000, 1, LIMITS.fill)
    const concurrency = int(q.concurrency, 16, 1, LIMITS.concurrency)
    if (count === null || concurrency === null) return bad(reply, `count must be 1..${LIMITS.fill}, concurrency 1..${LIMITS.concurrency}`)
    const t0 = performance.now()
    const failed = await pool(count, concurrency, async () => {
      const res = await fastify.inject({ method: 'POST', url: '/_bench/session' })
      return res.statusCode === 200
    })
    return { jvmRoute, created: count - failed, failed, ms: performance.now() - t0 }
  })

  fastify.post('/_bench/put', async (request, reply) => {
    const q = /** @type {Record<string, string>} */ (request.query)
    const size = int(q.size, 100, 1, LIMITS.size)
    const v = int(q.v, 0, 0, Number.MAX_SAFE_INTEGER)
    if (size === null || v === null) return bad(reply, `size must be 1..${LIMITS.size}, v a non-negative integer`)
    const session = /** @type {Request} */ (request).session
    // why: a string pad sets the encoded size; v and t make every put a real change
    session.set('payload', { v, t: Date.now(), pad: 'x'.repeat(Math.max(0, size - 30)) })
    return { jvmRoute, v }
  })

  fastify.get('/_bench/get', async (request) => {
    const p = /** @type {{ v?: number } | undefined} */ (/** @type {Request} */ (request).session.get('payload'))
    return { jvmRoute, v: p?.v ?? null }
  })

  fastify.post('/_bench/write', async (request, reply) => {
    const q = /** @type {Record<string, string>} */ (request.query)
    const count = int(q.count, 1000, 1, LIMITS.write)
    const size = int(q.size, 100, 1, LIMITS.size)
    const concurrency = int(q.concurrency, 16, 1, LIMITS.concurrency)
    const ms = int(q.ms, 60_000, 1, 600_000)
    if (count === null || size === null || concurrency === null || ms === null) return bad(reply, `count 1..${LIMITS.write}, size 1..${LIMITS.size}, concurrency 1..${LIMITS.concurrency}, ms 1..600000`)
    // one session per lane, so each session's updates stay in order
    /** @type {string[]} */
    const cookies = []
    for (let l = 0; l < Math.min(concurrency, count); l++) {
      const res = await fastify.inject({ method: 'POST', url: `/_bench/put?size=${size}&v=0` })
      const set = [res.headers['set-cookie'] ?? []].flat().find((c) => String(c).startsWith('JSESSIONID='))
      if (!set) return reply.code(500).send({ error: 'no session cookie from /_bench/put (is the cookie named JSESSIONID?)' })
      cookies.push(String(set).split(';')[0])
    }
    const t0 = performance.now()
    const end = t0 + ms
    let written = 0
    const failed = await pool(count, concurrency, async (i, lane) => {
      if (performance.now() > end) return false
      const res = await fastify.inject({ method: 'POST', url: `/_bench/put?size=${size}&v=${i + 1}`, headers: { cookie: cookies[lane] } })
      if (res.statusCode === 200) { written++; return true }
      return false
    })
    return { jvmRoute, written, failed, sessions: cookies.length, ms: performance.now() - t0 }
  })

  fastify.get('/_bench/memory', async () => {
    sample()
    const m = process.memoryUsage()
    return { jvmRoute, pid: process.pid, rss: m.rss, heapUsed: m.heapUsed, peakHeapUsed, ...procMemory() }
  })
}
