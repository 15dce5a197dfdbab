/**
 * A gzip'd ustar reader and writer of our own, just enough for app bundles. The reader never
 * touches the file system: it returns the regular files of the archive as (path, bytes) after
 * checking every name (no absolute path, no `..`, no backslash or NUL) and refusing every link
 * (symbolic or hard) and device entry, so a bundle cannot write outside its version directory
 * whatever the extractor does next. GNU long names (`L`) and pax `path` records are understood;
 * other pax/GNU records are skipped. Sizes are bounded: the gunzip output and the file count.
 */
import zlib from 'node:zlib'
import { deployErrors } from './errors.js'

export interface BundleFile { path: string, data: Buffer, mode: number }

export interface TarLimits {
  /** most bytes once unpacked (the tar stream) */
  maxUnpackedBytes: number
  /** most regular files */
  maxFiles: number
}

const BLOCK = 512

function field (block: Buffer, at: number, length: number): string {
  const end = block.indexOf(0, at)
  return block.toString('utf8', at, end < 0 || end > at + length ? at + length : end)
}

function octal (block: Buffer, at: number, length: number, what: string): number {
  const text = field(block, at, length).trim()
  if (text === '') return 0
  if (!/^[0-7]+$/.test(text)) throw deployErrors.badBundle(`tar header ${what} is not an octal number`)
  return parseInt(text, 8)
}

function checksumOk (block: Buffer): boolean {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += (i >= 148 && i < 156) ? 32 : block[i]!
  return sum === octal(block, 148, 8, 'checksum')
}

/** A bundle-relative path, or a coded refusal naming the entry. Directories end without a slash. */
export function safeEntryPath (raw: string): string {
  if (raw.includes('\0') || raw.includes('\\')) throw deployErrors.badBundle(`entry ${JSON.stringify(raw)} has a NUL or a backslash in its name`)
  if (raw.startsWith('/') || /^[A-Za-z]:/.test(raw)) throw deployErrors.badBundle(`entry ${JSON.stringify(raw)} is an absolute path`)
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.')
  if (parts.some((p) => p === '..')) throw deployErrors.badBundle(`entry ${JSON.stringify(raw)} climbs out of the bundle (..)`)
  return parts.join('/')
}

/** pax extended header records: "len key=value\n" */
function paxPath (data: Buffer): string | null {
  let at = 0
  let found: string | null = null
  while (at < data.length) {
    const space = data.indexOf(0x20, at)
    if (space < 0) break
    const len = Number(data.toString('latin1', at, space))
    if (!Number.isSafeInteger(len) || len <= 0 || at + len > data.length) throw deployErrors.badBundle('malformed pax header')
    const record = data.toString('utf8', space + 1, at + len - 1)
    const eq = record.indexOf('=')
    if (eq > 0 && record.slice(0, eq) === 'path') found = record.slice(eq + 1)
    at += len
  }
  return found
}

