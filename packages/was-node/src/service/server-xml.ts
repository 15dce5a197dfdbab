/**
 * `nodecat-was --server-xml <file>`: take a Tomcat server.xml as it is and map what nodecat has a
 * counterpart for onto nodecat-was flags: Engine jvmRoute, the HTTP and AJP connectors, and the
 * <Cluster> element (channelSendOptions, the Manager, Membership, Receiver, the ReplicationValve
 * filter, interceptors that carry settings). Everything else is listed as ignored, with why.
 *
 * The result is a list of settings named by FLAG (sources.ts applies them through its one flag
 * table, so a flag this nodecat-was does not have yet is reported, not guessed), plus the ignored
 * items. Values are checked here so an error names file:line and the attribute; the options'
 * own validation runs afterwards on the merged result as for any other source.
 */
import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { JVM_ROUTE_PATTERN, JVM_ROUTE_RULE } from '@nodecat/protocol'
import { serviceErrors } from './errors.js'
import { sendModeOf } from './options.js'
import { readXml, type XmlAttribute, type XmlElement } from './xml-reader.js'

/** one value taken from the file, as the flag it becomes */
export interface ImportedSetting {
  /** flag name without the leading -- */
  flag: string
  value: string | boolean
  line: number
  /** the element and attribute(s) it came from, e.g. <Membership port="45564"> */
  item: string
}

/** something in the file nodecat does not take, and why */
export interface IgnoredItem {
  item: string
  line: number
  reason: string
}

export interface ServerXmlImport {
  file: string
  settings: ImportedSetting[]
  ignored: IgnoredItem[]
}

const NO_THREADS = 'one Node.js event loop per node, no thread pool (use --workers for more cores)'
const SOCKET_TUNING = 'socket options and buffer sizes are the OS defaults'

/** Receiver attributes nodecat does not take, with why */
const RECEIVER_REASONS: Record<string, string> = {
  maxThreads: NO_THREADS,
  minThreads: NO_THREADS,
  maxIdleTime: NO_THREADS,
  selectorTimeout: 'no selector thread: the receiver runs on the event loop',
  securePort: 'cluster traffic is secured with --key-file, not a TLS port',
  udpPort: 'no UDP transport: members talk over TCP',
  timeout: 'nodecat closes a stalled inbound connection itself',
  direct: SOCKET_TUNING,
  useBufferPool: SOCKET_TUNING
}

const MANAGER_REASONS: Record<string, string> = {
  notifySessionListenersOnReplication: 'nodecat fires its listeners as notifyListenersOnReplication says',
  notifyContainerListenersOnReplication: 'nodecat fires its listeners as notifyListenersOnReplication says',
  sendAllSessions: 'the state transfer always streams the sessions in chunks',
  sendAllSessionsSize: 'the state transfer always streams the sessions in chunks',
  sendAllSessionsWaitTime: 'the state transfer always streams the sessions in chunks',
  stateTimestampDrop: 'changes older than the transferred state are always dropped',
  enableStatistics: 'counters are always on /_nodecat/metrics',
  recordAllActions: 'no per-action record',
  processExpiresFrequency: 'expiry runs on its own timer',
  mapSendOptions: 'backup copies are sent as channelSendOptions says',
  rpcTimeout: 'no RPC: backups answer through the session messages',
  terminateOnStartFailure: 'a node that cannot get its state still starts and reports not ready',
  accessTimeout: 'no lock-based access',
  name: 'one manager per node: its name is its route',
  pathname: 'no persistence file: sessions live in the cluster'
}

