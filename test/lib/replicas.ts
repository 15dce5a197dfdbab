/**
 * Which sessions a node holds, read from its `/_nodecat/status?replicas=1` (session references and
 * stamps, never ids or contents). For tests that must know a change reached a node before they go
 * on: async replication has no acknowledgement to wait for, so they poll (bounded) until the
 * session is there, then assert that it is, instead of assuming it arrived within some time.
 */
import { createHash } from 'node:crypto'
import { sleep } from './cluster.js'

/** the reference nodes show for a session id or cookie value (packages/was-node/src/session/id.ts sessionRef) */
export function sessionRefOf (id: string): string {
  const dot = id.indexOf('.')
  return 'sess:' + createHash('sha256').update(dot > 0 ? id.slice(0, dot) : id).digest('hex').slice(0, 12)
}

/** the references of every session a node holds */
export async function heldRefs (nodeUrl: string): Promise<Set<string>> {
  const doc = await (await fetch(`${nodeUrl}/_nodecat/status?replicas=1`)).json() as { replicas?: { sessions?: Record<string, string> } }
  return new Set(Object.keys(doc.replicas?.sessions ?? {}))
}

/**
 * Poll every node until each holds every session in `ids` (ids or cookie values), for at most
 * `timeoutMs` (a bound against a hang, not a speed check). Resolves with what is still missing at
 * the end ("<node url>: <id>"; empty when everything arrived) and how long the wait took.
 */
export async function waitUntilHeld (nodeUrls: readonly string[], ids: readonly string[], timeoutMs = 30_000): Promise<{ missing: string[], waitedMs: number }> {
  const start = Date.now()
  for (;;) {
    const missing: string[] = []
    for (const url of nodeUrls) {
      const held = await heldRefs(url)
      for (const id of ids) if (!held.has(sessionRefOf(id))) missing.push(`${url}: ${id}`)
    }
    const waitedMs = Date.now() - start
    if (missing.length === 0 || waitedMs > timeoutMs) return { missing, waitedMs }
    await sleep(50)
  }
}