/** Unpack a .tgz (or a plain .tar) in memory; throws coded errors, never writes anything. */
export function readTarball (bytes: Buffer, limits: TarLimits): BundleFile[] {
  let tar: Buffer
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      tar = zlib.gunzipSync(bytes, { maxOutputLength: limits.maxUnpackedBytes })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) throw deployErrors.tooLarge('unpacked bundle', limits.maxUnpackedBytes)
      throw deployErrors.badBundle(`not a gzip stream: ${(err as Error).message}`)
    }
  } else {
    if (bytes.length > limits.maxUnpackedBytes) throw deployErrors.tooLarge('unpacked bundle', limits.maxUnpackedBytes)
    tar = bytes
  }
  const files = new Map<string, BundleFile>()
  let at = 0
  let longName: string | null = null
  while (at + BLOCK <= tar.length) {
    const header = tar.subarray(at, at + BLOCK)
    if (header.every((b) => b === 0)) break
    if (!checksumOk(header)) throw deployErrors.badBundle(`tar header at byte ${at} has a wrong checksum (not a tar file?)`)
    const size = octal(header, 124, 12, 'size')
    const type = String.fromCharCode(header[156]!)
    const dataAt = at + BLOCK
    if (dataAt + size > tar.length) throw deployErrors.badBundle('tar stream ends inside an entry')
    const data = tar.subarray(dataAt, dataAt + size)
    at = dataAt + Math.ceil(size / BLOCK) * BLOCK
    const magic = header.toString('latin1', 257, 262)
    const prefix = magic === 'ustar' ? field(header, 345, 155) : ''
    let name = longName ?? ((prefix !== '' ? prefix + '/' : '') + field(header, 0, 100))
    longName = null
    switch (type) {
      case 'L': longName = data.toString('utf8').replace(/\0+$/, ''); continue
      case 'x': { const p = paxPath(data); if (p !== null) longName = p; continue }
      case 'g': continue
      case '5': safeEntryPath(name); continue
      case '0': case '\0': case '7': {
        name = safeEntryPath(name)
        if (name === '') throw deployErrors.badBundle('a file entry has an empty name')
        if (!files.has(name) && files.size >= limits.maxFiles) throw deployErrors.tooLarge('file count of the bundle', limits.maxFiles)
        const mode = octal(header, 100, 8, 'mode') & 0o755
        files.set(name, { path: name, data: Buffer.from(data), mode })
        continue
      }
      case '1': case '2': throw deployErrors.badBundle(`entry ${JSON.stringify(name)} is a ${type === '2' ? 'symbolic' : 'hard'} link: bundles may hold only files and directories`)
      default: throw deployErrors.badBundle(`entry ${JSON.stringify(name)} has type ${JSON.stringify(type)}: bundles may hold only files and directories`)
    }
  }
  // a directory that is also a file's parent is fine; a file that is a parent of another is not
  for (const name of files.keys()) {
    const parts = name.split('/')
    for (let i = 1; i < parts.length; i++) if (files.has(parts.slice(0, i).join('/'))) throw deployErrors.badBundle(`entry ${JSON.stringify(name)} is inside the file ${JSON.stringify(parts.slice(0, i).join('/'))}`)
  }
  return [...files.values()].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
}

function header (name: string, size: number, mode: number, type: string): Buffer {
  const block = Buffer.alloc(BLOCK)
  const put = (text: string, at: number, length: number): void => { block.write(text, at, length, 'utf8') }
  const num = (n: number, at: number, length: number): void => put(n.toString(8).padStart(length - 1, '0'), at, length - 1)
  let base = name
  let prefix = ''
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155)
    prefix = cut > 0 ? name.slice(0, cut) : ''
    base = cut > 0 ? name.slice(cut + 1) : name
    if (Buffer.byteLength(base) > 100 || Buffer.byteLength(prefix) > 155) throw deployErrors.badBundle(`path ${JSON.stringify(name)} is too long for a ustar bundle`)
  }
  put(base, 0, 100)
  num(mode, 100, 8); num(0, 108, 8); num(0, 116, 8); num(size, 124, 12); num(0, 136, 12)
  block.write(type, 156, 1, 'latin1')
  put('ustar\0', 257, 6); put('00', 263, 2)
  put(prefix, 345, 155)
  block.fill(0x20, 148, 156)
  let sum = 0
  for (const b of block) sum += b
  put(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8)
  return block
}

/** A deterministic .tgz of the files (mtime 0, uid/gid 0): the same files give the same bytes. */
export function writeTarball (files: readonly BundleFile[]): Buffer {
  const parts: Buffer[] = []
  for (const f of [...files].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) {
    parts.push(header(safeEntryPath(f.path), f.data.length, f.mode & 0o755, '0'), f.data)
    const pad = (BLOCK - (f.data.length % BLOCK)) % BLOCK
    if (pad > 0) parts.push(Buffer.alloc(pad))
  }
  parts.push(Buffer.alloc(2 * BLOCK))
  return zlib.gzipSync(Buffer.concat(parts))
}