const INTERCEPTOR_REASONS: Record<string, string> = {
  TcpFailureDetector: 'nodecat always verifies a silent member over TCP before it drops it',
  MessageDispatchInterceptor: 'asynchronous sending is channelSendOptions 8 (taken from <Cluster>); the queue is built in',
  MessageDispatch15Interceptor: 'asynchronous sending is channelSendOptions 8 (taken from <Cluster>); the queue is built in',
  TcpPingInterceptor: 'members heartbeat every frequency ms and silent ones are verified over TCP: no separate ping',
  ThroughputInterceptor: 'throughput counters are on /_nodecat/metrics',
  EncryptInterceptor: 'nodecat authenticates and encrypts with its own key format: make a key with `nodecat-tribes keygen` and give --key-file',
  GzipInterceptor: 'no compression on the channel',
  OrderInterceptor: 'nodecat always delivers one member\'s messages in the order it sent them',
  FragmentationInterceptor: 'no fragmentation: a message travels as one frame'
}

const LISTENER_REASONS: Record<string, string> = {
  ClusterSessionListener: 'built in: each node hands the session messages to its manager',
  JvmRouteSessionIDBinderListener: 'obsolete (Tomcat 5.5-7): the route change of a failed-over session is built in'
}

/** Last dot-separated part of a Java class name. */
function simpleName (className: string): string {
  return className.slice(className.lastIndexOf('.') + 1)
}

/** `[v6]:port` or `host:port`, or just the port */
function hostPort (address: string | undefined, port: number): string {
  if (address === undefined) return String(port)
  return `${address.includes(':') ? `[${address}]` : address}:${port}`
}

class Importer {
  readonly file: string
  readonly settings: ImportedSetting[] = []
  readonly ignored: IgnoredItem[] = []

  constructor (file: string) { this.file = file }

  fail (line: number | null, message: string): never {
    throw serviceErrors.serverXml(this.file, line, message)
  }

  attr (el: XmlElement, name: string): XmlAttribute | undefined {
    return el.attributes.find((a) => a.name === name)
  }

  label (el: XmlElement, ...attrs: Array<XmlAttribute | undefined>): string {
    const shown = attrs.filter((a): a is XmlAttribute => a !== undefined).map((a) => ` ${a.name}=${JSON.stringify(a.value)}`).join('')
    return `<${el.name}${shown}>`
  }

  failAttr (el: XmlElement, a: XmlAttribute, expected: string): never {
    // why the hint: Tomcat replaces ${name} from system properties; a copied server.xml often has some
    const hint = a.value.includes('$' + '{') ? ' (Tomcat\'s $' + '{property} substitution is not done: write the value, or give it with its flag)' : ''
    return this.fail(a.line, `${this.label(el, a)}: ${a.name} must be ${expected}${hint}`)
  }

  int (el: XmlElement, a: XmlAttribute, min: number, max: number): number {
    const text = a.value.trim()
    if (!/^-?\d{1,10}$/.test(text) || Number(text) < min || Number(text) > max) this.failAttr(el, a, `${min}-${max}`)
    return Number(text)
  }

  bool (el: XmlElement, a: XmlAttribute): boolean {
    const text = a.value.trim().toLowerCase()
    if (text !== 'true' && text !== 'false') this.failAttr(el, a, 'true or false')
    return text === 'true'
  }

