/**
 * AJP/1.3 messages as pure functions: encoders return whole packets (4-byte header included),
 * decoders take a payload (what AjpPacketReader returns: the bytes after the header) and either
 * return the message or throw an AjpError. Strings are bytes carried as latin1, the way Node's
 * HTTP parser carries header values and the request target, so nothing is re-encoded on the way.
 */
import {
  AJP_ATTRIBUTE, AJP_DEFAULT_PACKET_SIZE, AJP_HEADER_LENGTH, AJP_MAGIC_FROM_CONTAINER, AJP_MAGIC_TO_CONTAINER,
  AJP_MAX_PACKET_SIZE, AJP_METHODS, AJP_MIN_PACKET_SIZE, AJP_REQUEST_HEADERS, AJP_RESPONSE_HEADERS, AJP_STORED_METHOD, AJP_TYPE
} from './constants.js'
import { badPacketSize, malformed, messageTooLarge, notEncodable, unknownType } from './errors.js'

export interface AjpForwardRequest {
  method: string
  protocol: string
  uri: string
  remoteAddr: string
  remoteHost: string
  serverName: string
  serverPort: number
  isSsl: boolean
  /** names as sent (coded names decoded to their canonical spelling, AJP_REQUEST_HEADERS) */
  headers: Array<[string, string]>
  /**
   * 'query_string', 'secret', 'route', 'remote_user', 'auth_type', 'ssl_cert', 'ssl_cipher', 'ssl_session',
   * 'ssl_key_size' (decimal), 'stored_method', 'context', 'servlet_path', and req_attribute pairs by their own
   * name (e.g. 'AJP_REMOTE_PORT', 'JK_LB_ACTIVATION'). 'jvm_route' is encoded as 'route'.
   */
  attributes: Array<[string, string]>
}

export type AjpContainerMessage =
  | { type: 'send-headers', status: number, message: string, headers: Array<[string, string]> }
  | { type: 'body-chunk', data: Buffer }
  | { type: 'end-response', reuse: boolean }
  | { type: 'get-body-chunk', size: number }
  | { type: 'cpong' }

/** The packet size as mod_jk and Tomcat accept it: an integer from 8192 to 65536 (else AJP_ERR_BAD_PACKET_SIZE). */
export function checkPacketSize (size: unknown): number {
  if (typeof size !== 'number' || !Number.isInteger(size) || size < AJP_MIN_PACKET_SIZE || size > AJP_MAX_PACKET_SIZE) throw badPacketSize(size)
  return size
}

/** The most request-body bytes one body packet carries at this packet size (8186 by default). */
export function maxRequestBodyChunk (packetSize: number = AJP_DEFAULT_PACKET_SIZE): number {
  return packetSize - AJP_HEADER_LENGTH - 2
}

/** The most response-body bytes one SEND_BODY_CHUNK carries at this packet size (8184 by default). */
export function maxResponseBodyChunk (packetSize: number = AJP_DEFAULT_PACKET_SIZE): number {
  return packetSize - AJP_HEADER_LENGTH - 4
}

// ---- writing ---------------------------------------------------------------------------------

/** encoders are synchronous, so one scratch buffer of the largest packet serves them all */
const scratch = Buffer.allocUnsafe(AJP_MAX_PACKET_SIZE)
const NON_LATIN1 = /[^\u0000-\u00ff]/ // eslint-disable-line no-control-regex

class Writer {
  pos = AJP_HEADER_LENGTH
  constructor (private readonly limit: number, private readonly what: string) {}

  private room (n: number): void {
    if (this.pos + n > this.limit) throw messageTooLarge(this.what, this.pos + n, this.limit)
  }

