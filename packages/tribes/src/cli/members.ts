/**
 * `nodecat-tribes members`: join the group as a member (role "tool" unless --role says
 * otherwise), print members as they join and leave, then leave cleanly after --duration or on
 * SIGINT/SIGTERM.
 */
import type { Logger } from 'pino'
import { createChannel } from '../channel.js'
import { channelOptionsFromFlags, seconds, type Flags } from './args.js'
import type { Output } from './output.js'

/** Resolves with the exit code. Option errors are thrown (the caller maps them to exit 2). */
export async function runMembers (flags: Flags, out: Output, logger: Logger): Promise<number> {
  const options = channelOptionsFromFlags(flags, 'tool')
  const duration = seconds(flags.duration, '--duration')
  const channel = createChannel({ ...options, logger })
  channel.on('memberAdded', (member) => out.event('memberAdded', { member }))
  channel.on('memberDisappeared', (member, reason) => out.event('memberDisappeared', { member, reason }))
  channel.on('foreignMember', (member) => out.event('foreignMember', { member }))

  let stopRequested: (why: string) => void = () => {}
  const stopped = new Promise<string>((resolve) => { stopRequested = resolve })
  const onSignal = (sig: NodeJS.Signals): void => stopRequested(sig)
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await channel.start() // on failure it closes what it opened and throws a coded error
    out.event('joined', { member: channel.local })
    const timer = duration === undefined ? undefined : setTimeout(() => stopRequested('duration'), duration * 1000)
    const why = await stopped
    clearTimeout(timer)
    await channel.stop()
    const stats = channel.stats()
    out.event('left', { why, members: channel.members().length, dropped: stats.dropped })
    return 0
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
