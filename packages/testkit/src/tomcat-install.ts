/**
 * Apache Tomcat 10 from Debian, for the tests that run real Tomcats (test/ajp-tomcat.test.ts) and
 * for bench:was's classic stack: `tomcat10-common` and `libtomcat10-java` (catalina.sh, the server
 * and Jasper jars; a Java runtime comes as their dependency), and for the classic stack also Apache
 * httpd (`apache2-bin`) and mod_jk (`libapache2-mod-jk`). Installed with apt-get (after apt-get
 * update) when missing and we are root; otherwise reported as not available (a string saying why).
 *
 * Why `apache2-bin` and not `apache2`: apache2-bin is Debian's httpd binary and modules; `apache2`
 * adds only /etc/apache2 and the system service, which would start a daemon on port 80 of this
 * machine on install. bench:was writes its own httpd.conf and runs httpd itself, inside a namespace.
 *
 * Tomcat's stock conf/ files (web.xml with the default and JSP servlets, catalina.properties,
 * logging.properties, context.xml) live in Debian's `tomcat10` package (/usr/share/tomcat10/etc),
 * whose install would add a system service and user: when it is not installed, its .deb is fetched
 * with `apt-get download` and unpacked into the caller's scratch dir (dpkg-deb -x), never installed.
 */
import { existsSync, readdirSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { aptGet, aptInstall, isRoot, which } from './debian.js'

export const CATALINA_HOME = '/usr/share/tomcat10'
export const MOD_JK = '/usr/lib/apache2/modules/mod_jk.so'
const CATALINA_SH = `${CATALINA_HOME}/bin/catalina.sh`
const JASPER = `${CATALINA_HOME}/lib/jasper.jar`
const STOCK_CONF = `${CATALINA_HOME}/etc`
export const TOMCAT_PACKAGES = ['tomcat10-common', 'libtomcat10-java']
const CLASSIC_PACKAGES = [...TOMCAT_PACKAGES, 'apache2-bin', 'libapache2-mod-jk']
/** the stock conf files a CATALINA_BASE needs besides server.xml */
export const STOCK_CONF_FILES = ['web.xml', 'catalina.properties', 'logging.properties', 'context.xml']

export interface TomcatSoftware {
  catalinaHome: string
  /** the directory holding Tomcat's stock conf files */
  stockConf: string
  java: string
  /** "Apache Tomcat/10.1.60 …; OpenJDK …" (and Apache/mod_jk for the classic stack) */
  versions: string
  /** how it was obtained (installed before, installed now, conf unpacked from the .deb) */
  note: string
}

export interface ClassicSoftware extends TomcatSoftware {
  apache2: string
  modJk: string
}

function missing (withApache: boolean): string[] {
  const out: string[] = []
  if (!existsSync(CATALINA_SH) || !existsSync(JASPER)) out.push(...TOMCAT_PACKAGES)
  if (withApache && which('apache2') === null) out.push('apache2-bin')
  if (withApache && !existsSync(MOD_JK)) out.push('libapache2-mod-jk')
  if (which('java') === null && !out.includes('tomcat10-common')) out.push('tomcat10-common')
  return out
}

/** True when everything the classic stack needs is installed (nothing to apt-get). */
export function classicInstalled (): boolean {
  return missing(true).length === 0 && which('java') !== null
}

function firstLine (cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 })
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? 'unknown'
}

function tomcatVersions (java: string): string[] {
  const tomcat = firstLine(java, ['-cp', `${CATALINA_HOME}/lib/catalina.jar`, 'org.apache.catalina.util.ServerInfo'])
  return [tomcat.replace(/^Server version:\s*/, ''), firstLine(java, ['-version'])]
}

