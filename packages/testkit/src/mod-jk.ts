/**
 * Apache httpd + mod_jk as a test's front end (test/ajp-mod-jk.test.ts): Debian's `apache2-bin`
 * (the httpd binary and modules, without the `apache2` package's system service, which would start
 * a daemon on port 80 on install) and `libapache2-mod-jk`, installed with apt-get when missing and
 * we are root. httpd runs with a configuration the caller's temp dir holds (its own ServerRoot,
 * PidFile, logs, mod_jk shm), listening on 127.0.0.1 only, in the foreground as ONE process
 * (`apache2 -X`), so stopping its PID stops all of it.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import net from 'node:net'
import { aptInstall, which } from './debian.js'
import { spawnWatched, type WatchedProcess } from './watched-process.js'
import { waitUntil } from './wait.js'

export const MOD_JK_SO = '/usr/lib/apache2/modules/mod_jk.so'
export const APACHE_MODULES = '/usr/lib/apache2/modules'
export const MOD_JK_PACKAGES = ['apache2-bin', 'libapache2-mod-jk']

export interface ModJkSoftware {
  apache2: string
  modJk: string
  /** "Apache/2.4.x (Debian); mod_jk 1:1.2.x" */
  versions: string
  note: string
}

function firstLine (cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 })
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? 'unknown'
}

/** httpd and mod_jk, installed now when missing (as root); or a string saying why they are not available. */
export function ensureModJk (log: (s: string) => void, allowInstall = true): ModJkSoftware | string {
  const lacking = (): string[] => [...(which('apache2') === null ? ['apache2-bin'] : []), ...(existsSync(MOD_JK_SO) ? [] : ['libapache2-mod-jk'])]
  let note = 'installed before'
  if (lacking().length > 0) {
    const missing = lacking().join(', ')
    if (!allowInstall) return `not installed (${missing}) and installing is off`
    const why = aptInstall(MOD_JK_PACKAGES, log)
    if (why !== null) return `not installed (${missing}): ${why}`
    if (lacking().length > 0) return `still missing after apt-get install: ${lacking().join(', ')}`
    note = `installed now from Debian (${MOD_JK_PACKAGES.join(', ')})`
  }
  const apache2 = which('apache2')!
  // eslint-disable-next-line no-template-curly-in-string -- dpkg-query's own field syntax
  const jk = firstLine('dpkg-query', ['-W', '-f', 'mod_jk ${Version}', 'libapache2-mod-jk'])
  return { apache2, modJk: MOD_JK_SO, versions: `${firstLine(apache2, ['-v']).replace(/^Server version:\s*/, '')}; ${jk}`, note }
}

export interface ModJkFrontOptions {
  /** a directory of the caller's (made readable for httpd's www-data user) */
  dir: string
  /** the port httpd listens on, on 127.0.0.1 */
  port: number
  /** workers.properties text */
  workers: string
  /** JkMount lines' targets: path pattern → worker (default `/*` → the first worker.list entry) */
  mounts?: Array<[string, string]>
  jkLogLevel?: 'error' | 'warn' | 'info' | 'debug' | 'trace'
  /** more httpd.conf lines (e.g. mod_proxy's LoadModule and ProxyPass, for an HTTP front to compare with) */
  extraConfig?: string[]
}

export interface ModJkFront {
  url: string
  proc: WatchedProcess
  dir: string
  /** mod_jk's log so far */
  jkLog: () => string
  /** httpd's error log so far */
  errorLog: () => string
  stop: () => Promise<void>
}

/** Write httpd.conf and workers.properties into `dir`, start `apache2 -X`, wait until it accepts connections. */
export async function startModJkFront (sw: ModJkSoftware, o: ModJkFrontOptions, timeoutMs = 30_000): Promise<ModJkFront> {
  // why: httpd's threads run as www-data and must reach the mod_jk shm and logs in the temp dir
  chmodSync(o.dir, 0o755)
  const workersFile = path.join(o.dir, 'workers.properties')
  writeFileSync(workersFile, o.workers)
  const list = /^worker\.list\s*=\s*([^,\s]+)/m.exec(o.workers)?.[1] ?? 'lb'
  const mounts = o.mounts ?? [['/*', list]]
  const conf = path.join(o.dir, 'httpd.conf')
  writeFileSync(conf, [
    `ServerRoot "${o.dir}"`,
    'ServerName modjk.test.invalid',
    `Listen 127.0.0.1:${o.port}`,
    `PidFile "${o.dir}/httpd.pid"`,
    `ErrorLog "${o.dir}/error.log"`,
    'LogLevel warn',
    'User www-data',
    'Group www-data',
    `DefaultRuntimeDir "${o.dir}"`,
    `Mutex file:${o.dir} default`,
    `LoadModule mpm_event_module ${APACHE_MODULES}/mod_mpm_event.so`,
    `LoadModule authz_core_module ${APACHE_MODULES}/mod_authz_core.so`,
    `LoadModule jk_module ${sw.modJk}`,
    'KeepAlive On',
    'Timeout 60',
    '<Directory />',
    '  AllowOverride None',
    '  Require all denied',
    '</Directory>',
    `JkWorkersFile "${workersFile}"`,
    `JkShmFile "${o.dir}/jk-runtime-status"`,
    `JkLogFile "${o.dir}/mod_jk.log"`,
    `JkLogLevel ${o.jkLogLevel ?? 'info'}`,
    ...mounts.map(([p, w]) => `JkMount ${p} ${w}`),
    ...(o.extraConfig ?? []),
    ''
  ].join('\n'))
  const read = (f: string) => (): string => { try { return readFileSync(path.join(o.dir, f), 'utf8') } catch { return '' } }
  const errorLog = read('error.log')
  const proc = spawnWatched(sw.apache2, ['-X', '-f', conf], { label: 'apache2 -X (httpd + mod_jk)', env: { ...process.env, APACHE_LOG_DIR: o.dir } })
  const front: ModJkFront = { url: `http://127.0.0.1:${o.port}`, proc, dir: o.dir, jkLog: read('mod_jk.log'), errorLog, stop: async () => await proc.stop(5000) }
  try {
    await waitUntil('apache2 accepts connections', async () => {
      if (!proc.running()) throw new Error(`apache2 exited: ${`${proc.stderr()} ${errorLog()}`.slice(-600)}`)
      return await new Promise<boolean>((resolve) => {
        const s = net.connect(o.port, '127.0.0.1')
        s.once('connect', () => { s.destroy(); resolve(true) })
        s.once('error', () => resolve(false))
      })
    }, { timeoutMs, everyMs: 100 })
  } catch (err) {
    await proc.stop(2000)
    throw err
  }
  return front
}
