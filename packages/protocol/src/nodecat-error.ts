/**
 * The one base of every coded error nodecat throws: tribes (TRIBES_ERR_*), was-node (WAS_ERR_*)
 * and the balancer (LB_ERR_*) each extend it with their own `code` union, listed in the package's
 * errors.ts and explained in docs/ERRORS.md. It lives here because every package depends on this
 * one; tribes re-exports it.
 */
export interface NodecatErrorOptions {
  cause?: unknown
  /** the HTTP status this error becomes when it reaches a client (leave it out when it never can) */
  statusCode?: number
}

export class NodecatError<Code extends string = string> extends Error {
  /** stable, documented in docs/ERRORS.md, never reused for another meaning */
  readonly code: Code
  /** set only for errors that can reach an HTTP client */
  declare readonly statusCode?: number
  constructor (code: Code, message: string, options?: NodecatErrorOptions) {
    super(message, options)
    this.name = 'NodecatError'
    this.code = code
    if (options?.statusCode !== undefined) this.statusCode = options.statusCode
  }
}
