/** Coded errors of cluster deploy (WAS_ERR_DEPLOY_*): the bundle, its upload and its rollout. */
import { WasError } from '../errors.js'

export const deployErrors = {
  /** no cluster key: a bundle is code, an unauthenticated deploy would run anyone's code */
  noKey: (where: string) =>
    new WasError('WAS_ERR_DEPLOY_NO_KEY', `${where} has no cluster key: deploy needs one (--key-file or --key), because a bundle is code and an unauthenticated deploy would run anyone's code on every member`, { statusCode: 403 }),
  /** the request's MAC, time or nonce did not check */
  auth: (why: string) =>
    new WasError('WAS_ERR_DEPLOY_AUTH', `deploy request refused: ${why}`, { statusCode: 401 }),
  tooLarge: (what: string, limit: number) =>
    new WasError('WAS_ERR_DEPLOY_TOO_LARGE', `the ${what} is over its limit of ${limit}`, { statusCode: 413 }),
  badBundle: (why: string) =>
    new WasError('WAS_ERR_DEPLOY_BAD_BUNDLE', `the bundle is refused: ${why}`, { statusCode: 400 }),
  busy: (what: string) =>
    new WasError('WAS_ERR_DEPLOY_BUSY', `a ${what} is already running on this member; wait for it to end`, { statusCode: 409 }),
  noVersion: (why: string) =>
    new WasError('WAS_ERR_DEPLOY_NO_VERSION', why, { statusCode: 409 }),
  /** the new version did not load (or a member did not answer) on a member: the rollout stopped there */
  failed: (member: string, version: string, cause: string) =>
    new WasError('WAS_ERR_DEPLOY_FAILED', `version ${version} failed on member ${member}: ${cause}; the rollout stopped there and the previous version serves everywhere`, { statusCode: 502 }),
  /** a member did not answer a deploy message in time */
  timeout: (member: string, what: string, ms: number) =>
    new WasError('WAS_ERR_DEPLOY_TIMEOUT', `member ${member} did not answer ${what} within ${ms} ms`, { statusCode: 504 })
} as const
