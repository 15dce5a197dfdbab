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
 *   A key file may hold several keys, one per line, the current one first; a keyring made from a
 *   key file re-reads it (at most every `reloadInterval` ms, on use) so a running cluster moves to
 *   a new key without a restart (see SECURITY.md, "Rotating the cluster key").
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

/** The keys of a key file: `key` seals and MACs, `previousKeys` are still accepted. */
export interface KeySet {
  key: Buffer
  previousKeys: Buffer[]
}

function readRaw (path: string, name: string): Buffer {
  try { return readFileSync(path) } catch (err) { throw errors.keyInvalid(`${name} ${JSON.stringify(path)} cannot be read: ${(err as Error).message}`) }
}

/**
 * Read the keys of key-file bytes: exactly 32 raw bytes, or text with one base64 key per line,
 * the current key first and then the previous keys still accepted (newest first). Blank lines and
 * lines starting with '#' are skipped. Throws TRIBES_ERR_KEY_INVALID naming `name` and the line.
 */
export function parseKeyFileContent (raw: Buffer, name = 'keyFile'): KeySet {
  if (raw.length === KEY_LENGTH && !/^[A-Za-z0-9+/=\s_-]+$/.test(raw.toString('latin1'))) return { key: Buffer.from(raw), previousKeys: [] }
  const keys: Buffer[] = []
  const lines = raw.toString('latin1').split(/\r?\n/)
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '' || line.startsWith('#')) continue
    keys.push(parseKey(line, lines.length > 1 ? `${name} line ${i + 1}` : name))
  }
  if (keys.length === 0) throw errors.keyInvalid(`${name} holds no key (make one with: nodecat-tribes keygen)`)
  return { key: keys[0]!, previousKeys: keys.slice(1) }
}

/** Read all keys of a key file (see parseKeyFileContent). */
export function readKeyFileSet (path: string, name = 'keyFile'): KeySet {
  return parseKeyFileContent(readRaw(path, name), `${name} ${JSON.stringify(path)}`)
}

/** Read the current key of a key file: base64 text (its first key line), or exactly 32 raw bytes. */
export function readKeyFile (path: string, name = 'keyFile'): Buffer {
  return readKeyFileSet(path, name).key
}

/** A fresh random cluster key as base64 (for docs, tools and tests). */
export function generateKey (): string {
  return crypto.randomBytes(KEY_LENGTH).toString('base64')
}

/** What a key-file reload did: new keys in use, or why the file was not used (old keys kept). */
export type KeyReload =
  | { ok: true, keyId: number, previousKeys: number }
  | { ok: false, error: Error }

export interface KeyringOptions {
  /** the current key: encrypts and MACs everything sent (unless keyFile is given) */
  key?: Uint8Array | string
  /** read the keys from this file (current first, then previous), and re-read it when it changes */
  keyFile?: string
  /** ms between checks of keyFile for changes, made on use (default 1000; 0: never re-read) */
  reloadInterval?: number
  /** told about each change of keyFile's contents (new keys in use, or the error that kept the old ones) */
  onReload?: (event: KeyReload) => void
  /** older keys still accepted on receive, newest first (after those of keyFile) */
  previousKeys?: ReadonlyArray<Uint8Array | string>
  /** accepted clock difference and replay memory, ms (default 60000) */
  replayWindow?: number
  /** sender id streams remembered for replay detection (default 1024) */
  replayStreams?: number
  /** clock, for tests */
  now?: () => number
}

export class Keyring {
  #current: DerivedKey
  #all: DerivedKey[]
  readonly #extra: DerivedKey[]
  readonly #replay: ReplayGuard
  readonly #file: { path: string, interval: number, onReload: ((event: KeyReload) => void) | undefined } | undefined
  #fileBytes: Buffer | undefined
  #nextCheck = 0
  #noncePrefix = crypto.randomBytes(8)
  #nonceCounter = 0

