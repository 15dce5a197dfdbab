/**
 * Tomcat's cluster session message (org.apache.catalina.ha.session.SessionMessageImpl, Tomcat
 * 10.1, serialVersionUID 2) as Java serialization: read strictly, written for the one reply
 * nodecat sends a Tomcat (EVT_ALL_SESSION_NOCONTEXTMANAGER). Layout (reference/tomcat-cluster.md
 * §5.1 and the annotated captures in fixtures/tomcat10):
 *
 *   ac ed 00 05  TC_OBJECT  class descriptor of SessionMessageImpl (7 fields) whose super is
 *   ClusterMessageBase (1 field)  |  long ClusterMessageBase.timestamp (always 0)  |
 *   int mEvtType | long serializationTimestamp | boolean timestampSet |
 *   mContextName, mSession (byte[] or null), mSessionID, uniqueId (TC_STRING, TC_REFERENCE or TC_NULL)
 *
 * The class descriptors must match byte for byte: any other class, another version of this one,
 * or a stream with anything after the object is refused. A session's bytes (mSession) are
 * skipped, never kept: nodecat does not take a Tomcat's sessions.
 */
import { BASE_HANDLE, JavaStreamReader, JavaStreamWriter, STREAM_MAGIC, StreamRefused, TC } from './java-stream.js'

/** SessionMessage.EVT_* */
export const SESSION_EVENT = {
  SESSION_CREATED: 1,
  SESSION_EXPIRED: 2,
  SESSION_ACCESSED: 3,
  GET_ALL_SESSIONS: 4,
  ALL_SESSION_DATA: 12,
  SESSION_DELTA: 13,
  ALL_SESSION_TRANSFERCOMPLETE: 14,
  CHANGE_SESSION_ID: 15,
  ALL_SESSION_NOCONTEXTMANAGER: 16
} as const

export interface SessionMessage {
  eventType: number
  /** the manager's name: "<host>#<context path>" (e.g. "localhost#/app"); null = every manager */
  contextName: string | null
  sessionId: string | null
  uniqueId: string | null
  /** serializationTimestamp: the sender's time, set once (0 and timestampSet false when never set) */
  timestamp: bigint
  timestampSet: boolean
  /** length of the session bytes the message carried (never the bytes themselves); null when none */
  sessionBytes: number | null
}

const utf = (w: JavaStreamWriter, s: string): JavaStreamWriter => {
  const b = Buffer.from(s, 'latin1')
  const n = Buffer.allocUnsafe(2)
  n.writeUInt16BE(b.length)
  return w.raw(n).raw(b)
}

/** class descriptor (flags SC_SERIALIZABLE) head: TC_CLASSDESC, name, serialVersionUID, flags, field count */
const classHead = (w: JavaStreamWriter, name: string, uid: bigint, fields: number): JavaStreamWriter =>
  utf(w.u8(TC.CLASSDESC), name).long(uid).u8(0x02).raw(Buffer.from([fields >> 8, fields & 0xff]))

/** a field of an object type: its type code, name, then the type signature as a string or a reference */
const objectField = (w: JavaStreamWriter, code: string, name: string, signature: string | number): JavaStreamWriter => {
  utf(w.u8(code.charCodeAt(0)), name)
  return typeof signature === 'string' ? w.string(signature) : w.u8(TC.REFERENCE).int(signature)
}

/**
 * Everything from TC_OBJECT to the end of the class descriptors, as a Java 17 ObjectOutputStream
 * writes it for a fresh stream. Handles: 0 this descriptor, 1 "Ljava/lang/String;", 2 "[B",
 * 3 ClusterMessageBase's descriptor, 4 the object; the values' strings and arrays follow from 5.
 */
export const SESSION_MESSAGE_CLASS = ((): Buffer => {
  const w = new JavaStreamWriter().u8(TC.OBJECT)
  classHead(w, 'org.apache.catalina.ha.session.SessionMessageImpl', 2n, 7)
  utf(w.u8(0x49), 'mEvtType') // I
  utf(w.u8(0x4a), 'serializationTimestamp') // J
  utf(w.u8(0x5a), 'timestampSet') // Z
  objectField(w, 'L', 'mContextName', 'Ljava/lang/String;')
  objectField(w, '[', 'mSession', '[B')
  objectField(w, 'L', 'mSessionID', BASE_HANDLE + 1)
  objectField(w, 'L', 'uniqueId', BASE_HANDLE + 1)
  w.u8(TC.ENDBLOCKDATA)
  classHead(w, 'org.apache.catalina.ha.ClusterMessageBase', 1n, 1)
  utf(w.u8(0x4a), 'timestamp') // J
  return w.u8(TC.ENDBLOCKDATA).u8(TC.NULL).toBuffer()
})()

