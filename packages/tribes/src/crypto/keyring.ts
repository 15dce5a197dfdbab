/**
 * The cluster key: authenticates and encrypts cluster traffic, and rejects replays.
 *
 * - Messages: AES-256-GCM with a fresh 12-byte nonce per message: 8 random bytes drawn per keyring
 *   (and again every 2^32 messages) ‖ a 32-bit counter. Unique per key without a random draw per
 *   message (which cost more than the cipher); two members repeat a nonce only if they draw the
 *   same 64-bit prefix. The caller passes the
 *   ChannelData header (options, timestamp, uniqueId, sender blob) as AAD, so none of it can be
 *   altered without the tag failing (Tomcat's EncryptInterceptor leaves it unauthenticated).
 * - Replays: a message is rejected when its (authenticated) timestamp is outside now ± window, or
 *   its uniqueId was already seen (see replay-guard.ts; memory bounded per sender stream).
 * - Rotation: previous keys are still accepted for decryption and MAC checks; each sealed message
 *   names its key by a 1-byte key id (derived from the key), so the receiver tries the right one.
 * - MAC: `mac`/`verifyMac` (HMAC-SHA256 truncated to 16 bytes) for membership payloads.
 *
 * Keys are never used directly: encryption, MAC and key-id keys are derived from the 32-byte
 * cluster key with HKDF-SHA256 and distinct labels.
 */
import crypto from 'node:crypto'
import { readFileSync } from 'node:fs'
import { errors } from '../errors.js'
import { ReplayGuard } from './replay-guard.js'

export const KEY_LENGTH = 32
export const NONCE_LENGTH = 12
export const TAG_LENGTH = 16
export const MAC_LENGTH = 16
/** bytes a sealed message adds to its plaintext: nonce + tag */
export const SEAL_OVERHEAD = NONCE_LENGTH + TAG_LENGTH

const SALT = Buffer.from('nodecat cluster key v1', 'latin1')

interface DerivedKey {
  id: number
  aead: crypto.KeyObject
  mac: crypto.KeyObject
}

function derive (key: Buffer): DerivedKey {
  const part = (label: string, len: number) => Buffer.from(crypto.hkdfSync('sha256', key, SALT, label, len))
  return {
    id: part('key id', 1)[0]!,
    aead: crypto.createSecretKey(part('aes-256-gcm messages', 32)),
    mac: crypto.createSecretKey(part('hmac-sha256 membership', 32))
  }
}

/**
 * Read a cluster key: a Buffer of 32 bytes, or base64 text of 32 bytes. Throws
 * TRIBES_ERR_KEY_INVALID naming `name` otherwise.
 */
export function parseKey (value: string | Uint8Array, name = 'key'): Buffer {
  if (typeof value !== 'string') {
    if (value.length !== KEY_LENGTH) throw errors.keyInvalid(`${name} has ${value.length} bytes (must be ${KEY_LENGTH})`)
    return Buffer.from(value)
  }
  const text = value.trim()
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw errors.keyInvalid(`${name} is not base64`)
  const key = Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64')
  if (key.length !== KEY_LENGTH) throw errors.keyInvalid(`${name} decodes to ${key.length} bytes (must be ${KEY_LENGTH}; make one with: openssl rand -base64 32)`)
  return key
}

/** Read a key file: base64 text of 32 bytes, or exactly 32 raw bytes. */
export function readKeyFile (path: string, name = 'keyFile'): Buffer {
  let raw: Buffer
  try { raw = readFileSync(path) } catch (err) { throw errors.keyInvalid(`${name} ${JSON.stringify(path)} cannot be read: ${(err as Error).message}`) }
  if (raw.length === KEY_LENGTH && !/^[A-Za-z0-9+/=\s_-]+$/.test(raw.toString('latin1'))) return raw
  return parseKey(raw.toString('latin1'), `${name} ${JSON.stringify(path)}`)
}

/** A fresh random cluster key as base64 (for docs, tools and tests). */
export function generateKey (): string {
  return crypto.randomBytes(KEY_LENGTH).toString('base64')
}

export interface KeyringOptions {
  /** the current key: encrypts and MACs everything sent */
  key: Uint8Array | string
  /** older keys still accepted on receive, newest first */
  previousKeys?: ReadonlyArray<Uint8Array | string>
  /** accepted clock difference and replay memory, ms (default 60000) */
  replayWindow?: number
  /** sender id streams remembered for replay detection (default 1024) */
  replayStreams?: number
  /** clock, for tests */
  now?: () => number
}

