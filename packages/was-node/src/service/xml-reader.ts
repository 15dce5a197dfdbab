/**
 * A small, strict reader for the XML that Tomcat configuration files use: one root element,
 * elements with attributes, comments, CDATA, an optional XML declaration, the five predefined
 * entities and numeric character references. Everything else is refused with the line it is on:
 * DOCTYPE (and so entity definitions: no entity expansion, no external fetches), processing
 * instructions other than the declaration, unknown entities, unclosed or mismatched tags,
 * duplicate attributes, markup outside the root. Text content is checked and dropped: server.xml
 * carries everything in attributes.
 *
 * Why our own and not a dependency: none is installed, server.xml needs only this subset, and a
 * reader this small is easy to keep strict (and to fuzz) line by line.
 */

export interface XmlAttribute {
  name: string
  value: string
  /** 1-based line of the attribute's name */
  line: number
}

export interface XmlElement {
  name: string
  attributes: XmlAttribute[]
  children: XmlElement[]
  /** 1-based line of the start tag's `<` */
  line: number
}

/** how the reader reports a syntax error; it must throw */
export type XmlFail = (line: number, message: string) => never

/** most characters read (server.xml files are a few KiB) */
export const XML_MAX_CHARS = 4 * 1024 * 1024
/** deepest nesting read */
export const XML_MAX_DEPTH = 64

const NAME_START = /[A-Za-z_:]/
const NAME = /^[A-Za-z_:][-A-Za-z0-9_.:]*/
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: '\'' }

/** a code point XML 1.0 allows in a document */
function isXmlChar (cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
}

class Reader {
  readonly #text: string
  readonly #fail: XmlFail
  #pos = 0
  #line = 1

  constructor (text: string, fail: XmlFail) {
    this.#text = text
    this.#fail = fail
  }