  byte (v: number): void { this.room(1); scratch[this.pos++] = v }
  int (v: number): void { this.room(2); scratch.writeUInt16BE(v, this.pos); this.pos += 2 }
  bytes (b: Buffer): void { this.room(b.length); b.copy(scratch, this.pos); this.pos += b.length }
  string (s: string, field: string): void {
    if (NON_LATIN1.test(s)) throw notEncodable(`${field} has a character above U+00FF`)
    if (s.length >= 0xffff) throw notEncodable(`${field} is ${s.length} bytes long`)
    this.room(s.length + 3)
    scratch.writeUInt16BE(s.length, this.pos)
    scratch.write(s, this.pos + 2, 'latin1')
    scratch[this.pos + 2 + s.length] = 0
    this.pos += s.length + 3
  }

  /** the packet: magic + payload length + payload, copied out of the scratch buffer */
  finish (magic: number): Buffer {
    scratch.writeUInt16BE(magic, 0)
    scratch.writeUInt16BE(this.pos - AJP_HEADER_LENGTH, 2)
    return Buffer.from(scratch.subarray(0, this.pos))
  }
}

const METHOD_CODES = new Map<string, number>(AJP_METHODS.map((m, i) => [m, i + 1]))
const REQUEST_HEADER_CODES = new Map<string, number>(AJP_REQUEST_HEADERS.map((h, i) => [h, 0xa001 + i]))
const RESPONSE_HEADER_CODES = new Map<string, number>(AJP_RESPONSE_HEADERS.map((h, i) => [h.toLowerCase(), 0xa001 + i]))
const STRING_ATTRIBUTES = new Map<string, number>([
  ['context', AJP_ATTRIBUTE.context],
  ['servlet_path', AJP_ATTRIBUTE.servlet_path],
  ['remote_user', AJP_ATTRIBUTE.remote_user],
  ['auth_type', AJP_ATTRIBUTE.auth_type],
  ['query_string', AJP_ATTRIBUTE.query_string],
  ['route', AJP_ATTRIBUTE.route],
  ['jvm_route', AJP_ATTRIBUTE.route],
  ['ssl_cert', AJP_ATTRIBUTE.ssl_cert],
  ['ssl_cipher', AJP_ATTRIBUTE.ssl_cipher],
  ['ssl_session', AJP_ATTRIBUTE.ssl_session],
  ['secret', AJP_ATTRIBUTE.secret],
  ['stored_method', AJP_ATTRIBUTE.stored_method]
])
const ATTRIBUTE_NAMES = new Map<number, string>([...STRING_ATTRIBUTES].filter(([name]) => name !== 'jvm_route').map(([name, code]) => [code, name]))

function headerName (w: Writer, name: string, codes: Map<string, number>): void {
  const code = codes.get(name.toLowerCase())
  if (code !== undefined) { w.int(code); return }
  if (name.length === 0) throw notEncodable('an empty header name')
  if (name.length >= 0xa000) throw notEncodable(`a header name of ${name.length} bytes`)
  w.string(name, 'a header name')
}

/**
 * A Forward Request packet. A method AJP has no code for goes as 0xFF with a 'stored_method'
 * attribute (added unless the attributes carry one). Headers and attributes must fit one
 * packet, as in mod_jk: otherwise AJP_ERR_MESSAGE_TOO_LARGE (statusCode 413).
 */
