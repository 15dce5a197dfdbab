/** Free TCP ports on 127.0.0.1 for tests that must know a port before starting a server (shared with bench/ in @nodecat/testkit). */
export { freePort, freePorts } from '@nodecat/testkit'
