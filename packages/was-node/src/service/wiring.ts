/**
 * The real parts a node is built from: the tribes channel and the replicated session manager,
 * with the service's (Tomcat-named, seconds) options mapped onto theirs. Kept apart from node.ts so
 * tests can swap either.
 */
import { createChannel, type Channel } from '@nodecat/tribes'
import { SessionManager } from '../manager/session-manager.js'
import { backupStrategy, deltaStrategy } from '../manager/replication-strategy.js'
import type { ServiceChannelOptions } from './channel-options.js'
import type { ManagerFactoryOptions, NodeSessionManager } from './types.js'

export const defaultFactories = {
  createChannel (options: ServiceChannelOptions): Channel {
    return createChannel(options)
  },
  createManager ({ options, channel, logger }: ManagerFactoryOptions): NodeSessionManager {
    return new SessionManager({
      route: options.jvmRoute,
      channel,
      sendMode: options.channelSendOptions,
      stateTransferTimeout: options.stateTransferTimeout * 1000,
      sessionFetchTimeout: options.sessionFetchTimeout,
      maxActiveSessions: options.maxActiveSessions,
      maxSessionBytes: options.maxSessionBytes,
      maxInactiveInterval: options.maxInactiveInterval,
      expireSessionsOnShutdown: options.expireSessionsOnShutdown,
      notifyListenersOnReplication: options.notifyListenersOnReplication,
      logger
    }, options.manager === 'backup' ? backupStrategy({ route: options.jvmRoute, host: options.hostId }, options.backups) : deltaStrategy)
  }
}