  get line (): number { return this.#line }
  get done (): boolean { return this.#pos >= this.#text.length }

  fail (message: string, line = this.#line): never { return this.#fail(line, message) }

  startsWith (s: string): boolean { return this.#text.startsWith(s, this.#pos) }

  peek (): string { return this.#text[this.#pos] ?? '' }

  /** move on n characters, counting lines */
  skip (n: number): void {
    const end = Math.min(this.#pos + n, this.#text.length)
    for (let i = this.#pos; i < end; i++) if (this.#text.charCodeAt(i) === 10) this.#line++
    this.#pos = end
  }

  /** skip to just after `end`; the text before it is returned */
  until (end: string, what: string): string {
    const at = this.#text.indexOf(end, this.#pos)
    if (at < 0) this.fail(`${what} is not closed (no "${end}")`)
    const body = this.#text.slice(this.#pos, at)
    this.skip(at - this.#pos + end.length)
    return body
  }

  /** the text up to the next "<" (or the end), consumed */
  text (): string {
    const at = this.#text.indexOf('<', this.#pos)
    const end = at < 0 ? this.#text.length : at
    const body = this.#text.slice(this.#pos, end)
    this.skip(end - this.#pos)
    return body
  }

  whitespace (): boolean {
    const start = this.#pos
    while (/[ \t\r\n]/.test(this.peek())) this.skip(1)
    return this.#pos > start
  }

  name (what: string): string {
    const m = NAME.exec(this.#text.slice(this.#pos, this.#pos + 256))
    if (m === null) this.fail(`${what}: expected a name, found ${JSON.stringify(this.#text.slice(this.#pos, this.#pos + 12))}`)
    this.skip(m[0].length)
    return m[0]
  }

  expect (s: string, what: string): void {
    if (!this.startsWith(s)) this.fail(`${what}: expected "${s}", found ${JSON.stringify(this.#text.slice(this.#pos, this.#pos + 12) || 'the end of the file')}`)
    this.skip(s.length)
  }
}

/** Decode the entities and character references of attribute text (or check those of content). */
function decode (raw: string, reader: Reader, line: number, what: string): string {
  let out = ''
  let i = 0
  while (i < raw.length) {
    const amp = raw.indexOf('&', i)
    if (amp < 0) { out += raw.slice(i); break }
    out += raw.slice(i, amp)
    const semi = raw.indexOf(';', amp)
    const ref = semi < 0 ? '' : raw.slice(amp + 1, semi)
    if (semi < 0 || semi - amp > 12) reader.fail(`${what}: "&" must start an entity such as &amp; (write & as &amp;)`, line)
    let ch: string | undefined = PREDEFINED[ref]
    if (ch === undefined) {
      const m = /^#(?:x([0-9A-Fa-f]{1,6})|([0-9]{1,7}))$/.exec(ref)
      if (m === null) reader.fail(`${what}: unknown entity &${ref}; (only &amp; &lt; &gt; &quot; &apos; and &#N; are read)`, line)
      const cp = m[1] !== undefined ? parseInt(m[1], 16) : Number(m[2])
      if (!isXmlChar(cp)) reader.fail(`${what}: &${ref}; is not a character XML allows`, line)
      ch = String.fromCodePoint(cp)
    }
    out += ch
    i = semi + 1
  }
  return out
}

/** Reject characters XML does not allow (NUL and other controls, lone surrogates). */
function checkChars (text: string, fail: XmlFail): void {
  let line = 1
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 10) { line++; continue }
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) { i++; continue }
    }
    if (!isXmlChar(c) || (c >= 0xd800 && c <= 0xdfff)) fail(line, `character U+${c.toString(16).padStart(4, '0').toUpperCase()} is not allowed in XML`)
  }
}

function readAttributes (r: Reader, element: string): { attributes: XmlAttribute[], empty: boolean } {
  const attributes: XmlAttribute[] = []
  for (;;) {
    const spaced = r.whitespace()
    if (r.startsWith('/>')) { r.skip(2); return { attributes, empty: true } }
    if (r.startsWith('>')) { r.skip(1); return { attributes, empty: false } }
    if (r.done) r.fail(`<${element}> is not closed (the file ends inside its start tag)`)
    if (!spaced) r.fail(`<${element}>: expected whitespace, ">" or "/>" before ${JSON.stringify(r.peek())}`)
    const line = r.line
    const name = r.name(`<${element}>`)
    if (attributes.some((a) => a.name === name)) r.fail(`<${element}>: attribute ${name} is given twice`, line)
    r.whitespace()
    r.expect('=', `<${element} ${name}>`)
    r.whitespace()
    const quote = r.peek()
    if (quote !== '"' && quote !== '\'') r.fail(`<${element} ${name}>: the value must be in quotes`)
    r.skip(1)
    const raw = r.until(quote, `<${element} ${name}=${quote}...`)
    if (raw.includes('<')) r.fail(`<${element} ${name}>: "<" is not allowed in an attribute value (write &lt;)`, line)
    attributes.push({ name, value: decode(raw, r, line, `<${element} ${name}>`), line })
  }
}

/**
 * Read a whole document and return its root element. `fail` is called (and must throw) with the
 * 1-based line of the first problem.
 */
export function readXml (input: string, fail: XmlFail): XmlElement {
  if (input.length > XML_MAX_CHARS) fail(1, `the file is larger than ${XML_MAX_CHARS} characters`)
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input
  checkChars(text, fail)
  const r: Reader = new Reader(text, fail)
  if (r.startsWith('<?xml') && /[\s?]/.test(text[5] ?? '')) {
    const decl = r.until('?>', 'the XML declaration')
    if (!/^<\?xml\s+version\s*=\s*(["'])1\.[0-9]\1(\s+encoding\s*=\s*(["'])[A-Za-z][A-Za-z0-9._-]*\3)?(\s+standalone\s*=\s*(["'])(yes|no)\5)?\s*$/.test('<?xml' + decl.slice(5))) {
      r.fail('the XML declaration must be <?xml version="1.x" [encoding="..."] [standalone="yes|no"]?>', 1)
    }
    const enc = /encoding\s*=\s*["']([^"']+)/.exec(decl)?.[1]?.toLowerCase()
    if (enc !== undefined && enc !== 'utf-8' && enc !== 'utf8' && enc !== 'us-ascii' && enc !== 'ascii') r.fail(`the file must be UTF-8 (its declaration says ${enc})`, 1)
  }
  const stack: XmlElement[] = []
  let root: XmlElement | null = null
  while (!r.done) {
    if (r.startsWith('<!--')) {
      const line = r.line
      r.skip(4)
      const body = r.until('-->', 'a comment')
      if (body.includes('--') || body.endsWith('-')) r.fail('"--" is not allowed inside a comment', line)
      continue
    }
    if (r.startsWith('<![CDATA[')) {
      if (stack.length === 0) r.fail('CDATA outside the root element')
      r.skip(9)
      r.until(']]>', 'a CDATA section')
      continue
    }
    if (r.startsWith('<!')) {
      r.fail(r.startsWith('<!DOCTYPE') ? 'DOCTYPE is not read (no DTD or entity definitions: server.xml needs none)' : `${JSON.stringify(r.startsWith('<!ENTITY') ? '<!ENTITY' : '<!')} is not read (no DTD or entity definitions)`)
    }
    if (r.startsWith('<?')) r.fail('processing instructions are not read (only the <?xml ...?> declaration, at the very start)')
    if (r.startsWith('</')) {
      const line = r.line
      r.skip(2)
      const name = r.name('an end tag')
      r.whitespace()
      r.expect('>', `</${name}`)
      const open = stack.pop()
      if (open === undefined) r.fail(`</${name}> closes nothing`, line)
      if (open.name !== name) r.fail(`</${name}> closes <${open.name}> (opened on line ${open.line})`, line)
      continue
    }
    if (r.startsWith('<')) {
      const line = r.line
      r.skip(1)
      if (!NAME_START.test(r.peek())) r.fail('"<" must start a tag (write a literal < as &lt;)')
      const name = r.name('a start tag')
      if (stack.length === 0 && root !== null) r.fail(`<${name}>: a second root element (the document's root <${root.name}> ended)`, line)
      if (stack.length >= XML_MAX_DEPTH) r.fail(`<${name}>: elements nest deeper than ${XML_MAX_DEPTH}`, line)
      const { attributes, empty } = readAttributes(r, name)
      const element: XmlElement = { name, attributes, children: [], line }
      if (stack.length === 0) root = element
      else stack.at(-1)!.children.push(element)
      if (!empty) stack.push(element)
      continue
    }
    // text: whitespace outside the root, anything well formed inside it
    const line = r.line
    const body = r.text()
    if (stack.length === 0) {
      if (body.trim() !== '') r.fail(`text outside the root element: ${JSON.stringify(body.trim().slice(0, 20))}`, line)
    } else {
      if (body.includes(']]>')) r.fail('"]]>" is not allowed in text', line)
      decode(body, r, line, `text in <${stack.at(-1)!.name}>`)
    }
  }
  if (stack.length > 0) r.fail(`<${stack.at(-1)!.name}> (line ${stack.at(-1)!.line}) is not closed at the end of the file`)
  if (root === null) r.fail('no root element (the file holds no <Server>)')
  return root
}
