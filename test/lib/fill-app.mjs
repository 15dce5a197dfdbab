// The example shop plus POST /fill?kb=N, which stores N KB of random text in the session (for
// tests that need big session state, e.g. a state transfer that takes long enough to be cut).
import { randomBytes } from 'node:crypto'
import shop from '../../examples/shop/app.js'

export default async function fillApp (fastify, options) {
  await shop(fastify, options)
  fastify.post('/fill', async (request) => {
    const kb = Math.min(256, Math.max(1, Number(request.query.kb ?? 1) | 0))
    request.session.set('blob', randomBytes(kb * 512).toString('hex'))
    request.session.set('count', (request.session.get('count') ?? 0) + 1)
    return { jvmRoute: options.jvmRoute, user: request.session.get('user') ?? null, count: request.session.get('count'), cart: request.session.get('cart') ?? [] }
  })
}
