/**
 * `nodecat-tribes doctor`: the mistakes people make with cluster membership, one line each
 * (ok / warn / fail) with what to do about it. Exit code 1 when any check fails.
 */
import os from 'node:os'
import net from 'node:net'
import { execFile } from 'node:child_process'
import type { Logger } from 'pino'
import { isLoopback, resolveChannelOptions, type ChannelOptions, type ResolvedChannelOptions } from '../options.js'
import { Keyring, parseKey, readKeyFileSet } from '../crypto/keyring.js'
import { McastHeartbeat } from '../membership/mcast-heartbeat.js'
import { readMemberDatagram } from '../membership/datagram.js'
import type { MemberAuth } from '../codec/member-payload.js'
import { channelOptionsFromFlags, inFlagWords, milliseconds, type Flags } from './args.js'
import type { CheckStatus, Output } from './output.js'

interface Finding { status: CheckStatus, check: string, message: string }

async function run (cmd: string, args: string[]): Promise<{ ok: boolean, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(cmd, args, { timeout: 5000 }, (err, stdout, stderr) => resolve({ ok: err === null, stdout, stderr: stderr || (err?.message ?? '') }))
  })
}

function interfaceOf (address: string): string | undefined {
  for (const [name, list] of Object.entries(os.networkInterfaces())) {
    if ((list ?? []).some((a) => a.address === address)) return name
  }
  return undefined
}

function allAddresses (): string[] {
  return Object.values(os.networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address))
}

function checkKey (flags: Flags): { finding: Finding, key?: Buffer, previousKeys?: Buffer[] } {
  try {
    if (flags['key-file'] !== undefined) {
      // why: during a key rotation the file holds the older keys too; datagrams with them are not "another key"
      const { key, previousKeys } = readKeyFileSet(flags['key-file'], '--key-file')
      const older = previousKeys.length === 0 ? '' : ` and ${previousKeys.length} older key(s) still accepted`
      return { key, previousKeys, finding: { status: 'ok', check: 'key', message: `${flags['key-file']} holds a 32-byte cluster key${older}` } }
    }
    if (flags.key !== undefined) return { key: parseKey(flags.key, '--key'), finding: { status: 'ok', check: 'key', message: '--key is a 32-byte cluster key' } }
    return { finding: { status: 'ok', check: 'key', message: 'no cluster key given' } }
  } catch (err) {
    return { finding: { status: 'fail', check: 'key', message: `${(err as Error).message}; make a key with: nodecat-tribes keygen > cluster.key` } }
  }
}

function checkAddress (o: ResolvedChannelOptions, keyGiven: boolean, insecure: boolean): Finding[] {
  const found: Finding[] = []
  const how = { option: 'from --receiver-address', 'loopback-static': 'all static members are loopback', 'multicast-bind': 'from --bind', 'first-interface': 'first non-loopback IPv4 interface', 'no-interface': 'no non-loopback interface found' }[o.addressSource]
  if (!allAddresses().includes(o.address)) {
    found.push({ status: 'fail', check: 'receiver-address', message: `${o.address} (${how}) is not an address of this machine; use one of: ${allAddresses().join(', ')}` })
  } else if (o.addressSource === 'no-interface') {
    found.push({ status: 'warn', check: 'receiver-address', message: `${o.address}: ${how}; other machines cannot reach this member` })
  } else {
    found.push({ status: 'ok', check: 'receiver-address', message: `${o.address} (${how})` })
  }
  const remote = o.membership.members.filter((m) => !isLoopback(m.host))
  if (isLoopback(o.address) && remote.length > 0) {
    found.push({ status: 'fail', check: 'receiver-address', message: `${o.address} is loopback but static members ${remote.map((m) => `${m.host}:${m.port}`).join(', ')} are remote: they would connect to themselves; pass --receiver-address <this machine's LAN address>` })
  }
  if (!keyGiven && !isLoopback(o.address)) {
    found.push(insecure
      ? { status: 'warn', check: 'key', message: `no cluster key on ${o.address} (--insecure): cluster traffic is plaintext and anyone on the network can join; make one with nodecat-tribes keygen > cluster.key, copy it to every member, pass --key-file cluster.key` }
      : { status: 'fail', check: 'key', message: `no cluster key on non-loopback ${o.address}: the channel refuses to start; make one with nodecat-tribes keygen > cluster.key, copy it to every member, pass --key-file cluster.key (or --insecure)` })
  }
  return found
}

