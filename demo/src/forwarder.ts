/**
 * Runs inside the balancer's namespace for `pnpm demo --multicast`:
 *   node forwarder.js <socket-path>=<host:port> ...
 * listens on each Unix socket and forwards to the address inside the namespace. Prints one JSON
 * line when every socket listens; ends on SIGTERM or when its parent (the launcher) goes away.
 */
import { forward, parseEndpoint, describe } from './forward.js'

async function main (): Promise<void> {
  const pairs = process.argv.slice(2).map((arg) => {
    const i = arg.indexOf('=')
    if (i < 0) throw new Error(`expected <socket-path>=<host:port>, got ${JSON.stringify(arg)}`)
    return { from: parseEndpoint(arg.slice(0, i)), to: parseEndpoint(arg.slice(i + 1)) }
  })
  const servers = await Promise.all(pairs.map((p) => forward(p.from, p.to)))
  const stop = (): void => { for (const s of servers) s.close(); process.exit(0) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // why: if the launcher dies without stopping us, our stdin closes; do not outlive it
  process.stdin.on('end', stop).on('error', stop).resume()
  process.stdout.write(JSON.stringify({ level: 30, msg: 'forwarder ready', forwards: pairs.map((p) => `${describe(p.from)} → ${describe(p.to)}`) }) + '\n')
}

main().catch((err) => {
  process.stderr.write(`forwarder: ${(err as Error).message}\n`)
  process.exit(1)
})
