export * from './types.js'
export { NodecatError, type NodecatErrorOptions } from '@nodecat/protocol'
export { TribesError, TribesOptionError, TRIBES_ERROR_CODES, type TribesErrorCode } from './errors.js'
export { validators, type Validators, type OptionErrorFactory } from './validate.js'

// channel, options, transport codecs and the cluster key (frame/transport/channel part)
export { createChannel } from './channel.js'
export { DEFAULTS as CHANNEL_DEFAULTS, resolveChannelOptions, isLoopback, type ChannelOptions, type MembershipOptions, type ResolvedChannelOptions } from './options.js'
export { errors, isRefused } from './errors.js'
export {
  FrameParser, encodeFrame, ACK_FRAME, FAIL_ACK_FRAME, FRAME_START, FRAME_END, FRAME_OVERHEAD, isAck, isFailAck, type FrameParserOptions
} from './codec/frame.js'
export { decodeChannelData, encodeChannelData, encodeChannelDataFrame, type ChannelData } from './codec/channel-data.js'
export { SEND_OPTIONS, MODE_OPTIONS, parseSendOptions, sendOptionsToString, modeToOptions, optionsToMode } from './codec/send-options.js'
export { encodeEnvelopeFrame, openEnvelope, isEnvelope, isTcpFailDetect, packValue, unpackValue, KIND, TCP_FAIL_DETECT, type EnvelopeKind } from './codec/envelope.js'
export { Keyring, generateKey, parseKey, readKeyFile, readKeyFileSet, parseKeyFileContent, type KeyringOptions, type KeyReload, type KeySet } from './crypto/keyring.js'
export {
  encodeMember, decodeMember, hostToBytes, hostToString, isShutdownCommand, SHUTDOWN_COMMAND, type MemberFields
} from './codec/member.js'
export { MEMBERSHIP_DEFAULTS } from './membership/defaults.js'
export { expandMemberList, MEMBER_RANGE_MAX } from './membership/member-list.js'
