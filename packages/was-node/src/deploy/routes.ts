/**
 * The deploy pages of a member, for the `nodecat-was deploy` CLI (every request authenticated
 * with the cluster key, auth.ts; the page guard's Host check applies as to every /_nodecat/ page):
 *   POST /_nodecat/deploy?label=…   body: the bundle (.tgz) → rolls it out, answers the report
 *   POST /_nodecat/deploy/rollback  → rolls back to the version before the current one
 *   GET  /_nodecat/deploy           → every member's versions
 * A rollout answers when it is over (200 when every member switched; 502 with the member and its
 * error when the version failed on one; 409 when a rollout already runs here).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { RequestVerifier, type KeySource } from './auth.js'
import type { Deployer } from './deployer.js'
import { deployErrors } from './errors.js'

export const DEPLOY_PATH = '/_nodecat/deploy'

function send (reply: FastifyReply, err: unknown): FastifyReply {
  const e = err as Error & { code?: string, statusCode?: number }
  const status = typeof e.statusCode === 'number' && e.statusCode >= 400 ? e.statusCode : 500
  return reply.code(status).send({ ok: false, statusCode: status, code: e.code ?? 'WAS_ERR_DEPLOY_FAILED', error: e.message })
}

export function registerDeploy (app: FastifyInstance, deployer: () => Deployer | null, keys: KeySource, maxBytes: number): void {
  const verifier = new RequestVerifier(keys)
  void app.register(async (scope) => {
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxBytes }, (_req, body, done) => { done(null, body) })
    scope.setErrorHandler((err: Error & { code?: string }, _req, reply) => {
      if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return send(reply, deployErrors.tooLarge('bundle', maxBytes))
      return send(reply, err)
    })
    // why onRequest: an unauthenticated request is refused before its body is read
    scope.addHook('onRequest', async (request) => { verifier.precheck(request.headers) })
    const guard = (request: FastifyRequest): Deployer => {
      const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
      verifier.verify(request.method, request.raw.url ?? '', request.headers, body)
      const d = deployer()
      if (d === null) throw deployErrors.noVersion('this member has not joined its cluster yet')
      return d
    }
    scope.get(DEPLOY_PATH, async (request, reply) => {
      const d = guard(request)
      reply.header('cache-control', 'no-store')
      return { ok: true, members: await d.clusterStatus() }
    })
    scope.post(DEPLOY_PATH, async (request, reply) => {
      const d = guard(request)
      const body = request.body
      if (!Buffer.isBuffer(body) || body.length === 0) throw deployErrors.badBundle('the request has no body (send the .tgz)')
      const label = (request.query as Record<string, unknown>).label
      const report = await d.deploy(body, typeof label === 'string' && label !== '' ? label.slice(0, 200) : new Date().toISOString())
      return reply.code(report.ok ? 200 : 502).send(report)
    })
    scope.post(`${DEPLOY_PATH}/rollback`, async (request, reply) => {
      const d = guard(request)
      const report = await d.rollback()
      return reply.code(report.ok ? 200 : 502).send(report)
    })
  })
}
