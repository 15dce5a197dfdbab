/**
 * The classic stack's software for bench:was (Tomcat 10, httpd, mod_jk from Debian): moved to
 * @nodecat/testkit (tomcat-install.ts), which test/ajp-tomcat.test.ts shares; re-exported here so
 * the bench's imports stay as they were.
 */
export { ensureClassicSoftware, classicInstalled, CATALINA_HOME, MOD_JK, STOCK_CONF_FILES, type ClassicSoftware } from '@nodecat/testkit'
