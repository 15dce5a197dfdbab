/** AJP/1.3: the codec the node's listener and the balancer's AJP client share (no sockets here). */
export {
  AJP_TYPE, AJP_DEFAULT_PACKET_SIZE, AJP_MIN_PACKET_SIZE, AJP_MAX_PACKET_SIZE, AJP_MAGIC_TO_CONTAINER, AJP_MAGIC_FROM_CONTAINER,
  AJP_HEADER_LENGTH, AJP_METHODS, AJP_REQUEST_HEADERS, AJP_RESPONSE_HEADERS, AJP_ATTRIBUTE
} from './constants.js'
export {
  encodeForwardRequest, decodeForwardRequest, encodeRequestBodyChunk, decodeRequestBodyChunk, encodeSendHeaders,
  encodeSendBodyChunk, encodeEndResponse, encodeGetBodyChunk, encodeCPing, encodeCPong, decodeContainerMessage,
  checkPacketSize, maxRequestBodyChunk, maxResponseBodyChunk, type AjpForwardRequest, type AjpContainerMessage
} from './codec.js'
export { AjpPacketReader } from './reader.js'
export { AjpError, AJP_ERROR_CODES, type AjpErrorCode } from './errors.js'
