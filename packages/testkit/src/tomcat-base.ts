/**
 * One Tomcat instance's CATALINA_BASE and how to run it: conf/ (the given server.xml and Tomcat's
 * stock web.xml and friends), logs/, temp/, work/, webapps/ROOT (a copy of the given webapp), and
 * the environment for `catalina.sh run` (in the foreground: it execs java, so the PID the caller
 * holds is the JVM's, stopped by that PID).
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { STOCK_CONF_FILES, type TomcatSoftware } from './tomcat-install.js'

/** Write a CATALINA_BASE at `base` (created, with `extraDirs` too); returns `base`. */
export function writeCatalinaBase (base: string, sw: Pick<TomcatSoftware, 'stockConf'>, serverXml: string, webapp: string, extraDirs: string[] = []): string {
  for (const d of ['conf', 'logs', 'temp', 'work', 'webapps', ...extraDirs]) mkdirSync(path.join(base, d), { recursive: true })
  for (const f of STOCK_CONF_FILES) cpSync(path.join(sw.stockConf, f), path.join(base, 'conf', f))
  writeFileSync(path.join(base, 'conf', 'server.xml'), serverXml)
  cpSync(webapp, path.join(base, 'webapps', 'ROOT'), { recursive: true })
  return base
}

/** `catalina.sh run` for this base: [command, args] and the environment (Debian's default JAVA_OPTS, JVM default heap and GC). */
export function catalinaRun (sw: Pick<TomcatSoftware, 'catalinaHome'>, base: string): { command: string, args: string[], env: NodeJS.ProcessEnv } {
  return {
    command: path.join(sw.catalinaHome, 'bin', 'catalina.sh'),
    args: ['run'],
    env: { ...process.env, CATALINA_HOME: sw.catalinaHome, CATALINA_BASE: base, CATALINA_TMPDIR: path.join(base, 'temp'), JAVA_OPTS: '-Djava.awt.headless=true', CATALINA_OPTS: '' }
  }
}
