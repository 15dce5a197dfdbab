/**
 * AJP/1.3 numbers (see /work/shared/reference/balancer.md §2): message types, method codes, the
 * coded header names of each direction and the attribute codes of a Forward Request.
 */

export const AJP_TYPE = { FORWARD_REQUEST: 2, SEND_BODY_CHUNK: 3, SEND_HEADERS: 4, END_RESPONSE: 5, GET_BODY_CHUNK: 6, SHUTDOWN: 7, PING: 8, CPONG_REPLY: 9, CPING: 10 } as const

/** max_packet_size (mod_jk) / packetSize (Tomcat): the whole packet, 4-byte header included */
export const AJP_DEFAULT_PACKET_SIZE = 8192
export const AJP_MIN_PACKET_SIZE = 8192
export const AJP_MAX_PACKET_SIZE = 65536
/** 0x12 0x34: web server → container */
export const AJP_MAGIC_TO_CONTAINER = 0x1234
/** 'AB': container → web server */
export const AJP_MAGIC_FROM_CONTAINER = 0x4142
export const AJP_HEADER_LENGTH = 4

/** Forward Request method codes: code c is AJP_METHODS[c - 1]; 0xFF means "stored_method attribute" */
export const AJP_METHODS = [
  'OPTIONS', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'TRACE', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE',
  'LOCK', 'UNLOCK', 'ACL', 'REPORT', 'VERSION-CONTROL', 'CHECKIN', 'CHECKOUT', 'UNCHECKOUT', 'SEARCH', 'MKWORKSPACE',
  'UPDATE', 'LABEL', 'MERGE', 'BASELINE-CONTROL', 'MKACTIVITY'
] as const
export const AJP_STORED_METHOD = 0xff

/** request header codes 0xA001..0xA00E, in code order (the spelling Tomcat gives them) */
export const AJP_REQUEST_HEADERS = [
  'accept', 'accept-charset', 'accept-encoding', 'accept-language', 'authorization', 'connection', 'content-type',
  'content-length', 'cookie', 'cookie2', 'host', 'pragma', 'referer', 'user-agent'
] as const

/** response header codes 0xA001..0xA00B, in code order (the spelling mod_jk gives them) */
export const AJP_RESPONSE_HEADERS = [
  'Content-Type', 'Content-Language', 'Content-Length', 'Date', 'Last-Modified', 'Location', 'Set-Cookie',
  'Set-Cookie2', 'Servlet-Engine', 'Status', 'WWW-Authenticate'
] as const

/** Forward Request attribute codes; 0x0A (req_attribute) carries its own name, 0xFF ends the list */
export const AJP_ATTRIBUTE = {
  context: 0x01,
  servlet_path: 0x02,
  remote_user: 0x03,
  auth_type: 0x04,
  query_string: 0x05,
  route: 0x06,
  ssl_cert: 0x07,
  ssl_cipher: 0x08,
  ssl_session: 0x09,
  req_attribute: 0x0a,
  ssl_key_size: 0x0b,
  secret: 0x0c,
  stored_method: 0x0d,
  are_done: 0xff
} as const
