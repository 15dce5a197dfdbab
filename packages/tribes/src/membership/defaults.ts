/**
 * Membership defaults (Tomcat McastService / TcpFailureDetector values where they exist) and
 * their validation, done once when a MembershipService or McastHeartbeat is built.
 */
import { TribesOptionError } from '../errors.js'
import { validators } from '../validate.js'

export const MEMBERSHIP_DEFAULTS = Object.freeze({
  /** ms between heartbeats (McastService frequency) */
  frequency: 500,
  /** ms of silence after which a member is verified and dropped (McastService dropTime) */
  dropTime: 3000,
  /** ms a failure-detector TCP connect may take (TcpFailureDetector connectTimeout) */
  connectTimeout: 1000,
  /**
   * A silent member whose receiver still accepts TCP connections is kept past dropTime for
   * suspectFactor × dropTime ms (30 s at the defaults). Tomcat keeps such a member 300 s
   * (removeSuspectsTimeout); a frozen (SIGSTOPped) process keeps accepting connections in the
   * kernel, so nodecat bounds it tighter.
   */
  suspectFactor: 10,
  domain: '',
  /** most members (nodecat and foreign) held at once; more are dropped and counted */
  maxMembers: 1024,
  /** most foreign members held at once */
  maxForeignMembers: 64
})

export const MCAST_DEFAULTS = Object.freeze({
  address: '228.0.0.4',
  port: 45564,
  ttl: 1,
  /** IP_MULTICAST_LOOP: needed when several members share one host */
  loopback: true,
  /** ms before a failed multicast socket is recreated (Tomcat recoverySleepTime is 5000) */
  recoveryDelay: 1000
})

export const check = validators((message) => new TribesOptionError(message))

export const IPV4 = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/

/** true for 224.0.0.0/4 or ff00::/8 */
export function isMulticastAddress (address: string): boolean {
  if (IPV4.test(address)) {
    const first = Number(address.split('.')[0])
    return first >= 224 && first <= 239
  }
  return /^ff[0-9a-f]{2}:/i.test(address)
}