export class Keyring {
  readonly #current: DerivedKey
  readonly #all: DerivedKey[]
  readonly #replay: ReplayGuard
  #noncePrefix = crypto.randomBytes(8)
  #nonceCounter = 0

  constructor (options: KeyringOptions) {
    this.#current = derive(parseKey(options.key, 'key'))
    this.#all = [this.#current, ...(options.previousKeys ?? []).map((k, i) => derive(parseKey(k, `previousKeys[${i}]`)))]
    this.#replay = new ReplayGuard({ window: options.replayWindow, maxStreams: options.replayStreams, now: options.now })
  }

  /** id byte of the current key, written before every sealed message */
  get keyId (): number { return this.#current.id }

  /** sender id streams remembered for replay detection (for stats and tests) */
  get replayStreams (): number { return this.#replay.streams }

  /**
   * Encrypt `plaintext` into `out` at `offset` as nonce ‖ ciphertext ‖ tag
   * (`plaintext.length + SEAL_OVERHEAD` bytes), authenticating `aad` too.
   */
  sealInto (aad: Uint8Array, plaintext: Uint8Array, out: Buffer, offset: number): void {
    if (this.#nonceCounter > 0xffffffff) { this.#noncePrefix = crypto.randomBytes(8); this.#nonceCounter = 0 }
    this.#noncePrefix.copy(out, offset)
    out.writeUInt32BE(this.#nonceCounter++, offset + 8)
    const nonce = out.subarray(offset, offset + NONCE_LENGTH)
    const cipher = crypto.createCipheriv('aes-256-gcm', this.#current.aead, nonce, { authTagLength: TAG_LENGTH })
    cipher.setAAD(aad)
    let o = offset + NONCE_LENGTH
    o += cipher.update(plaintext).copy(out, o)
    o += cipher.final().copy(out, o)
    cipher.getAuthTag().copy(out, o)
  }

  /** Encrypt to a new buffer (nonce ‖ ciphertext ‖ tag). */
  seal (aad: Uint8Array, plaintext: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(plaintext.length + SEAL_OVERHEAD)
    this.sealInto(aad, plaintext, out, 0)
    return out
  }

  /**
   * Decrypt nonce ‖ ciphertext ‖ tag sealed under the key named `keyId`. Throws TRIBES_ERR_DECRYPT
   * for an unknown key, a short input, or a failed tag (tampered bytes, tampered AAD, wrong key).
   */
  open (keyId: number, aad: Uint8Array, sealed: Uint8Array): Buffer {
    if (sealed.length < SEAL_OVERHEAD) throw errors.decrypt(`sealed message of ${sealed.length} bytes is shorter than ${SEAL_OVERHEAD}`)
    let tried = 0
    for (const k of this.#all) {
      if (k.id !== keyId) continue // why: two keys may share an id byte (1 in 256); try each
      tried++
      try {
        const decipher = crypto.createDecipheriv('aes-256-gcm', k.aead, sealed.subarray(0, NONCE_LENGTH), { authTagLength: TAG_LENGTH })
        decipher.setAAD(aad)
        decipher.setAuthTag(sealed.subarray(sealed.length - TAG_LENGTH))
        const head = decipher.update(sealed.subarray(NONCE_LENGTH, sealed.length - TAG_LENGTH))
        const tail = decipher.final()
        return tail.length === 0 ? head : Buffer.concat([head, tail])
      } catch { /* wrong key or tampered: try the next key with this id */ }
    }
    throw errors.decrypt(tried === 0 ? `unknown key id ${keyId}` : 'authentication tag mismatch')
  }

  /**
   * Reject a replay: call only after `open` succeeded (so the id and timestamp are authentic).
   * Throws TRIBES_ERR_REPLAY; otherwise remembers the id.
   */
  checkFresh (timestamp: number, uniqueId: Uint8Array): void {
    this.#replay.check(timestamp, uniqueId)
  }

  /** HMAC-SHA256 of `data` under the current key, truncated to 16 bytes. */
  mac (data: Uint8Array): Buffer {
    return crypto.createHmac('sha256', this.#current.mac).update(data).digest().subarray(0, MAC_LENGTH)
  }

  /** Constant-time check of a 16-byte tag against the current and previous keys. */
  verifyMac (data: Uint8Array, tag: Uint8Array): boolean {
    if (tag.length !== MAC_LENGTH) return false
    let ok = false
    for (const k of this.#all) {
      const expect = crypto.createHmac('sha256', k.mac).update(data).digest().subarray(0, MAC_LENGTH)
      if (crypto.timingSafeEqual(expect, tag)) ok = true
    }
    return ok
  }
}
