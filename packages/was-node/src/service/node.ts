/**
 * One nodecat node: the tribes channel, the replicated session manager, and a fastify server
 * serving the user's app with the session middleware plus GET /_nodecat/status. stop() shuts down
 * in the order that loses nothing: stop accepting, let in-flight requests finish (bounded by
 * shutdownTimeout), send the last deltas, leave the group cleanly.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Channel, Member } from '@nodecat/tribes'
import { nodecatSessionPlugin, rewriteSessionUrl } from '../http/fastify-plugin.js'
import { sessionMiddleware } from '../http/express-middleware.js'
import type { SessionMiddlewareOptions } from '../http/options.js'
import { WasError } from '../errors.js'
import { serviceErrors } from './errors.js'
import { memberDeployDir, resolveNodeOptions, type NodeOptions, type ResolvedNodeOptions } from './options.js'
import { createServiceLogger } from './logger.js'
import { loadApp, type ConnectHandler, type LoadedApp } from './app-loader.js'
import { DeferredStore } from './deferred-store.js'
import { channelOptionsOf, checkChannelOptions, type ServiceChannelOptions } from './channel-options.js'
import { registerStatus, STATUS_PATH, type StatusSource } from './status.js'
import { registerMetrics } from './metrics.js'
import { PageGuard } from './page-guard.js'
import { awaitInitialMembers } from './membership-wait.js'
import { Readiness, registerReady } from './readiness.js'
import { StallWatch } from './stall.js'
import { holdEarlyMessages } from './early-messages.js'
import { advertisedHttpUrl } from './advertise.js'
import { defaultFactories } from './wiring.js'
import type { ManagerFactoryOptions, NodeSessionManager } from './types.js'
import { Drain, DRAIN_TIME } from './drain.js'
import { refuseMalformed } from './request-screen.js'
import { managerClash, ownManager, refuseManagerClash } from './manager-check.js'
import { AjpListener } from './ajp/listener.js'
import { answerTomcatNeighbours, type TomcatNeighbour } from '@nodecat/protocol'
import { AppSwitch } from './app-switch.js'
import { Deployer, DEPLOY_UNPACK_LIMITS } from '../deploy/deployer.js'
import { DeployStore } from '../deploy/store.js'
import { registerDeploy } from '../deploy/routes.js'
import { DeployWatch } from '../deploy/watch.js'

/** ms between two looks at --watch-dir */
const WATCH_INTERVAL = 2000

export interface StartNodeDeps {
  logger?: Logger
  /** the app itself instead of options.app (tests, embedding) */
  app?: LoadedApp
  createChannel?: (options: ServiceChannelOptions) => Channel
  createManager?: (options: ManagerFactoryOptions) => NodeSessionManager
  /** stop on SIGTERM/SIGINT and exit 0 (the CLI sets this) */
  handleSignals?: boolean
}

export interface RunningNode {
  /** the HTTP base URL this node listens on and advertises (a wildcard listen advertises a reachable address) */
  readonly url: string
  readonly options: ResolvedNodeOptions
  readonly channel: Channel
  readonly store: NodeSessionManager
  readonly app: FastifyInstance
  readonly logger: Logger
  /** the AJP/1.3 listener (--ajp), or null */
  readonly ajp: AjpListener | null
  /** graceful stop; idempotent */
  stop (reason?: string): Promise<void>
}

function describe (m: Member): Record<string, unknown> {
  return { id: m.id, route: m.meta?.route ?? null, http: m.meta?.http ?? null, role: m.meta?.role ?? null, domain: m.domain }
}

/** Run the connect chain: session middleware, then the user's handler, then 404 / error JSON. */
function connectServer (middleware: ReturnType<typeof sessionMiddleware>, handler: ConnectHandler, logger: Logger) {
  const finish = (res: http.ServerResponse, err?: unknown) => {
    if (res.headersSent) { res.end(); return }
    const coded = err instanceof WasError ? err : null
    if (err !== undefined) logger.error({ err }, 'app error')
    res.statusCode = err === undefined ? 404 : coded?.statusCode ?? 500
    res.setHeader('content-type', 'application/json; charset=utf-8')
    res.end(JSON.stringify(err === undefined
      ? { statusCode: 404, error: 'Not Found' }
      : { statusCode: res.statusCode, code: coded?.code ?? 'WAS_ERR_APP', error: 'Internal Server Error' }))
  }
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    middleware(req, res, (err) => {
      if (err !== undefined) { finish(res, err); return }
      try { handler(req, res, (e) => finish(res, e)) } catch (e) { finish(res, e) }
    })
  }
}