async function portFree (address: string, port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const srv = net.createServer()
    srv.once('error', () => resolve(false))
    srv.listen({ port, host: address, exclusive: true }, () => srv.close(() => resolve(true)))
  })
}

async function checkPorts (o: ResolvedChannelOptions): Promise<Finding> {
  if (o.port === 0) return { status: 'ok', check: 'receiver-port', message: 'an ephemeral port (--receiver-port 0)' }
  const last = Math.min(65535, o.port + o.autoBind - 1)
  for (let p = o.port; p <= last; p++) {
    if (await portFree(o.address, p)) {
      return { status: 'ok', check: 'receiver-port', message: `${o.address}:${p} is free (range ${o.port}..${last})` }
    }
  }
  return { status: 'fail', check: 'receiver-port', message: `every port ${o.port}..${last} on ${o.address} is taken: stop old members, or pass another --receiver-port` }
}

async function checkMulticast (o: ResolvedChannelOptions): Promise<Finding[]> {
  const m = o.membership
  const found: Finding[] = []
  const hasIp = (await run('ip', ['-V'])).ok
  if (m.bind !== undefined) {
    const ifname = interfaceOf(m.bind)
    if (ifname === undefined) {
      return [{ status: 'fail', check: 'multicast', message: `--bind ${m.bind} is on no interface of this machine; use one of: ${allAddresses().join(', ')}` }]
    }
    if (hasIp) {
      const link = await run('ip', ['-j', 'link', 'show', 'dev', ifname])
      let flags: string[] = []
      try { flags = (JSON.parse(link.stdout) as Array<{ flags?: string[] }>)[0]?.flags ?? [] } catch {}
      if (!flags.includes('MULTICAST') && ifname !== 'lo') {
        found.push({ status: 'fail', check: 'multicast', message: `interface ${ifname} has multicast off: ip link set ${ifname} multicast on` })
      }
      if (flags.length > 0 && !flags.includes('UP')) found.push({ status: 'fail', check: 'multicast', message: `interface ${ifname} is down` })
    }
    found.push({ status: 'ok', check: 'multicast', message: `group ${m.address}:${m.port} joined on ${ifname} (${m.bind}); no route needed` })
    return found
  }
  if (!hasIp) {
    const external = Object.values(os.networkInterfaces()).flat().some((a) => a !== undefined && !a.internal && a.family === 'IPv4')
    return [{ status: 'warn', check: 'multicast', message: `cannot check the route for ${m.address} (no ip command)${external ? '' : ' and there is no non-loopback interface'}; pass --bind <interface address> to be sure` }]
  }
  const route = await run('ip', ['route', 'get', m.address])
  if (!route.ok) {
    return [{ status: 'fail', check: 'multicast', message: `no route for multicast group ${m.address} (${route.stderr.trim()}): pass --bind <interface address>, or add one: ip route add 224.0.0.0/4 dev <interface>` }]
  }
  const dev = /\bdev (\S+)/.exec(route.stdout)?.[1] ?? '?'
  if (dev === 'lo' && Object.keys(os.networkInterfaces()).some((n) => n !== 'lo')) {
    return [{ status: 'warn', check: 'multicast', message: `group ${m.address} routes via lo only: other machines will not hear this member; pass --bind <LAN address>` }]
  }
  return [{ status: 'ok', check: 'multicast', message: `group ${m.address} routes via ${dev}` }]
}

