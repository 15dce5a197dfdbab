/** Flags of the demo launcher, validated with messages that name the flag. */
export interface DemoArgs {
  nodes: number
  sync: boolean
  port: number
  receiverPort: number
  json: boolean
  multicast: boolean
  app: string
  help: boolean
}

export const USAGE = `Usage: pnpm demo [-- options]

Starts a nodecat balancer and N nodes (jvmRoute tomcat1..tomcatN) with the example shop on
127.0.0.1 (static membership: no multicast leaves this machine) and shows one merged log.
With --multicast (root) they discover each other by real multicast inside network namespaces.

  --nodes <n>    number of nodes, 1..9 (default 2)
  --sync         sync replication: a response waits until every peer applied the change
  --port <p>     balancer port (default 8080; the next free one if taken); nodes use the next ones
  --receiver-port <p>  first cluster receiver port (default 4001; the next free ones if taken)
  --app <file>   the app module each node runs (default examples/shop/app.js)
  --multicast    real multicast discovery, as on a LAN: each process in its own network namespace
                 on a private bridge, a fresh cluster key, the balancer discovering its workers
                 (needs root and iproute2; the same 127.0.0.1 ports reach in)
  --json         print the raw JSON log lines instead of the readable ones
  --help         this text

Keys while it runs (or type the word and Enter when stdin is not a terminal):
  1..9   kill node N with SIGKILL (a crash: no goodbye)     t<N>  stop node N cleanly (SIGTERM)
  r      restart every node that is down                    s     status of the cluster
  q      stop everything (Ctrl-C does the same)`

export class UsageError extends Error {}

export function parseArgs (argv: string[]): DemoArgs {
  const args: DemoArgs = { nodes: 2, sync: false, port: 8080, receiverPort: 4001, json: false, multicast: false, app: 'examples/shop/app.js', help: false }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    const value = (): string => {
      const v = argv[++i]
      if (v === undefined) throw new UsageError(`${flag} needs a value`)
      return v
    }
    const int = (min: number, max: number): number => {
      const raw = value()
      const n = Number(raw)
      if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`${flag} must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`)
      return n
    }
    switch (flag) {
      case '--': break
      case '--nodes': args.nodes = int(1, 9); break
      case '--port': args.port = int(1, 65535); break
      case '--receiver-port': args.receiverPort = int(1, 65535); break
      case '--sync': args.sync = true; break
      case '--json': args.json = true; break
      case '--multicast': args.multicast = true; break
      case '--app': args.app = value(); break
      case '--help': case '-h': args.help = true; break
      default: throw new UsageError(`unknown flag ${JSON.stringify(flag)} (see --help)`)
    }
  }
  return args
}