/** the first handle of the values (after the two descriptors, the two type strings and the object) */
const FIRST_VALUE_HANDLE = BASE_HANDLE + 5

/** TC_CLASSDESC of byte[] (serialVersionUID 0xacf317f8060854e0), no fields, no super */
const BYTE_ARRAY_CLASS = ((): Buffer => {
  const w = new JavaStreamWriter()
  classHead(w, '[B', -5984413125824719648n, 0)
  return w.u8(TC.ENDBLOCKDATA).u8(TC.NULL).toBuffer()
})()

export type ReadResult = { ok: true, message: SessionMessage } | { ok: false, reason: string, detail: string }

/**
 * Read one serialized SessionMessageImpl. Never throws: anything else is `{ ok: false, reason }`
 * with reason 'not-java' (no stream header), 'not-session-message' (another class or version),
 * or what the stream was refused for ('truncated', 'bad-string', 'bad-value', 'bad-reference',
 * 'unexpected-content', 'trailing-bytes').
 */
export function readSessionMessage (bytes: Buffer): ReadResult {
  try {
    const r = new JavaStreamReader(bytes)
    r.expect(STREAM_MAGIC, 'not-java', 'stream header')
    r.expect(SESSION_MESSAGE_CLASS, 'not-session-message', 'class descriptor')
    r.long() // ClusterMessageBase.timestamp: Tomcat never sets it
    const eventType = r.int()
    const timestamp = r.long()
    const timestampSet = r.boolean()
    const strings = new Map<number, string>()
    let next = FIRST_VALUE_HANDLE
    const string = (field: string): string | null => {
      const tc = r.u8()
      if (tc === TC.NULL) return null
      if (tc === TC.STRING) { const s = r.utf(); strings.set(next++, s); return s }
      if (tc === TC.REFERENCE) {
        const handle = r.int()
        const s = strings.get(handle)
        if (s === undefined) throw new StreamRefused('bad-reference', `${field} refers to handle 0x${(handle >>> 0).toString(16)}, no string of this message`)
        return s
      }
      throw new StreamRefused('unexpected-content', `${field}: type code 0x${tc.toString(16)} where a string belongs`)
    }
    const contextName = string('mContextName')
    let sessionBytes: number | null = null
    const tc = r.u8()
    if (tc === TC.ARRAY) {
      r.expect(BYTE_ARRAY_CLASS, 'unexpected-content', 'mSession array class (byte[] only)')
      next += 2 // the array's descriptor, then the array
      sessionBytes = r.int()
      r.skip(sessionBytes)
    } else if (tc !== TC.NULL) {
      throw new StreamRefused('unexpected-content', `mSession: type code 0x${tc.toString(16)} (byte[] or null only)`)
    }
    const sessionId = string('mSessionID')
    const uniqueId = string('uniqueId')
    if (r.remaining !== 0) throw new StreamRefused('trailing-bytes', `${r.remaining} bytes after the message`)
    return { ok: true, message: { eventType, contextName, sessionId, uniqueId, timestamp, timestampSet, sessionBytes } }
  } catch (err) {
    if (err instanceof StreamRefused) return { ok: false, reason: err.reason, detail: err.message }
    throw err
  }
}

/**
 * Serialize a SessionMessageImpl without session bytes (mSession null), as Tomcat's
 * ObjectOutputStream would. Strings past 65535 bytes of modified UTF-8 throw a RangeError.
 */
export function writeSessionMessage (m: Omit<SessionMessage, 'sessionBytes'>): Buffer {
  const w = new JavaStreamWriter().raw(STREAM_MAGIC).raw(SESSION_MESSAGE_CLASS)
  w.long(0n).int(m.eventType).long(m.timestamp).boolean(m.timestampSet)
  const str = (s: string | null): void => { if (s === null) w.u8(TC.NULL); else w.string(s) }
  str(m.contextName)
  w.u8(TC.NULL)
  str(m.sessionId)
  str(m.uniqueId)
  return w.toBuffer()
}

/**
 * The answer of a Tomcat that has no manager for the context a GET_ALL_SESSIONS named
 * (ClusterSessionListener): EVT_ALL_SESSION_NOCONTEXTMANAGER for the same context name, session id
 * "NO-CONTEXT-MANAGER", unique id "NO-CONTEXT-MANAGER-<context>", timestamp never set. It ends the
 * asking Tomcat's wait for state at once.
 */
export function noContextManagerReply (contextName: string): Buffer {
  return writeSessionMessage({
    eventType: SESSION_EVENT.ALL_SESSION_NOCONTEXTMANAGER,
    contextName,
    sessionId: 'NO-CONTEXT-MANAGER',
    uniqueId: `NO-CONTEXT-MANAGER-${contextName}`,
    timestamp: 0n,
    timestampSet: false
  })
}
