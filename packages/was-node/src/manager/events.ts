/**
 * Listener events of the session manager (Servlet's HttpSessionListener /
 * HttpSessionAttributeListener / HttpSessionIdListener). `replicated` says whether the change came
 * from a peer; those fire only with notifyListenersOnReplication (default true).
 */
export type DestroyReason = 'expired' | 'invalidated' | 'shutdown'

export interface SessionEvent { id: string, replicated: boolean }
export interface SessionDestroyedEvent extends SessionEvent { reason: DestroyReason }
export interface SessionIdChangedEvent { oldId: string, newId: string, replicated: boolean }
export interface AttributeEvent extends SessionEvent { name: string, value: unknown, oldValue: unknown }

export interface SessionManagerEvents {
  sessionCreated: [event: SessionEvent]
  sessionDestroyed: [event: SessionDestroyedEvent]
  sessionIdChanged: [event: SessionIdChangedEvent]
  /** value: the new value */
  attributeAdded: [event: AttributeEvent]
  /** value: the new value, oldValue: the one it replaced */
  attributeReplaced: [event: AttributeEvent]
  /** oldValue: the removed value (value is undefined) */
  attributeRemoved: [event: AttributeEvent]
}