  address (el: XmlElement, a: XmlAttribute, allowAuto = false): string {
    const text = a.value.trim()
    if (allowAuto && text === 'auto') return text
    if (isIP(text) === 0 && !/^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,253}[A-Za-z0-9])?$/.test(text)) this.failAttr(el, a, allowAuto ? '"auto", an IP address or a host name' : 'an IP address or a host name')
    return text
  }

  take (flag: string, value: string | boolean, el: XmlElement, ...attrs: Array<XmlAttribute | undefined>): void {
    const first = attrs.find((a) => a !== undefined)
    this.settings.push({ flag, value, line: first?.line ?? el.line, item: this.label(el, ...attrs) })
  }

  ignore (el: XmlElement, a: XmlAttribute | null, reason: string): void {
    this.ignored.push({ item: a === null ? this.label(el, this.attr(el, 'className') ?? this.attr(el, 'name')) : this.label(el, a), line: a?.line ?? el.line, reason })
  }

  /** every attribute of el not in `handled`: ignored, with the reason from `reasons` or the default */
  rest (el: XmlElement, handled: readonly string[], reasons: Record<string, string>, fallback: string): void {
    for (const a of el.attributes) {
      if (handled.includes(a.name)) continue
      this.ignore(el, a, reasons[a.name] ?? fallback)
    }
  }

  /** a child element that is not read at all (one item) */
  skipElement (el: XmlElement, reason: string): void {
    this.ignore(el, null, reason)
  }

  server (root: XmlElement): void {
    if (root.name !== 'Server') this.fail(root.line, `the root element is <${root.name}>; a Tomcat server.xml has <Server>`)
    this.rest(root, [], { port: 'nodecat-was stops on SIGTERM/SIGINT: no shutdown port', shutdown: 'nodecat-was stops on SIGTERM/SIGINT: no shutdown port' }, 'no counterpart')
    let service: XmlElement | null = null
    for (const child of root.children) {
      if (child.name === 'Service' && service === null && child.children.some((c) => c.name === 'Engine')) { service = child; continue }
      if (child.name === 'Service') this.skipElement(child, 'one node runs one service: only the first <Service> with an <Engine> is read')
      else if (child.name === 'Listener') this.skipElement(child, 'Tomcat lifecycle listener: no counterpart')
      else if (child.name === 'GlobalNamingResources') this.skipElement(child, 'JNDI resources: no counterpart')
      else this.skipElement(child, 'no counterpart')
    }
    if (service !== null) this.service(service)
  }

  service (service: XmlElement): void {
    let http: XmlElement | null = null
    let ajp: XmlElement | null = null
    for (const child of service.children) {
      if (child.name === 'Connector') {
        const protocol = this.attr(child, 'protocol')?.value ?? 'HTTP/1.1'
        const isAjp = /ajp/i.test(protocol)
        const isHttp = !isAjp && (protocol === 'HTTP/1.1' || /http11|http2/i.test(protocol))
        const tls = ['SSLEnabled', 'secure'].some((n) => this.attr(child, n)?.value.trim().toLowerCase() === 'true')
        if (isAjp && ajp === null) ajp = child
        else if (isAjp) this.skipElement(child, 'nodecat-was has one AJP listener: only the first AJP connector is read')
        else if (isHttp && tls) this.skipElement(child, 'nodecat-was serves plain HTTP: TLS ends at the balancer (nodecat-balancer --tls-cert)')
        else if (isHttp && http === null) http = child
        else if (isHttp) this.skipElement(child, 'nodecat-was has one HTTP listener: only the first plain HTTP connector is read')
        else this.skipElement(child, `protocol ${JSON.stringify(protocol)}: no counterpart`)
      } else if (child.name === 'Engine') {
        this.engine(child)
      } else if (child.name === 'Executor') {
        this.skipElement(child, NO_THREADS)
      } else {
        this.skipElement(child, 'no counterpart')
      }
    }
    if (http !== null) this.httpConnector(http)
    if (ajp !== null) this.ajpConnector(ajp)
  }

  httpConnector (el: XmlElement): void {
    const port = this.attr(el, 'port')
    const address = this.attr(el, 'address')
    if (port !== undefined) {
      const n = this.int(el, port, 0, 65535)
      this.take('http', hostPort(address === undefined ? undefined : this.address(el, address), n), el, address, port)
      if (address === undefined) this.ignored.push({ item: this.label(el, port), line: port.line, reason: 'no address: Tomcat listens on every address, nodecat-was on 127.0.0.1 unless --http names one' })
    } else if (address !== undefined) {
      this.take('http', hostPort(this.address(el, address), 8080), el, address)
    }
    this.rest(el, ['port', 'address', 'protocol'], {
      maxThreads: NO_THREADS,
      minSpareThreads: NO_THREADS,
      executor: NO_THREADS,
      acceptCount: SOCKET_TUNING,
      redirectPort: 'nodecat-was serves plain HTTP: TLS ends at the balancer',
      URIEncoding: 'URLs are always UTF-8'
    }, 'no counterpart in nodecat-was\'s HTTP listener')
  }

  ajpConnector (el: XmlElement): void {
    const port = this.attr(el, 'port')
    const address = this.attr(el, 'address')
    if (port !== undefined) {
      this.take('ajp', hostPort(address === undefined ? undefined : this.address(el, address), this.int(el, port, 1, 65535)), el, address, port)
    } else if (address !== undefined) {
      this.take('ajp', hostPort(this.address(el, address), 8009), el, address)
    }
    const required = this.attr(el, 'secretRequired')
    if (required !== undefined) this.take('ajp-secret-required', this.bool(el, required), el, required)
    // why both: Tomcat named it requiredSecret before February 2020
    const secret = this.attr(el, 'secret') ?? this.attr(el, 'requiredSecret')
    if (secret !== undefined) {
      if (secret.value === '') this.failAttr(el, secret, 'a non-empty secret (leave it out for none)')
      this.settings.push({ flag: 'ajp-secret', value: secret.value, line: secret.line, item: `<${el.name} ${secret.name}="[hidden]">` })
    }
    const packetSize = this.attr(el, 'packetSize')
    if (packetSize !== undefined) this.take('ajp-packet-size', String(this.int(el, packetSize, 8192, 65536)), el, packetSize)
    this.rest(el, ['port', 'address', 'protocol', 'secretRequired', 'secret', 'requiredSecret', 'packetSize'], {
      maxThreads: NO_THREADS,
      minSpareThreads: NO_THREADS,
      executor: NO_THREADS,
      redirectPort: 'nodecat-was serves plain HTTP: TLS ends at the balancer'
    }, 'no counterpart in nodecat-was\'s AJP listener')
  }

  engine (el: XmlElement): void {
    const route = this.attr(el, 'jvmRoute')
    if (route !== undefined) {
      if (!JVM_ROUTE_PATTERN.test(route.value)) this.failAttr(el, route, JVM_ROUTE_RULE)
      this.take('jvm-route', route.value, el, route)
    }
    this.rest(el, ['jvmRoute'], { name: 'one engine per node', defaultHost: 'no virtual hosts: the node serves its one --app' }, 'no counterpart')
    let cluster: XmlElement | null = null
    for (const child of el.children) {
      if (child.name === 'Cluster' && cluster === null) { cluster = child; continue }
      if (child.name === 'Host') {
        const inner = child.children.find((c) => c.name === 'Cluster')
        if (inner !== undefined && cluster === null) cluster = inner
        else if (inner !== undefined) this.skipElement(inner, 'one cluster per node: the <Engine>\'s <Cluster> is read')
        this.skipElement(child, 'no virtual hosts or contexts: the node serves its one --app')
      } else if (child.name === 'Cluster') {
        this.skipElement(child, 'one cluster per node: the first <Cluster> is read')
      } else {
        this.skipElement(child, child.name === 'Realm' ? 'authentication is the app\'s' : 'no counterpart')
      }
    }
    if (cluster !== null) this.cluster(cluster)
  }

  className (el: XmlElement, accepted: readonly string[], what: string): string | null {
    const a = this.attr(el, 'className')
    if (a === undefined) return null
    const name = simpleName(a.value.trim())
    if (!accepted.includes(name)) this.failAttr(el, a, `${what} (${accepted.join(' or ')})`)
    return name
  }

  cluster (el: XmlElement): void {
    this.className(el, ['SimpleTcpCluster'], 'Tomcat\'s cluster')
    const send = this.attr(el, 'channelSendOptions')
    if (send !== undefined) {
      let mode: string
      try { mode = sendModeOf(send.value.trim()) } catch { return this.failAttr(el, send, '8 or "asynchronous" (async), or 6 or "use_ack,synchronized_ack" (sync)') }
      if (mode === 'ack') this.failAttr(el, send, '8 (async) or 6 (sync): use_ack alone has no counterpart for sessions')
      this.take('channel-send-options', mode, el, send)
    }
    this.rest(el, ['className', 'channelSendOptions'], {
      channelStartOptions: 'nodecat always starts the whole channel',
      heartbeatBackgroundEnabled: 'the heartbeat runs on its own timer',
      notifyLifecycleListenerOnFailure: 'no lifecycle listeners'
    }, 'no counterpart')
    for (const child of el.children) {
      if (child.name === 'Manager') this.manager(child)
      else if (child.name === 'Channel') this.channel(child)
      else if (child.name === 'Valve') this.clusterValve(child)
      else if (child.name === 'Deployer') this.deployer(child)
      else if (child.name === 'ClusterListener') this.skipElement(child, LISTENER_REASONS[simpleName(this.attr(child, 'className')?.value ?? '')] ?? 'no counterpart')
      else this.skipElement(child, 'no counterpart')
    }
  }

  manager (el: XmlElement): void {
    const kind = this.className(el, ['DeltaManager', 'BackupManager'], 'a cluster session manager')
    if (kind !== null) this.take('manager', kind === 'BackupManager' ? 'backup' : 'delta', el, this.attr(el, 'className'))
    for (const name of ['expireSessionsOnShutdown', 'notifyListenersOnReplication'] as const) {
      const a = this.attr(el, name)
      if (a !== undefined) this.take(name === 'expireSessionsOnShutdown' ? 'expire-sessions-on-shutdown' : 'notify-listeners-on-replication', this.bool(el, a), el, a)
    }
    const transfer = this.attr(el, 'stateTransferTimeout')
    if (transfer !== undefined) this.take('state-transfer-timeout', String(this.int(el, transfer, 1, 3600)), el, transfer)
    const max = this.attr(el, 'maxActiveSessions')
    if (max !== undefined) this.take('max-active-sessions', String(this.int(el, max, -1, 2_000_000_000)), el, max)
    this.rest(el, ['className', 'expireSessionsOnShutdown', 'notifyListenersOnReplication', 'stateTransferTimeout', 'maxActiveSessions'], MANAGER_REASONS, 'no counterpart in nodecat\'s session manager')
  }

  channel (el: XmlElement): void {
    this.className(el, ['GroupChannel'], 'Tomcat\'s group channel')
    this.rest(el, ['className'], {}, 'no counterpart')
    for (const child of el.children) {
      if (child.name === 'Membership') this.membership(child)
      else if (child.name === 'Receiver') this.receiver(child)
      else if (child.name === 'Sender') this.sender(child)
      else if (child.name === 'Interceptor') this.interceptor(child)
      else this.skipElement(child, 'no counterpart')
    }
  }

  /** <Member host port> children (StaticMembershipService, StaticMembershipInterceptor) as --static */
  staticMembers (el: XmlElement): void {
    const members: string[] = []
    for (const child of el.children) {
      if (child.name === 'LocalMember') { this.skipElement(child, 'nodecat knows its own member from --receiver'); continue }
      if (child.name !== 'Member') { this.skipElement(child, 'no counterpart'); continue }
      const host = this.attr(child, 'host')
      const port = this.attr(child, 'port')
      if (host === undefined) this.fail(child.line, `<${child.name}>: host is missing`)
      if (port === undefined) this.fail(child.line, `<${child.name}>: port is missing`)
      members.push(hostPort(this.address(child, host), this.int(child, port, 1, 65535)))
      this.rest(child, ['className', 'host', 'port'], { uniqueId: 'nodecat members identify themselves (route and id are in their heartbeats)', securePort: RECEIVER_REASONS.securePort!, domain: 'the domain is --domain, one per cluster' }, 'no counterpart')
    }
    if (members.length === 0) this.fail(el.line, `<${el.name}>: static membership needs at least one <Member host port>`)
    this.settings.push({ flag: 'membership', value: 'static', line: el.line, item: this.label(el, this.attr(el, 'className')) })
    this.settings.push({ flag: 'static', value: members.join(','), line: el.children.find((c) => c.name === 'Member')!.line, item: `<Member> x${members.length}` })
  }

  membership (el: XmlElement): void {
    const kind = simpleName(this.attr(el, 'className')?.value.trim() ?? 'McastService')
    if (kind === 'StaticMembershipService') {
      this.staticMembers(el)
      this.rest(el, ['className'], {}, 'nodecat\'s static membership has its own timings (frequency, dropTime)')
      return
    }
    if (kind !== 'McastService') {
      this.skipElement(el, 'no counterpart: give the other nodes\' receivers with --static')
      return
    }
    this.take('membership', 'multicast', el, this.attr(el, 'className'))
    const address = this.attr(el, 'address')
    const port = this.attr(el, 'port')
    if (address !== undefined || port !== undefined) {
      const group = address === undefined ? undefined : this.address(el, address)
      this.take('multicast', hostPort(group, port === undefined ? 45564 : this.int(el, port, 1, 65535)), el, address, port)
    }
    const frequency = this.attr(el, 'frequency')
    const f = frequency === undefined ? 500 : this.int(el, frequency, 50, 60000)
    if (frequency !== undefined) this.take('frequency', String(f), el, frequency)
    const drop = this.attr(el, 'dropTime')
    if (drop !== undefined) {
      const d = this.int(el, drop, 100, 600000)
      if (d <= f) this.failAttr(el, drop, `more than frequency (${f} ms)`)
      this.take('drop-time', String(d), el, drop)
    }
    const bind = this.attr(el, 'bind')
    if (bind !== undefined) this.take('bind', this.address(el, bind), el, bind)
    const ttl = this.attr(el, 'ttl')
    if (ttl !== undefined) this.take('ttl', String(this.int(el, ttl, 0, 255)), el, ttl)
    const domain = this.attr(el, 'domain')
    if (domain !== undefined) {
      if (!/^[\x20-\x7e]{0,64}$/.test(domain.value) || /^\{.*\}$/.test(domain.value)) this.failAttr(el, domain, 'printable text of at most 64 characters (byte-array domains are not read)')
      this.take('domain', domain.value, el, domain)
    }
    this.rest(el, ['className', 'address', 'port', 'frequency', 'dropTime', 'bind', 'ttl', 'domain'], {
      soTimeout: 'the multicast socket is read by the event loop',
      recoveryEnabled: 'the multicast socket is reopened on errors by itself',
      recoveryCounter: 'the multicast socket is reopened on errors by itself',
      recoverySleepTime: 'the multicast socket is reopened on errors by itself',
      localLoopbackDisabled: 'nodecat ignores its own heartbeats by their id'
    }, 'no counterpart in nodecat\'s membership')
  }

  receiver (el: XmlElement): void {
    this.className(el, ['NioReceiver', 'BioReceiver'], 'a TCP receiver')
    const address = this.attr(el, 'address') ?? this.attr(el, 'host')
    const port = this.attr(el, 'port')
    if (address !== undefined || port !== undefined) {
      const host = address === undefined ? undefined : this.address(el, address, true)
      this.take('receiver', hostPort(host, port === undefined ? 4000 : this.int(el, port, 1, 65535)), el, address, port)
    }
    const autoBind = this.attr(el, 'autoBind')
    if (autoBind !== undefined) this.take('auto-bind', String(this.int(el, autoBind, 1, 1000)), el, autoBind)
    this.rest(el, ['className', 'address', 'host', 'port', 'autoBind'], RECEIVER_REASONS, SOCKET_TUNING)
  }

  sender (el: XmlElement): void {
    this.skipElement(el, 'nodecat\'s sender keeps one connection per member, with its own timeouts')
    this.rest(el, ['className'], {}, 'no counterpart in nodecat\'s sender')
    for (const child of el.children) {
      this.skipElement(child, 'nodecat\'s sender keeps one connection per member: no pool, no parallel senders')
      this.rest(child, ['className'], {}, 'no counterpart in nodecat\'s sender')
    }
  }

  interceptor (el: XmlElement): void {
    const name = simpleName(this.attr(el, 'className')?.value.trim() ?? '')
    if (name === 'DomainFilterInterceptor') {
      const domain = this.attr(el, 'domain')
      if (domain === undefined) this.fail(el.line, '<Interceptor className="...DomainFilterInterceptor">: domain is missing')
      if (!/^[\x20-\x7e]{0,64}$/.test(domain.value) || /^\{.*\}$/.test(domain.value)) this.failAttr(el, domain, 'printable text of at most 64 characters (byte-array domains are not read)')
      this.take('domain', domain.value, el, domain)
      this.rest(el, ['className', 'domain'], {}, 'no counterpart')
      return
    }
    if (name === 'StaticMembershipInterceptor') {
      this.staticMembers(el)
      this.rest(el, ['className'], {}, 'no counterpart')
      return
    }
    this.skipElement(el, INTERCEPTOR_REASONS[name] ?? 'no counterpart in nodecat\'s channel')
    this.rest(el, ['className'], {}, 'no counterpart')
  }

  clusterValve (el: XmlElement): void {
    const name = simpleName(this.attr(el, 'className')?.value.trim() ?? '')
    if (name === 'ReplicationValve') {
      const filter = this.attr(el, 'filter')
      if (filter !== undefined) {
        // why anchored: Tomcat's filter must match the whole URI (Matcher.matches); ours is a search
        const source = filter.value.trim() === '' ? '' : `^(?:${filter.value.trim()})$`
        if (source !== '') { try { new RegExp(source) } catch { this.failAttr(el, filter, 'a regular expression JavaScript can read') } } // eslint-disable-line no-new
        this.take('replication-filter', source, el, filter)
      }
      this.rest(el, ['className', 'filter'], {
        primaryIndicator: 'no primary-session request attribute',
        primaryIndicatorName: 'no primary-session request attribute',
        statistics: 'counters are always on /_nodecat/metrics'
      }, 'no counterpart')
      return
    }
    if (name === 'JvmRouteBinderValve') {
      this.skipElement(el, 'nodecat always moves a failed-over session to the serving node\'s route (it cannot be turned off)')
      this.rest(el, ['className'], {}, 'no counterpart')
      return
    }
    this.skipElement(el, 'no counterpart')
  }

  deployer (el: XmlElement): void {
    this.skipElement(el, 'nodecat deploys no WARs: `nodecat-was deploy <app dir | app.tgz> --to host:port` sends an app bundle to every member and switches them one at a time')
    // why watchDir only when enabled: FarmWarDeployer watches nothing with watchEnabled="false"
    // (its default); nodecat's --watch-dir rolls out the app bundles (*.tgz, not WARs) dropped there
    const enabled = this.attr(el, 'watchEnabled')
    const watchDir = this.attr(el, 'watchDir')
    const watching = enabled?.value.trim().toLowerCase() === 'true' && watchDir !== undefined && watchDir.value.trim() !== ''
    if (watching) this.take('watch-dir', watchDir.value.trim(), el, watchDir, enabled)
    this.rest(el, ['className', ...(watching ? ['watchDir', 'watchEnabled'] : [])], {
      watchDir: 'watchEnabled is not "true": nothing is watched (nodecat\'s --watch-dir, off by default, rolls out app bundles dropped in a directory)',
      watchEnabled: 'nothing is watched (nodecat\'s --watch-dir, off by default, rolls out app bundles dropped in a directory)',
      deployDir: 'members keep their app versions in --deploy-dir/<jvm-route> (not Tomcat\'s appBase)',
      tempDir: 'bundles are checked in memory before anything is written'
    }, 'no counterpart')
  }
}

/** Map a server.xml's text; `file` names it in errors. Throws WAS_ERR_SERVER_XML. */
export function importServerXml (text: string, file: string): ServerXmlImport {
  const importer = new Importer(file)
  const root = readXml(text, (line, message) => importer.fail(line, message))
  importer.server(root)
  return { file, settings: importer.settings, ignored: importer.ignored }
}

/** Read and map a server.xml file. Throws WAS_ERR_SERVER_XML (also when it cannot be read). */
export function readServerXml (file: string): ServerXmlImport {
  let text: string
  try { text = readFileSync(file, 'utf8') } catch (err) {
    throw serviceErrors.serverXml(file, null, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  return importServerXml(text, file)
}
