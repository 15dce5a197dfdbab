// @ts-check
/**
 * nodecat example shop: a fastify plugin (plain modern JS, no build step) that nodecat-was loads
 * with `--app examples/shop/app.js`. Every page says which node (jvmRoute) served it, so you can
 * watch a session survive when the balancer moves you to another node.
 *
 * - POST /login     sets the user, then session.regenerate(): the anti-fixation step
 * - POST /logout    session.invalidate(): the session ends on every node
 * - POST /count     a counter
 * - POST /cart      adds an item by mutating the cart array IN PLACE (no set() needed)
 * - GET  /          the page;  GET /api/state  the same as JSON (also every POST with Accept: application/json)
 */

/** @typedef {import('fastify').FastifyInstance} FastifyInstance */
/** @typedef {import('fastify').FastifyRequest & { session: import('@nodecat/was-node').SessionApi }} Request */
/** @typedef {import('fastify').FastifyReply} Reply */

const escape = (/** @type {unknown} */ value) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/**
 * @param {FastifyInstance} fastify
 * @param {{ jvmRoute?: string }} options
 */
export default async function shop (fastify, options) {
  const jvmRoute = options.jvmRoute ?? 'standalone'

  // forms post application/x-www-form-urlencoded; fastify only parses JSON by itself
  fastify.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 },
    (_request, body, done) => { done(null, Object.fromEntries(new URLSearchParams(String(body)))) })

  /** @param {Request} request */
  const state = (request) => {
    const s = request.session
    return {
      jvmRoute,
      sessionId: s.id,
      user: s.get('user') ?? null,
      count: s.get('count') ?? 0,
      cart: s.get('cart') ?? []
    }
  }

  /** after an action: JSON for API clients, a redirect back to the page for browsers */
  const done = (/** @type {Request} */ request, /** @type {Reply} */ reply) =>
    (request.headers.accept ?? '').includes('application/json') ? reply.send(state(request)) : reply.redirect('/', 303)

  /** @param {Request} request @param {Reply} reply */
  const field = (request, reply, /** @type {string} */ name) => {
    const value = /** @type {Record<string, unknown> | undefined} */ (request.body)?.[name]
    if (typeof value !== 'string' || value.trim() === '' || value.length > 64) {
      reply.code(400).send({ error: `${name} must be 1 to 64 characters` })
      return null
    }
    return value.trim()
  }

  fastify.post('/login', async (request, reply) => {
    const user = field(/** @type {Request} */ (request), reply, 'user')
    if (user === null) return reply
    const session = /** @type {Request} */ (request).session
    session.set('user', user)
    session.principal = user
    // Anti-fixation: whoever knew the id before the login must not own the logged-in session.
    // regenerate() gives the session a new id (contents kept, old id gone on every node).
    session.regenerate()
    return done(/** @type {Request} */ (request), reply)
  })

  fastify.post('/logout', async (request, reply) => {
    /** @type {Request} */ (request).session.invalidate()
    return done(/** @type {Request} */ (request), reply)
  })

  fastify.post('/count', async (request, reply) => {
    const session = /** @type {Request} */ (request).session
    session.set('count', (session.get('count') ?? 0) + 1)
    return done(/** @type {Request} */ (request), reply)
  })

  fastify.post('/cart', async (request, reply) => {
    const item = field(/** @type {Request} */ (request), reply, 'item')
    if (item === null) return reply
    const session = /** @type {Request} */ (request).session
    /** @type {string[] | undefined} */
    const cart = session.get('cart')
    if (cart === undefined) session.set('cart', [item])
    else cart.push(item) // changed in place: nodecat notices and replicates the new element
    return done(/** @type {Request} */ (request), reply)
  })

  fastify.get('/api/state', async (request) => state(/** @type {Request} */ (request)))

  fastify.get('/', async (request, reply) => {
    const s = state(/** @type {Request} */ (request))
    reply.type('text/html; charset=utf-8')
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>nodecat shop — ${escape(s.jvmRoute)}</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #222 }
  .node { background: #eef4ff; border: 1px solid #b9cdf5; border-radius: .5rem; padding: .5rem 1rem }
  code { background: #f4f4f4; padding: 0 .25rem; border-radius: .25rem; word-break: break-all }
  form { display: inline-block; margin: .25rem .5rem .25rem 0 }
  section { margin: 1.5rem 0 }
</style></head>
<body>
<h1>nodecat shop</h1>
<p class="node">Served by node <strong>${escape(s.jvmRoute)}</strong><br>
Session id: <code>${s.sessionId === null ? '(none yet)' : escape(s.sessionId)}</code></p>

<section><h2>Account</h2>
${s.user === null
  ? '<form method="post" action="/login"><input name="user" placeholder="your name" required maxlength="64"> <button>Log in</button></form>'
  : `<p>Logged in as <strong>${escape(s.user)}</strong></p><form method="post" action="/logout"><button>Log out</button></form>`}
</section>

<section><h2>Counter: ${escape(s.count)}</h2>
<form method="post" action="/count"><button>+1</button></form>
</section>

<section><h2>Cart (${s.cart.length})</h2>
<ul>${s.cart.map((/** @type {string} */ item) => `<li>${escape(item)}</li>`).join('')}</ul>
<form method="post" action="/cart"><input name="item" placeholder="item" required maxlength="64"> <button>Add</button></form>
</section>

<p><a href="/api/state">this page as JSON</a></p>
</body></html>
`
  })
}
