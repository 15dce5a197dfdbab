/**
 * The real parts a node is built from: the tribes channel and the replicated session manager.
 * (Kept apart from node.ts so tests can swap either.)
 */
import type { Logger } from 'pino'
import type { Channel } from '@nodecat/tribes'
import type { ResolvedNodeOptions } from './options.js'
import type { ServiceChannelOptions } from './channel-options.js'
import type { NodeSessionManager } from './node.js'
import { WasError } from '../errors.js'

export interface ManagerFactoryOptions { options: ResolvedNodeOptions, channel: Channel, logger: Logger }

export const defaultFactories = {
  createChannel (_options: ServiceChannelOptions): Channel {
    throw new WasError('WAS_ERR_NOT_AVAILABLE', 'the tribes channel is not wired in yet')
  },
  createManager (_options: ManagerFactoryOptions): NodeSessionManager {
    throw new WasError('WAS_ERR_NOT_AVAILABLE', 'the session manager is not wired in yet')
  }
}
