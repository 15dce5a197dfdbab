/** Coded errors of the node's AJP listener: AJP_ERR_* for what the front end sent, WAS_ERR_AJP_* for the node's answers. */
import { AjpError } from '@nodecat/protocol'
import { WasError } from '../../errors.js'

export const ajpErrors = {
  /** a message type that has no place where it came (SHUTDOWN, PING, a container message type, an unknown one) */
  unexpectedType: (type: number) =>
    new AjpError('AJP_ERR_UNKNOWN_TYPE', `unexpected AJP message type ${type} where a Forward Request or a CPing was expected`),
  emptyPacket: () =>
    new AjpError('AJP_ERR_MALFORMED', 'malformed AJP message: an empty packet outside a request body'),
  /** the Forward Request's secret attribute is missing or wrong */
  secret: () =>
    new WasError('WAS_ERR_AJP_SECRET', 'the AJP secret is missing or wrong', { statusCode: 403 }),
  /** a response the AJP connection cannot carry (headers over the packet size, a body longer than announced) */
  response: (message: string) =>
    new WasError('WAS_ERR_AJP_RESPONSE', `the response cannot be sent over AJP: ${message}`)
} as const
