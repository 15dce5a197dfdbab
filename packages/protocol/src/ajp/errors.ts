/**
 * The AJP codec's coded errors. They live in @nodecat/protocol because the node's AJP listener
 * and the balancer's AJP client both decode with the same codec and both must tell a malformed
 * peer from a bug: every failure of a decode or of the packet reader is one of these, never
 * another exception.
 */
import { NodecatError, type NodecatErrorOptions } from '../nodecat-error.js'

export const AJP_ERROR_CODES = [
  'AJP_ERR_BAD_MAGIC',
  'AJP_ERR_PACKET_TOO_LARGE',
  'AJP_ERR_MALFORMED',
  'AJP_ERR_UNKNOWN_TYPE',
  'AJP_ERR_MESSAGE_TOO_LARGE',
  'AJP_ERR_NOT_ENCODABLE',
  'AJP_ERR_BAD_PACKET_SIZE'
] as const
export type AjpErrorCode = typeof AJP_ERROR_CODES[number]

export class AjpError extends NodecatError<AjpErrorCode> {
  constructor (code: AjpErrorCode, message: string, options?: NodecatErrorOptions) {
    super(code, message, options)
    this.name = 'AjpError'
  }
}

export function badMagic (got: number, want: number): AjpError {
  return new AjpError('AJP_ERR_BAD_MAGIC', `AJP packet starts with 0x${got.toString(16).padStart(4, '0')}, expected 0x${want.toString(16)}`)
}

export function packetTooLarge (payloadLength: number, maxPacketSize: number): AjpError {
  return new AjpError('AJP_ERR_PACKET_TOO_LARGE', `AJP packet of ${payloadLength + 4} bytes exceeds the packet size ${maxPacketSize}`)
}

export function malformed (what: string): AjpError {
  return new AjpError('AJP_ERR_MALFORMED', `malformed AJP message: ${what}`)
}

export function unknownType (type: number, where: string): AjpError {
  return new AjpError('AJP_ERR_UNKNOWN_TYPE', `unknown AJP message type ${type} ${where}`)
}

export function messageTooLarge (what: string, size: number, packetSize: number): AjpError {
  return new AjpError('AJP_ERR_MESSAGE_TOO_LARGE', `${what} needs ${size} bytes, more than the AJP packet size ${packetSize}`, { statusCode: 413 })
}

export function notEncodable (what: string): AjpError {
  return new AjpError('AJP_ERR_NOT_ENCODABLE', `cannot encode in AJP: ${what}`)
}

export function badPacketSize (value: unknown): AjpError {
  return new AjpError('AJP_ERR_BAD_PACKET_SIZE', `AJP packet size must be an integer from 8192 to 65536, got ${String(value)}`)
}
