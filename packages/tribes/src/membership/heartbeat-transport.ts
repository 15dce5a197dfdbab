/**
 * How membership heartbeats travel. The MembershipService builds the member blob and decides
 * what it means; a HeartbeatTransport only carries blobs: UDP multicast (McastService) or, where
 * multicast is dropped, a static member list over TCP.
 */
export interface HeartbeatTransport {
  /**
   * Open the sockets and deliver every received blob to `onBlob`. `from` is the sender's address
   * as "host:port" (for logs and drop counters only; identity comes from the blob itself).
   */
  start (onBlob: (blob: Buffer, from: string) => void): Promise<void>
  /** Send one blob to the group (every static member, or the multicast group). Never throws for a peer that is down. */
  send (blob: Buffer): Promise<void>
  /** Close every socket; after this `onBlob` is not called again. */
  stop (): Promise<void>
}
