/**
 * Every value of the session cookie in a Cookie header, the way mod_jk's get_cookie reads it: the
 * name (case-sensitive) at the start or after ';', ',' (old folded headers), a space or a tab;
 * optional blanks; '='; the value runs to the next ';' or ','. It is trimmed, and loses one pair
 * of surrounding double quotes. Several Cookie headers are read as one, joined by "; ".
 *
 * Hostile headers stay linear: the scan never goes back, and a value longer than any id (plus a
 * little room for blanks and quotes) is skipped without being copied.
 */

/** a value this much longer than the longest id cannot be one, even quoted and padded */
const PADDING = 8

function isSeparator (c: number): boolean {
  return c === 59 /* ; */ || c === 44 /* , */ || c === 32 || c === 9
}

/** Several Cookie headers as one (non-strings are dropped). */
export function cookieHeaderText (header: string | readonly string[] | undefined): string {
  if (header === undefined) return ''
  if (typeof header === 'string') return header
  return Array.isArray(header) ? header.filter((h) => typeof h === 'string').join('; ') : ''
}

/**
 * Calls `take` with each value of cookie `name`, in header order, duplicates included, until it
 * returns false. Values of more than `maxValueLength` characters, and empty ones, are skipped.
 */
export function eachCookieValue (header: string, name: string, maxValueLength: number, take: (value: string) => boolean): void {
  if (name === '') return
  let from = 0
  for (;;) {
    const i = header.indexOf(name, from)
    if (i < 0) return
    from = i + name.length
    if (i > 0 && !isSeparator(header.charCodeAt(i - 1))) continue
    let j = from
    while (j < header.length && (header.charCodeAt(j) === 32 || header.charCodeAt(j) === 9)) j++
    if (header.charCodeAt(j) !== 61 /* = */) continue
    let end = ++j
    while (end < header.length && header.charCodeAt(end) !== 59 && header.charCodeAt(end) !== 44) end++
    from = end
    if (end - j > maxValueLength + PADDING) continue
    let value = header.slice(j, end).trim()
    if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) value = value.slice(1, -1)
    if (value !== '' && value.length <= maxValueLength && !take(value)) return
  }
}