  constructor (options: KeyringOptions) {
    this.#extra = (options.previousKeys ?? []).map((k, i) => derive(parseKey(k, `previousKeys[${i}]`)))
    if (options.keyFile !== undefined) {
      const interval = options.reloadInterval ?? 1000
      if (!Number.isSafeInteger(interval) || interval < 0) throw errors.keyInvalid(`reloadInterval must be a non-negative integer of ms, got ${String(interval)}`)
      this.#file = { path: options.keyFile, interval, onReload: options.onReload }
      this.#fileBytes = readRaw(options.keyFile, 'keyFile')
      const set = parseKeyFileContent(this.#fileBytes, `keyFile ${JSON.stringify(options.keyFile)}`)
      this.#current = derive(set.key)
      this.#all = this.#accepted(set)
      this.#nextCheck = performance.now() + interval
    } else {
      if (options.key === undefined) throw errors.keyInvalid('a keyring needs key or keyFile')
      this.#current = derive(parseKey(options.key, 'key'))
      this.#all = [this.#current, ...this.#extra]
    }
    this.#replay = new ReplayGuard({ window: options.replayWindow, maxStreams: options.replayStreams, now: options.now })
  }

  /** id byte of the current key, written before every sealed message */
  get keyId (): number { this.#maybeReload(); return this.#current.id }

  /** keys accepted besides the current one */
  get previousKeyCount (): number { return this.#all.length - 1 }

  /**
   * Re-read keyFile now; new keys are used at once when its contents changed. A file that cannot
   * be read or holds a bad key keeps the keys in use (reported once through onReload). Returns
   * true when the keys changed. A keyring without keyFile never changes.
   */
  reload (): boolean {
    const f = this.#file
    if (f === undefined) return false
    this.#nextCheck = performance.now() + f.interval
    let raw: Buffer
    try {
      raw = readRaw(f.path, 'keyFile')
    } catch (err) {
      // why: a missing file must not stop the cluster: keep the keys, report it once
      if (this.#fileBytes === undefined) return false
      this.#fileBytes = undefined
      f.onReload?.({ ok: false, error: err as Error })
      return false
    }
    if (this.#fileBytes !== undefined && raw.equals(this.#fileBytes)) return false
    this.#fileBytes = raw
    let set: KeySet
    try {
      set = parseKeyFileContent(raw, `keyFile ${JSON.stringify(f.path)}`)
    } catch (err) {
      // why: a half-written or wrong file keeps the keys in use; reported once per content
      f.onReload?.({ ok: false, error: err as Error })
      return false
    }
    this.#current = derive(set.key)
    this.#all = this.#accepted(set)
    f.onReload?.({ ok: true, keyId: this.#current.id, previousKeys: this.#all.length - 1 })
    return true
  }

  /** every key accepted on receive: the current one, the file's previous ones, then the option's */
  #accepted (set: KeySet): DerivedKey[] {
    return [this.#current, ...set.previousKeys.map(derive), ...this.#extra]
  }

  #maybeReload (): void {
    const f = this.#file
    if (f === undefined || f.interval === 0 || performance.now() < this.#nextCheck) return
    this.reload()
  }

  /** sender id streams remembered for replay detection (for stats and tests) */
  get replayStreams (): number { return this.#replay.streams }

  /**
   * Encrypt `plaintext` into `out` at `offset` as nonce ‖ ciphertext ‖ tag
   * (`plaintext.length + SEAL_OVERHEAD` bytes), authenticating `aad` too.
   */
  sealInto (aad: Uint8Array, plaintext: Uint8Array, out: Buffer, offset: number): void {
    // why: no reload here: the caller wrote `keyId` (which reloads) just before, and they must match
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

  /**
   * Encrypt a plaintext given in parts, without joining them first: writes the nonce into `out`
   * at `offset` (NONCE_LENGTH bytes) and returns a sealer whose `update(part)` gives the
   * ciphertext of each part (a new buffer, written as is to the socket) and whose `final(tagOut,
   * tagOffset)` writes the tag. The result is byte for byte what {@link sealInto} makes of the
   * joined parts (nonce ‖ ciphertext ‖ tag), so {@link open} reads it. `aad` is read at once.
   */
  sealStream (aad: Uint8Array, out: Buffer, offset: number): { update: (part: Uint8Array) => Buffer, final: (tagOut: Buffer, tagOffset: number) => void } {
    if (this.#nonceCounter > 0xffffffff) { this.#noncePrefix = crypto.randomBytes(8); this.#nonceCounter = 0 }
    this.#noncePrefix.copy(out, offset)
    out.writeUInt32BE(this.#nonceCounter++, offset + 8)
    const cipher = crypto.createCipheriv('aes-256-gcm', this.#current.aead, out.subarray(offset, offset + NONCE_LENGTH), { authTagLength: TAG_LENGTH })
    cipher.setAAD(aad)
    return {
      update: (part) => cipher.update(part),
      final: (tagOut, tagOffset) => {
        // why: GCM is a stream mode, final() emits nothing; checked so a change of mode cannot lose bytes
        if (cipher.final().length !== 0) throw new Error('aes-256-gcm final() returned bytes')
        cipher.getAuthTag().copy(tagOut, tagOffset)
      }
    }
  }

  /** Encrypt to a new buffer (nonce ‖ ciphertext ‖ tag). */
  seal (aad: Uint8Array, plaintext: Uint8Array): Buffer {
    this.#maybeReload()
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
    this.#maybeReload()
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
    this.#maybeReload()
    return crypto.createHmac('sha256', this.#current.mac).update(data).digest().subarray(0, MAC_LENGTH)
  }

  /** Constant-time check of a 16-byte tag against the current and previous keys. */
  verifyMac (data: Uint8Array, tag: Uint8Array): boolean {
    if (tag.length !== MAC_LENGTH) return false
    this.#maybeReload()
    let ok = false
    for (const k of this.#all) {
      const expect = crypto.createHmac('sha256', k.mac).update(data).digest().subarray(0, MAC_LENGTH)
      if (crypto.timingSafeEqual(expect, tag)) ok = true
    }
    return ok
  }
}
