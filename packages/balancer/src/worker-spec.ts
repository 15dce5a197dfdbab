/**
 * The text form of a worker used by the CLI and JSON config: "tomcat2=http://127.0.0.1:8082,lbfactor=2",
 * or an AJP/1.3 connector: "tomcat1=ajp://127.0.0.1:8009,secret=S,packet-size=8192".
 */
import { BalancerOptionError } from './errors.js'
import type { WorkerConfig } from './worker-config.js'

const KEYS: Record<string, keyof WorkerConfig> = {
  lbfactor: 'lbfactor',
  activation: 'activation',
  redirect: 'redirect',
  domain: 'domain',
  'connection-limit': 'connectionLimit',
  connectionLimit: 'connectionLimit',
  secret: 'secret',
  'packet-size': 'packetSize',
  packetSize: 'packetSize'
}

/** why: a message must never echo a secret, not even a misspelt one */
function hideSecret (text: string): string {
  return text.replace(/(secret=)[^,]*/gi, '$1[hidden]')
}

/** Parse "route=url[,key=value...]"; numbers stay text here and are validated by resolveWorker. */
export function parseWorkerSpec (text: string, name: string): WorkerConfig {
  const parts = text.split(',')
  const head = parts[0]!
  const eq = head.indexOf('=')
  if (eq <= 0 || eq === head.length - 1) throw new BalancerOptionError(`${name} must be "route=http://host:port[,lbfactor=N,activation=active|disabled|stopped,redirect=R,domain=D,connection-limit=N]" or "route=ajp://host:port[,secret=S,packet-size=N,...]", got ${JSON.stringify(hideSecret(text))}`)
  const w: Record<string, unknown> = { route: head.slice(0, eq), url: head.slice(eq + 1) }
  for (const part of parts.slice(1)) {
    const i = part.indexOf('=')
    const key = i > 0 ? KEYS[part.slice(0, i)] : undefined
    if (key === undefined) throw new BalancerOptionError(`${name}: unknown worker setting ${JSON.stringify(i > 0 ? part.slice(0, i) : hideSecret(part))} (known: lbfactor, activation, redirect, domain, connection-limit, secret, packet-size)`)
    w[key] = part.slice(i + 1)
  }
  return w as unknown as WorkerConfig
}
