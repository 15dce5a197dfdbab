/**
 * What a log may say of a request's path: a session id is a credential (whoever has it is logged
 * in), so the session path parameter is removed in every spelling a client may use, whether or
 * not anyone reads that spelling as a session: ';' or '%3B', the name in any case or with any
 * letter percent-encoded, '=' or '%3D'; its value runs to the next ';', '/' (or their %-forms) or
 * the end. The query is dropped too.
 */
import { pathEnd } from './path-param.js'

const hex = (ch: string): string => '%' + ch.charCodeAt(0).toString(16).padStart(2, '0')

/** `text` as a pattern that also takes any of its characters percent-encoded, in either case (used with the i flag) */
function spelledAnyWay (text: string): string {
  let out = ''
  for (const ch of text) {
    const forms = new Set([ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), hex(ch.toLowerCase()), hex(ch.toUpperCase())])
    out += `(?:${[...forms].join('|')})`
  }
  return out
}

const redactors = new Map<string, RegExp>()

function redactor (pathParam: string): RegExp {
  let re = redactors.get(pathParam)
  if (re === undefined) {
    re = new RegExp(`(?:;|%3b)${spelledAnyWay(pathParam)}(?:=|%3d)(?:(?!%3b|%2f)[^;/])*`, 'gi')
    redactors.set(pathParam, re)
  }
  return re
}

/** The path with session path parameters removed, for logs (no session ids in logs). */
export function loggablePath (url: string, pathParam: string): string {
  const path = url.slice(0, pathEnd(url))
  if (!path.includes(';') && !path.includes('%')) return path
  return path.replace(redactor(pathParam), '')
}