/** Start a node. Resolves once HTTP listens and the channel has joined; sessions become usable when the state transfer is over. */
export async function startNode (input: NodeOptions = {}, deps: StartNodeDeps = {}): Promise<RunningNode> {
  const options = resolveNodeOptions(input)
  const logger = deps.logger ?? createServiceLogger(options.log)
  // why here: a node that refuses its channel options (an insecure receiver address, a bad key)
  // must fail before it listens on anything; an injected channel validates its own
  if (deps.createChannel === undefined) checkChannelOptions(options, logger.child({ component: 'channel' }))
  const factories = { ...defaultFactories, ...(deps.createChannel ? { createChannel: deps.createChannel } : {}), ...(deps.createManager ? { createManager: deps.createManager } : {}) }
  const userApp = deps.app ?? (options.app === null ? null : await loadApp(options.app))
  const startedAt = Date.now()

  const deferred = new DeferredStore(options.jvmRoute)
  const sessionOptions: SessionMiddlewareOptions = {
    store: deferred,
    cookie: options.cookie,
    sessionTracking: options.sessionTracking,
    trustProxy: options.trustProxy,
    replicationFilter: options.replicationFilter,
    logger: logger.child({ component: 'http' })
  }
  const connect = userApp?.kind === 'connect' ? connectServer(sessionMiddleware(sessionOptions), userApp.handler, logger) : null
  // cluster deploy: versions of the app swapped in behind this server (deploy/, app-switch.ts)
  const appSwitch = new AppSwitch({
    sessionOptions,
    jvmRoute: options.jvmRoute,
    cookieName: options.cookie.name,
    logger: logger.child({ component: 'http' }),
    connectChain: (handler) => connectServer(sessionMiddleware(sessionOptions), handler, logger)
  })

  const app = Fastify({
    loggerInstance: logger.child({ component: 'http' }) as FastifyBaseLogger,
    // why: a line per request drowns the cluster events; request errors are still logged
    logController: new LogController({ disableRequestLogging: true }),
    rewriteUrl: (req) => rewriteSessionUrl(req, options.cookie.name.toLowerCase()),
    // why: an express/connect app gets the raw request; only the status path goes through fastify
    serverFactory: (handler) => {
      const server = http.createServer((req, res) => {
        if (refuseMalformed(req, res)) return
        if (stall.refuse(res)) return
        if (drain.refuse(res)) return
        if (readiness.refuse(req, res)) return
        if (!(req.url ?? '').startsWith('/_nodecat/') && appSwitch.handle(req, res)) return
        if (connect !== null && !(req.url ?? '').startsWith('/_nodecat/')) connect(req, res)
        else handler(req, res)
      })
      // why: fastify sets this only on servers it creates; a balancer's pooled sockets must not
      // meet a backend that closed them first (Node's default is 5 s, fastify's 72 s)
      server.keepAliveTimeout = 72_000
      return server
    }
  })
  const drain = new Drain()
  const readiness = new Readiness()
  // why the same server: an AJP request is one of its 'request' events, through the same pipeline
  const ajp = options.ajp.port === null
    ? null
    : new AjpListener({ ...options.ajp, port: options.ajp.port, logger: logger.child({ component: 'ajp' }), server: () => app.server, ready: () => readiness.state === 'ready' && !drain.draining })
  const stall = new StallWatch((ms) => {
    logger.warn({ event: 'stalled', ms: Math.round(ms) }, `this node was stalled for ${Math.round(ms)} ms: requests that waited are refused unprocessed, sessions are checked with the peers`)
    manager?.suspect?.('the node was stalled', Math.max(5000, 2 * options.membership.dropTime))
  })
  let channel: Channel | null = null
  let manager: NodeSessionManager | null = null
  let tomcatNeighbour: TomcatNeighbour | null = null
  let httpUrl = ''
  // why before the routes: it guards every /_nodecat/ route, including ones added later
  const pages = new PageGuard(options.http.address, options.http.allowedHosts)
  app.addHook('onRequest', pages.hook)
  const statusSource: StatusSource = { jvmRoute: options.jvmRoute, httpUrl: () => httpUrl, startedAt, channel: () => channel, sessions: () => manager?.stats() ?? null, replicas: () => manager?.replicas?.() ?? null, pagesRefused: () => pages.refused(), tomcatNeighbour: () => tomcatNeighbour?.stats() ?? null, ajp: () => ajp?.stats ?? null }
  registerStatus(app, statusSource)
  registerReady(app, readiness)
  registerMetrics(app, statusSource)
  const deployer = new Deployer({
    route: options.jvmRoute,
    store: new DeployStore(memberDeployDir(options), options.deployKeep),
    limits: DEPLOY_UNPACK_LIMITS,
    appSwitch,
    pause: (paused) => readiness.pause(paused),
    httpUrl: () => httpUrl,
    drainMs: Math.min(DRAIN_TIME, options.shutdownTimeout),
    logger: logger.child({ component: 'deploy' })
  })
  let deployerAttached = false
  const watch = options.deployWatchDir === null ? null : new DeployWatch({ dir: options.deployWatchDir, intervalMs: WATCH_INTERVAL, maxBytes: options.deployMaxBytes, deployer, logger: logger.child({ component: 'deploy' }) })
  registerDeploy(app, () => deployerAttached ? deployer : null, { key: options.key, keyFile: options.keyFile }, options.deployMaxBytes)
  if (userApp?.kind === 'fastify') {
    const plugin = userApp.plugin
    // why a child context: the session hooks cover the app, not /_nodecat/status (which must answer during start-up)
    await app.register(async (scope) => {
      await scope.register(nodecatSessionPlugin, sessionOptions)
      await scope.register(plugin as Parameters<typeof scope.register>[0], { jvmRoute: options.jvmRoute })
    })
  }

  let stopping: Promise<void> | null = null
  let listening = false
  const stop = (reason = 'stop'): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ event: 'node-stopping', reason }, `stopping (${reason})`)
      deferred.fail(serviceErrors.stopping())
      readiness.draining()
      if (listening) {
        // why: closing kept-alive connections races a balancer that is sending a request on one;
        // while draining, new requests get a "not processed" 503 the balancer retries elsewhere
        logger.info({ event: 'node-draining' }, 'draining: new requests are refused unprocessed so the balancer sends them to another node')
        await Promise.all([drain.start(app.server, Math.min(DRAIN_TIME, options.shutdownTimeout)), ajp?.drain(Math.min(DRAIN_TIME, options.shutdownTimeout))])
      }
      const closed = app.close()
      let timer: NodeJS.Timeout | undefined
      const timedOut = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(true), options.shutdownTimeout) })
      if (await Promise.race([closed.then(() => false), timedOut])) {
        logger.warn({ event: 'shutdown-timeout', shutdownTimeout: options.shutdownTimeout }, 'in-flight requests did not finish in time; closing their connections')
        if (listening) app.server.closeAllConnections()
      }
      clearTimeout(timer)
      await closed.catch((err: unknown) => logger.error({ err }, 'http close failed'))
      // the last deltas of the finished requests are queued by now; the channel flushes them on stop
      stall.stop()
      ajp?.close()
      watch?.stop()
      deployer.close()
      await manager?.stop().catch((err: unknown) => logger.error({ err }, 'session manager stop failed'))
      await channel?.stop().catch((err: unknown) => logger.error({ err }, 'channel stop failed'))
      logger.info({ event: 'node-stopped', reason }, 'stopped')
    })()
    return stopping
  }

  // why this early: a signal during a long state transfer must still end in a clean leave, exit 0
  if (deps.handleSignals === true) {
    const onSignal = (signal: NodeJS.Signals) => {
      stop(signal).then(() => process.exit(0), (err: unknown) => { logger.fatal({ err }, 'stop failed'); process.exit(1) })
    }
    process.once('SIGTERM', onSignal)
    process.once('SIGINT', onSignal)
  }

  try {
    // the version this member ran before a restart, loaded before it listens
    await deployer.resume()
    await app.listen({ host: options.http.address, port: options.http.port })
    listening = true
    httpUrl = advertisedHttpUrl(app.server.address() as AddressInfo, options)
    pages.listening((app.server.address() as AddressInfo).address, httpUrl)
    if (ajp !== null) {
      const at = await ajp.listen()
      logger.info({ event: 'ajp-listening', address: at.address, port: at.port, secret: options.ajp.secret !== null, packetSize: options.ajp.packetSize }, `AJP/1.3 on ${at.address}:${at.port}`)
    }
    const channelLog = logger.child({ component: 'channel' })
    channel = factories.createChannel(channelOptionsOf(options, httpUrl, channelLog))
    // why: a Tomcat that starts while this node is the group's oldest member asks it for its sessions
    tomcatNeighbour = answerTomcatNeighbours(channel, { logger: logger.child({ component: 'tomcat-neighbour' }) })
    // why debug: the channel already logs one info line per membership change; these add the
    // service's view (route, HTTP URL, reason) as structured events for tools and tests
    channel.on('memberAdded', (m) => logger.debug({ event: 'member-added', member: describe(m) }, `member added: ${m.meta?.route ?? m.id}`))
    channel.on('memberAdded', (m) => {
      // why: two nodes with one route would each take the other's sessions as their own
      if (m.meta?.route === options.jvmRoute) logger.error({ event: 'duplicate-route', member: describe(m) }, `member ${m.id} uses this node's jvmRoute ${options.jvmRoute}: give every node its own --jvm-route`)
      const clash = managerClash([m], options)
      if (clash !== null) logger.error({ event: 'manager-mismatch', member: describe(m), theirs: clash.theirs, mine: ownManager(options) }, `member ${clash.member} runs the ${clash.theirs} session manager, this node ${ownManager(options)}: give every node of one cluster the same --manager and --backups`)
    })
    channel.on('memberDisappeared', (m, reason) => logger.debug({ event: 'member-disappeared', reason, member: describe(m) }, `member left (${reason}): ${m.meta?.route ?? m.id}`))
    channel.on('foreignMember', (m) => logger.debug({ event: 'foreign-member', member: describe(m) }, `foreign member seen (not a session peer): ${m.id}`))
    // why: messages that arrive while we wait for the members below are held for the manager
    const early = holdEarlyMessages(channel)
    manager = factories.createManager({ options, channel: early.channel, logger: logger.child({ component: 'sessions' }) })
    deployer.attach(channel)
    await channel.start()
    const known = await awaitInitialMembers(channel, options.membership, () => stopping !== null)
    logger.info({ event: 'members-known', members: known.members, down: known.down, unheard: known.unheard, ended: known.ended, waitedMs: known.waitedMs },
      `${known.members} member(s) known at start` + (known.down.length > 0 ? `; listed but down: ${known.down.join(', ')}` : '') +
      (known.unheard.length > 0 ? `; listed, answering, but not heard: ${known.unheard.join(', ')}` : ''))
    // why before the manager starts: a node of another manager kind must not take part at all
    refuseManagerClash(channel.members(), options)
    deferred.attach(manager)
    await manager.start()
    // a member joining a running cluster takes the app version it runs, before serving
    await deployer.syncFromCluster()
    deployerAttached = true
    readiness.sessionsReady()
    watch?.start()
  } catch (err) {
    deferred.fail(err)
    if (stopping === null) {
      await manager?.stop().catch(() => {})
      await channel?.stop().catch(() => {})
      await app.close().catch(() => {})
      ajp?.close()
    }
    if (stopping !== null) { await stopping; throw serviceErrors.stoppedDuringStart() }
    throw err
  }
  if (stopping !== null) { await stopping; throw serviceErrors.stoppedDuringStart() }
  logger.info({ event: 'node-started', jvmRoute: options.jvmRoute, http: httpUrl, member: channel.local.id, status: httpUrl + STATUS_PATH }, `node ${options.jvmRoute} serving ${httpUrl}`)
  void manager.ready.then(() => logger.info({ event: 'node-ready', jvmRoute: options.jvmRoute }, 'sessions ready'), () => {})

  return { url: httpUrl, options, channel, store: manager, app, logger, ajp, stop }
}
