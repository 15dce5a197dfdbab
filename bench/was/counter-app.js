// @ts-check
/**
 * nodecat bench:was, the counter app: a fastify plugin (plain JS, no build step) that `nodecat-was`
 * loads with `--app bench/was/counter-app.js`. The same two pages as the Tomcat webapp's JSPs
 * (bench/was/tomcat/ROOT/count.jsp and read.jsp), at the same paths, with the same reply:
 *
 *  GET /count   read the integer `count` from the session, write it back +1 (a session write,
 *               replicated at the end of the request), reply with a few lines
 *  GET /read    the session's `count`, nothing written (no session is made when there is none)
 */

/** @typedef {{ get (name: string): unknown, set (name: string, value: unknown): void, id: string | null }} Session */
/** @typedef {import('fastify').FastifyRequest & { session: Session }} Request */

/** @param {import('fastify').FastifyInstance} fastify */
export default async function counterApp (fastify) {
  fastify.get('/count', async (request, reply) => {
    const session = /** @type {Request} */ (request).session
    const before = session.get('count')
    const count = (typeof before === 'number' ? before : 0) + 1
    session.set('count', count)
    reply.type('text/plain; charset=utf-8')
    return `counter\nsession: ${session.id}\ncount: ${count}`
  })

  fastify.get('/read', async (request, reply) => {
    const session = /** @type {Request} */ (request).session
    const count = session.id === null ? undefined : session.get('count')
    reply.type('text/plain; charset=utf-8')
    return `counter\nsession: ${session.id ?? 'none'}\ncount: ${count ?? 'none'}`
  })
}