/** Install `packages` when `lacking` is not empty; returns a note, or a string[] with why not. */
function install (lacking: string[], packages: string[], log: (s: string) => void, allowed: boolean, withApache: boolean): { note: string } | { why: string } {
  if (lacking.length === 0) return { note: 'installed before' }
  if (!allowed) return { why: `not installed (${lacking.join(', ')}) and installing is off` }
  const why = aptInstall(packages, log)
  if (why !== null) return { why: `not installed (${lacking.join(', ')}): ${why}` }
  const still = missing(withApache)
  if (still.length > 0) return { why: `still missing after apt-get install: ${still.join(', ')}` }
  return { note: `installed now from Debian (${packages.join(', ')})` }
}

/** Tomcat's stock conf dir: the tomcat10 package's, or its .deb unpacked into `scratch`. */
function stockConf (scratch: string, allowed: boolean): { dir: string, note: string } | { why: string } {
  if (STOCK_CONF_FILES.every((f) => existsSync(path.join(STOCK_CONF, f)))) return { dir: STOCK_CONF, note: '' }
  if (!isRoot() && !allowed) return { why: `Tomcat's stock conf (${STOCK_CONF}) is missing` }
  // why: apt-get download writes into the current directory; as root it warns that _apt cannot read it, harmlessly
  const d = aptGet(['download', '-qq', 'tomcat10'], { cwd: scratch, timeoutMs: 300_000 })
  const deb = readdirSync(scratch).find((f) => /^tomcat10_.*\.deb$/.test(f))
  if (d.status !== 0 || deb === undefined) return { why: `Tomcat's stock conf: apt-get download tomcat10 failed: ${`${d.stderr ?? ''}`.trim().split('\n').slice(-2).join(' ')}` }
  const unpacked = path.join(scratch, 'tomcat10-deb')
  const x = spawnSync('dpkg-deb', ['-x', path.join(scratch, deb), unpacked], { encoding: 'utf8', timeout: 60_000 })
  const dir = path.join(unpacked, 'usr', 'share', 'tomcat10', 'etc')
  if (x.status !== 0 || !STOCK_CONF_FILES.every((f) => existsSync(path.join(dir, f)))) return { why: `Tomcat's stock conf: unpacking ${deb} failed: ${`${x.stderr ?? ''}`.trim()}` }
  return { dir, note: `; stock conf/ from ${deb} (unpacked, not installed)` }
}

/**
 * Find (or install, as root) Tomcat 10 alone. `scratch` is a temp dir for the stock conf when the
 * `tomcat10` package is not installed. `allowInstall` false: never call apt-get.
 * Returns the software, or a string saying why it is not available.
 */
export function ensureTomcat (scratch: string, log: (s: string) => void, allowInstall = true): TomcatSoftware | string {
  const got = install(missing(false), TOMCAT_PACKAGES, log, allowInstall, false)
  if ('why' in got) return got.why
  const java = which('java')
  if (java === null) return 'java not found after install'
  const conf = stockConf(scratch, allowInstall)
  if ('why' in conf) return conf.why
  return { catalinaHome: CATALINA_HOME, stockConf: conf.dir, java, versions: tomcatVersions(java).join('; '), note: got.note + conf.note }
}

/** The classic stack (Tomcat 10, httpd, mod_jk), as ensureTomcat finds or installs Tomcat. */
export function ensureClassicSoftware (scratch: string, log: (s: string) => void, allowInstall = true): ClassicSoftware | string {
  const got = install(missing(true), CLASSIC_PACKAGES, log, allowInstall, true)
  if ('why' in got) return got.why
  const apache2 = which('apache2')
  const java = which('java')
  if (apache2 === null || java === null) return 'apache2 or java not found after install'
  const conf = stockConf(scratch, allowInstall)
  if ('why' in conf) return conf.why
  // eslint-disable-next-line no-template-curly-in-string -- dpkg-query's own field syntax
  const jk = firstLine('dpkg-query', ['-W', '-f', 'mod_jk ${Version}', 'libapache2-mod-jk'])
  const versions = [...tomcatVersions(java), firstLine(apache2, ['-v']).replace(/^Server version:\s*/, ''), jk].join('; ')
  return { catalinaHome: CATALINA_HOME, stockConf: conf.dir, apache2, modJk: MOD_JK, java, versions, note: got.note + conf.note }
}