export function encodeForwardRequest (r: AjpForwardRequest, packetSize: number = AJP_DEFAULT_PACKET_SIZE): Buffer {
  const w = new Writer(checkPacketSize(packetSize), 'the forward request')
  w.byte(AJP_TYPE.FORWARD_REQUEST)
  const method = METHOD_CODES.get(r.method)
  w.byte(method ?? AJP_STORED_METHOD)
  w.string(r.protocol, 'protocol')
  w.string(r.uri, 'req_uri')
  w.string(r.remoteAddr, 'remote_addr')
  // why null for none: mod_jk sends remote_host as the null string when httpd did not look it up
  if (r.remoteHost === '') w.int(0xffff)
  else w.string(r.remoteHost, 'remote_host')
  w.string(r.serverName, 'server_name')
  if (!Number.isInteger(r.serverPort) || r.serverPort < 0 || r.serverPort > 0xffff) throw notEncodable(`server_port ${r.serverPort}`)
  w.int(r.serverPort)
  w.byte(r.isSsl ? 1 : 0)
  if (r.headers.length > 0xffff) throw notEncodable(`${r.headers.length} headers`)
  w.int(r.headers.length)
  for (const [name, value] of r.headers) {
    headerName(w, name, REQUEST_HEADER_CODES)
    w.string(value, `header ${name}`)
  }
  let stored = false
  for (const [name, value] of r.attributes) {
    if (name === 'ssl_key_size') {
      const n = Number(value)
      if (!/^\d+$/.test(value) || n > 0xffff) throw notEncodable(`ssl_key_size ${JSON.stringify(value)}`)
      w.byte(AJP_ATTRIBUTE.ssl_key_size)
      w.int(n)
      continue
    }
    const code = STRING_ATTRIBUTES.get(name)
    if (code === undefined) {
      w.byte(AJP_ATTRIBUTE.req_attribute)
      w.string(name, 'a request attribute name')
    } else {
      w.byte(code)
      if (code === AJP_ATTRIBUTE.stored_method) stored = true
    }
    w.string(value, `attribute ${name}`)
  }
  if (method === undefined && !stored) {
    if (r.method.length === 0) throw notEncodable('an empty method')
    w.byte(AJP_ATTRIBUTE.stored_method)
    w.string(r.method, 'method')
  }
  w.byte(AJP_ATTRIBUTE.are_done)
  return w.finish(AJP_MAGIC_TO_CONTAINER)
}

/** A request body packet (web server → container); empty data is the end-of-body packet `12 34 00 00`. */
export function encodeRequestBodyChunk (data: Buffer): Buffer {
  if (data.length === 0) return Buffer.from([0x12, 0x34, 0, 0])
  if (data.length > AJP_MAX_PACKET_SIZE - AJP_HEADER_LENGTH - 2) throw messageTooLarge('a request body chunk', data.length + 6, AJP_MAX_PACKET_SIZE)
  const b = Buffer.allocUnsafe(data.length + 6)
  b.writeUInt16BE(AJP_MAGIC_TO_CONTAINER, 0)
  b.writeUInt16BE(data.length + 2, 2)
  b.writeUInt16BE(data.length, 4)
  data.copy(b, 6)
  return b
}

/** Send Headers; the reason phrase defaults to the status number, as Tomcat sends it (mod_jk needs one). */
export function encodeSendHeaders (status: number, message: string, headers: Array<[string, string]>, packetSize: number = AJP_DEFAULT_PACKET_SIZE): Buffer {
  const w = new Writer(checkPacketSize(packetSize), 'the response headers')
  w.byte(AJP_TYPE.SEND_HEADERS)
  if (!Number.isInteger(status) || status < 100 || status > 999) throw notEncodable(`status ${status}`)
  w.int(status)
  w.string(message === '' ? String(status) : message, 'reason')
  if (headers.length > 0xffff) throw notEncodable(`${headers.length} headers`)
  w.int(headers.length)
  for (const [name, value] of headers) {
    headerName(w, name, RESPONSE_HEADER_CODES)
    w.string(value, `header ${name}`)
  }
  return w.finish(AJP_MAGIC_FROM_CONTAINER)
}

/** Send Body Chunk: 'AB', length, 3, data length, data, NUL. Splits nothing: keep data ≤ packetSize − 8. A zero-length chunk is a flush. */
export function encodeSendBodyChunk (data: Buffer): Buffer {
  if (data.length > AJP_MAX_PACKET_SIZE - 8) throw messageTooLarge('a response body chunk', data.length + 8, AJP_MAX_PACKET_SIZE)
  const b = Buffer.allocUnsafe(data.length + 8)
  b.writeUInt16BE(AJP_MAGIC_FROM_CONTAINER, 0)
  b.writeUInt16BE(data.length + 4, 2)
  b[4] = AJP_TYPE.SEND_BODY_CHUNK
  b.writeUInt16BE(data.length, 5)
  data.copy(b, 7)
  b[7 + data.length] = 0
  return b
}