/** Listen on the group without sending: who is there, and are they dropped for key or domain? */
async function listen (o: ResolvedChannelOptions, auth: MemberAuth | undefined, ms: number, logger: Logger): Promise<Finding[]> {
  const m = o.membership
  const seen = { members: new Set<string>(), foreign: new Set<string>(), auth: new Set<string>(), domain: new Set<string>(), malformed: 0 }
  const transport = new McastHeartbeat({ address: m.address, port: m.port, bind: m.bind, ttl: m.ttl, logger })
  try {
    await transport.start((blob, from) => {
      const r = readMemberDatagram(blob, o.domain, auth)
      if (r.ok) (r.member.meta === null ? seen.foreign : seen.members).add(r.member.id)
      else if (r.reason === 'auth') seen.auth.add(r.member?.id ?? from)
      else if (r.reason === 'domain') seen.domain.add(`${r.member?.domain ?? '?'}`)
      else seen.malformed++
    })
  } catch (err) {
    return [{ status: 'fail', check: 'listen', message: (err as Error).message }]
  }
  await new Promise((resolve) => setTimeout(resolve, ms))
  await transport.stop()
  const found: Finding[] = []
  if (seen.auth.size > 0) {
    found.push({ status: 'fail', check: 'key', message: `${seen.auth.size} member(s) on ${m.address}:${m.port} failed the cluster key check (${auth ? 'they use another key, or none' : 'they use a key and this member has none'}): ${[...seen.auth].join(', ')}; give every member the same --key-file` })
  }
  if (seen.domain.size > 0) {
    found.push({ status: 'warn', check: 'domain', message: `members of other domains are on the same group (${[...seen.domain].map((d) => JSON.stringify(d)).join(', ')}); they are ignored. This member's domain: ${JSON.stringify(o.domain)}` })
  }
  if (seen.malformed > 0) found.push({ status: 'warn', check: 'listen', message: `${seen.malformed} datagram(s) on the group did not parse` })
  const heard = seen.members.size + seen.foreign.size
  found.push(heard === 0 && seen.auth.size === 0
    ? { status: 'warn', check: 'listen', message: `heard no member on ${m.address}:${m.port} in ${ms} ms (none running yet, or multicast does not reach this machine)` }
    : { status: 'ok', check: 'listen', message: `heard ${seen.members.size} nodecat member(s)${seen.foreign.size ? ` and ${seen.foreign.size} foreign (e.g. Tomcat)` : ''} on ${m.address}:${m.port}` })
  return found
}

/** Run every check; resolves with the exit code. */
export async function runDoctor (flags: Flags, out: Output, logger: Logger): Promise<number> {
  const findings: Finding[] = []
  const report = (f: Finding): void => { findings.push(f); out.check(f.status, f.check, f.message) }
  const baseOptions: ChannelOptions = channelOptionsFromFlags(flags, 'tool')
  const listenMs = milliseconds(flags.listen, '--listen', 2000)
  const { finding, key, previousKeys } = checkKey(flags)
  report(finding)
  let o: ResolvedChannelOptions
  try {
    // why: key problems were reported above; resolve the rest as if no key were needed
    o = resolveChannelOptions({ ...baseOptions, key: undefined, keyFile: undefined, insecure: true, logger })
  } catch (err) {
    report({ status: 'fail', check: 'options', message: inFlagWords((err as Error).message) })
    return 1
  }
  for (const f of checkAddress(o, flags['key-file'] !== undefined || flags.key !== undefined, flags.insecure === true)) report(f)
  report(await checkPorts(o))
  if (o.membership.type === 'static') {
    report({ status: 'ok', check: 'multicast', message: `static membership (${o.membership.members.length} member(s)); multicast not used` })
  } else {
    for (const f of await checkMulticast(o)) report(f)
    if (listenMs > 0 && finding.status !== 'fail') {
      const auth = key === undefined ? undefined : new Keyring({ key, previousKeys })
      for (const f of await listen(o, auth, listenMs, logger)) report(f)
    }
  }
  return findings.some((f) => f.status === 'fail') ? 1 : 0
}
