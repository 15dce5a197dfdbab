/** Distinct free TCP ports on 127.0.0.1 (shared with the tests in @nodecat/testkit). */
export { freePorts } from '@nodecat/testkit'