export function encodeEndResponse (reuse: boolean): Buffer {
  return Buffer.from([0x41, 0x42, 0, 2, AJP_TYPE.END_RESPONSE, reuse ? 1 : 0])
}

export function encodeGetBodyChunk (size: number): Buffer {
  if (!Number.isInteger(size) || size < 0 || size > 0xffff) throw notEncodable(`GET_BODY_CHUNK size ${size}`)
  return Buffer.from([0x41, 0x42, 0, 3, AJP_TYPE.GET_BODY_CHUNK, size >> 8, size & 0xff])
}

export function encodeCPing (): Buffer {
  return Buffer.from([0x12, 0x34, 0, 1, AJP_TYPE.CPING])
}

export function encodeCPong (): Buffer {
  return Buffer.from([0x41, 0x42, 0, 1, AJP_TYPE.CPONG_REPLY])
}

// ---- reading ---------------------------------------------------------------------------------

class Reader {
  pos = 0
  constructor (private readonly b: Buffer, private readonly what: string) {}

  private need (n: number, field: string): void {
    if (this.pos + n > this.b.length) throw malformed(`${this.what} ends inside ${field}`)
  }

  get remaining (): number { return this.b.length - this.pos }
  byte (field: string): number { this.need(1, field); return this.b[this.pos++]! }
  peekInt (field: string): number { this.need(2, field); return this.b.readUInt16BE(this.pos) }
  int (field: string): number { const v = this.peekInt(field); this.pos += 2; return v }
  /** a string; the null string (length 0xFFFF) reads as null */
  nullableString (field: string): string | null {
    const n = this.int(field)
    if (n === 0xffff) return null
    this.need(n + 1, field)
    const s = this.b.toString('latin1', this.pos, this.pos + n)
    if (this.b[this.pos + n] !== 0) throw malformed(`${field} in ${this.what} is not NUL-terminated`)
    this.pos += n + 1
    return s
  }

  /** a string where null means empty (mod_jk sends null for fields it has no value for) */
  string (field: string): string { return this.nullableString(field) ?? '' }
  /** a string that must be present */
  requiredString (field: string): string {
    const s = this.nullableString(field)
    if (s === null) throw malformed(`${field} in ${this.what} is null`)
    return s
  }

  bytes (n: number, field: string): Buffer { this.need(n, field); const b = this.b.subarray(this.pos, this.pos + n); this.pos += n; return b }
}

/** num_headers, then each header: a coded name (0xA0nn, an index into `codes`) or a string, and its value */
function readHeaders (r: Reader, codes: readonly string[], side: 'request' | 'response'): Array<[string, string]> {
  const count = r.int('num_headers')
  const headers: Array<[string, string]> = []
  for (let i = 0; i < count; i++) {
    const lead = r.peekInt('a header name')
    let name: string
    if ((lead & 0xff00) === 0xa000) {
      r.pos += 2
      const coded = codes[(lead & 0xff) - 1]
      if (coded === undefined) throw malformed(`${side} header code 0x${lead.toString(16)}`)
      name = coded
    } else {
      name = r.requiredString('a header name')
    }
    headers.push([name, r.string(`header ${name}`)])
  }
  return headers
}

