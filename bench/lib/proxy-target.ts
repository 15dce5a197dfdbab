/** What the balancer benchmark needs to know about a running reverse proxy (or the direct path). */
export interface Backend {
  route: string
  port: number
  pid: number
  /** a backend elsewhere (--targets): its base URL; default http://127.0.0.1:<port> */
  url?: string
}

export interface ProxyTarget {
  name: string
  /** URL the load generator hits */
  url: string
  /** processes whose CPU time is charged to the proxy (empty for direct) */
  pids: number[]
  /** program and version, for the report */
  version: string
}
