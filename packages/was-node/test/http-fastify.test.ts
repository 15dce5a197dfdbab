import t from 'tap'
import Fastify from 'fastify'
import { buildFastify } from './helpers/http-apps.js'
import { sessionScenarios } from './helpers/http-scenarios.js'
import { MemoryStore } from './helpers/memory-store.js'
import { nodecatSessionPlugin } from '../src/http/fastify-plugin.js'

sessionScenarios(t, buildFastify)

t.test('the plugin validates its options and names the option', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(nodecatSessionPlugin, { store: new MemoryStore(), cookie: { sameSite: 'sideways' as 'lax' } })
  await t.rejects(async () => { await app.ready() },
    { code: 'WAS_ERR_INVALID_OPTION', message: /cookie\.sameSite/ })
})

t.test('without rewriteUrl the plugin still reads the path parameter (routes see it as sent)', async (t) => {
  const store = new MemoryStore()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(nodecatSessionPlugin, { store })
  app.get('/*', async (request) => ({ id: request.session.id, n: (request.session.set('n', 1), request.session.get('n')) }))
  const first = await app.inject({ url: '/x' })
  const id = first.json().id as string
  const second = await app.inject({ url: `/x;jsessionid=${id}` })
  t.equal(second.json().id, id)
  t.equal(store.ends.length, 2)
})
