/**
 * Before the session manager asks for the cluster's sessions it must know who is there: the
 * channel starts without waiting for heartbeats, so (like Tomcat's McastService, which sleeps
 * about two heartbeat periods at start) the node waits until its members are known: every static
 * member seen, or two heartbeat periods on multicast, and never longer than dropTime.
 */
import type { Channel } from '@nodecat/tribes'
import type { ResolvedNodeOptions } from './options.js'

export async function awaitInitialMembers (channel: Channel, options: ResolvedNodeOptions, ownReceiver: string): Promise<number> {
  const m = options.membership
  const expected = m.type === 'static' ? m.members.filter((a) => a !== ownReceiver).length : Infinity
  const limit = m.type === 'static' ? m.dropTime : Math.min(m.dropTime, 2 * m.frequency + 100)
  if (expected === 0) return 0
  return await new Promise<number>((resolve) => {
    const done = () => {
      clearTimeout(timer)
      channel.off('memberAdded', check)
      resolve(channel.members().length)
    }
    const check = () => { if (channel.members().length >= expected) done() }
    const timer = setTimeout(done, limit)
    channel.on('memberAdded', check)
    check()
  })
}