/** A Forward Request payload (after the 4-byte header, starting with type 2). */
export function decodeForwardRequest (payload: Buffer): AjpForwardRequest {
  const r = new Reader(payload, 'forward request')
  const type = r.byte('type')
  if (type !== AJP_TYPE.FORWARD_REQUEST) throw unknownType(type, 'where a forward request was expected')
  const methodCode = r.byte('method')
  let method: string | undefined
  if (methodCode !== AJP_STORED_METHOD) {
    method = AJP_METHODS[methodCode - 1]
    if (method === undefined) throw malformed(`method code ${methodCode}`)
  }
  const protocol = r.string('protocol')
  const uri = r.string('req_uri')
  const remoteAddr = r.string('remote_addr')
  const remoteHost = r.string('remote_host')
  const serverName = r.string('server_name')
  const serverPort = r.int('server_port')
  const isSsl = r.byte('is_ssl') !== 0
  const headers = readHeaders(r, AJP_REQUEST_HEADERS, 'request')
  const attributes: Array<[string, string]> = []
  for (;;) {
    const code = r.byte('the attributes')
    if (code === AJP_ATTRIBUTE.are_done) break
    if (code === AJP_ATTRIBUTE.req_attribute) {
      const name = r.requiredString('a request attribute name')
      attributes.push([name, r.string(`attribute ${name}`)])
    } else if (code === AJP_ATTRIBUTE.ssl_key_size) {
      attributes.push(['ssl_key_size', String(r.int('ssl_key_size'))])
    } else {
      const name = ATTRIBUTE_NAMES.get(code)
      if (name === undefined) throw malformed(`attribute code 0x${code.toString(16)}`)
      const value = r.string(name)
      if (name === 'stored_method') method ??= value
      attributes.push([name, value])
    }
  }
  if (r.remaining !== 0) throw malformed(`${r.remaining} bytes after the end of the attributes`)
  if (method === undefined || method === '') throw malformed('method code 0xFF without a stored_method attribute')
  return { method, protocol, uri, remoteAddr, remoteHost, serverName, serverPort, isSsl, headers, attributes }
}

/** A request body payload: the data (a view into the payload); an empty payload, or a zero length, is the end of the body. */
export function decodeRequestBodyChunk (payload: Buffer): Buffer {
  if (payload.length === 0) return payload
  const r = new Reader(payload, 'request body chunk')
  const n = r.int('the data length')
  if (n !== payload.length - 2) throw malformed(`request body chunk says ${n} bytes in a payload of ${payload.length}`)
  return r.bytes(n, 'the data')
}

/** A container → web server payload (after the 'AB' header). */
export function decodeContainerMessage (payload: Buffer): AjpContainerMessage {
  const r = new Reader(payload, 'container message')
  const type = r.byte('type')
  switch (type) {
    case AJP_TYPE.SEND_HEADERS: {
      const status = r.int('status')
      const message = r.string('reason')
      const headers = readHeaders(r, AJP_RESPONSE_HEADERS, 'response')
      if (r.remaining !== 0) throw malformed(`${r.remaining} bytes after the response headers`)
      return { type: 'send-headers', status, message, headers }
    }
    case AJP_TYPE.SEND_BODY_CHUNK: {
      const n = r.int('the chunk length')
      // mod_jk's rule: the chunk may be followed by its NUL (Tomcat) or by nothing, never by more
      if (n > payload.length - 3 || payload.length - 3 - n > 1) throw malformed(`body chunk says ${n} bytes in a payload of ${payload.length}`)
      return { type: 'body-chunk', data: r.bytes(n, 'the chunk') }
    }
    case AJP_TYPE.END_RESPONSE: {
      const reuse = r.byte('reuse') !== 0
      if (r.remaining !== 0) throw malformed(`${r.remaining} bytes after END_RESPONSE`)
      return { type: 'end-response', reuse }
    }
    case AJP_TYPE.GET_BODY_CHUNK: {
      const size = r.int('the requested size')
      if (r.remaining !== 0) throw malformed(`${r.remaining} bytes after GET_BODY_CHUNK`)
      return { type: 'get-body-chunk', size }
    }
    case AJP_TYPE.CPONG_REPLY:
      if (r.remaining !== 0) throw malformed(`${r.remaining} bytes after CPONG`)
      return { type: 'cpong' }
    default:
      throw unknownType(type, 'from the container')
  }
}
