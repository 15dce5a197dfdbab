/**
 * Attribute values are stored and replicated as msgpackr bytes. Every value is checked before it
 * is packed, so what a peer decodes is what the app stored: plain objects, arrays, Map, Set, Date,
 * strings, numbers, booleans, null/undefined, bigint, Uint8Array/Buffer. Functions, symbols,
 * class instances (their prototype would be lost on the peer), cycles and absurd nesting are
 * refused with WAS_ERR_ATTRIBUTE_NOT_SERIALIZABLE instead of being silently mangled.
 */
import { Packr } from 'msgpackr'
import { AttributeNotSerializableError } from './errors.js'

// why: records keep objects and Maps apart on decode; their definitions travel inline in each
// value (no shared structures), so any peer decodes any value without prior state.
const packr = new Packr({ mapsAsObjects: false, moreTypes: true, useRecords: true })

const MAX_DEPTH = 64

/** why `seen` may be null: a primitive (the common value) needs no cycle tracking, so no Set is made for it */
function check (value: unknown, path: string, seen: Set<object> | null, depth: number): string | null {
  switch (typeof value) {
    case 'string': case 'number': case 'boolean': case 'undefined': case 'bigint':
      return null
    case 'function': return `${path} is a function`
    case 'symbol': return `${path} is a symbol`
  }
  if (value === null) return null
  const obj = value as object
  if (depth > MAX_DEPTH) return `${path} is nested deeper than ${MAX_DEPTH} levels`
  if (obj instanceof Date || obj instanceof Uint8Array) return null
  if (seen === null) return check(value, path, new Set(), depth)
  if (seen.has(obj)) return `${path} is a cycle (the value refers to itself)`
  seen.add(obj)
  try {
    if (Array.isArray(obj)) {
      for (let i = 0; i < obj.length; i++) {
        const r = check(obj[i], `${path}[${i}]`, seen, depth + 1)
        if (r) return r
      }
      return null
    }
    if (obj instanceof Map) {
      for (const [k, v] of obj) {
        const rk = check(k, `${path} key`, seen, depth + 1)
        if (rk) return rk
        const r = check(v, `${path}.get(${String(k).slice(0, 20)})`, seen, depth + 1)
        if (r) return r
      }
      return null
    }
    if (obj instanceof Set) {
      for (const v of obj) {
        const r = check(v, `${path} member`, seen, depth + 1)
        if (r) return r
      }
      return null
    }
    const proto = Object.getPrototypeOf(obj)
    if (proto !== Object.prototype && proto !== null) {
      return `${path} is a ${proto?.constructor?.name ?? 'class'} instance (store plain data: objects, arrays, Map, Set, Date, Buffer)`
    }
    for (const key of Object.keys(obj)) {
      const r = check((obj as Record<string, unknown>)[key], `${path}.${key}`, seen, depth + 1)
      if (r) return r
    }
    return null
  } finally {
    seen.delete(obj)
  }
}

/** Encode one attribute value; throws WAS_ERR_ATTRIBUTE_NOT_SERIALIZABLE naming the bad part. */
export function encodeValue (name: string, value: unknown): Uint8Array {
  const problem = check(value, 'value', null, 0)
  if (problem) throw new AttributeNotSerializableError(name, problem)
  try {
    return packr.pack(value)
  } catch (err) {
    throw new AttributeNotSerializableError(name, (err as Error).message)
  }
}

/** Decode stored bytes; a value that does not decode (a forged peer message) yields undefined. */
export function decodeValue (bytes: Uint8Array): unknown {
  return packr.unpack(bytes)
}

export function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0
}
