import t from 'tap'
import { buildExpress } from './helpers/http-apps.js'
import { sessionScenarios } from './helpers/http-scenarios.js'
import { MemoryStore } from './helpers/memory-store.js'
import { sessionMiddleware } from '../src/http/express-middleware.js'

sessionScenarios(t, buildExpress)

t.test('the middleware validates its options and names the option', async (t) => {
  t.throws(() => sessionMiddleware({ store: new MemoryStore(), trustProxy: ['not-an-ip'] }), { code: 'WAS_ERR_INVALID_OPTION', message: /trustProxy/ })
  t.throws(() => sessionMiddleware({ store: new MemoryStore(), replicationFilter: '(' }), { code: 'WAS_ERR_INVALID_OPTION', message: /replicationFilter/ })
  t.throws(() => sessionMiddleware({ store: {} as never }), { code: 'WAS_ERR_INVALID_OPTION', message: /store/ })
  t.throws(() => sessionMiddleware({ store: new MemoryStore(), cookie: { secure: false, sameSite: 'none' } }), { message: /cookie\.sameSite/ })
})
