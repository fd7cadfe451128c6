// The transport between /mcp and the one long-lived MCP SDK Server of this process. The SDK
// Server does the protocol (initialize and version negotiation, ping, tools/list, tools/call,
// JSON-RPC errors); this class only carries messages. Every POST hands its messages over with
// fresh internal request ids, so requests from different clients that reuse the same
// JSON-RPC id (they all start at 0) can never meet: each answer is matched back to the HTTP
// request that asked and given the client's id again.
import {
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  type MessageExtraInfo,
  ProtocolErrorCode,
  type RequestId,
  type Transport,
} from '@modelcontextprotocol/server'
import { cancelledAnswer } from './direct.js'

/** Why a request is cancelled, as [message, JSON-RPC error code]: its deadline passed. */
export const DEADLINE_PASSED: [string, number] = [
  'The request took too long and was cancelled.',
  ProtocolErrorCode.InternalError,
]
/** Why a request is cancelled: the client closed the connection (nobody reads this answer). */
export const CLIENT_GONE: [string, number] = [
  'Request cancelled: the client closed the connection',
  // JSON-RPC's server-error range; the 2025 SDK named it ConnectionClosed.
  -32000,
]

type Waiting = { clientId: RequestId; settle: (answer: JSONRPCMessage) => void }

export class ExchangeTransport implements Transport {
  onmessage?: (message: JSONRPCMessage, extra?: MessageExtraInfo) => void
  onclose?: () => void
  onerror?: (error: Error) => void

  private nextId = 1
  private readonly waiting = new Map<number, Waiting>()

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.waiting.clear()
    this.onclose?.()
  }

  /** Called by the SDK Server with each answer; anything not answering a waiting request is dropped. */
  async send(message: JSONRPCMessage): Promise<void> {
    // The server's own messages: an answer has an id and a result or an error.
    if (!('id' in message) || !('result' in message || 'error' in message)) return
    const waiting = this.waiting.get(message.id as number)
    if (!waiting) return
    this.waiting.delete(message.id as number)
    waiting.settle({ ...message, id: waiting.clientId })
  }

  /** Requests still waiting for an answer (the tests read it). */
  get inFlight(): number {
    return this.waiting.size
  }

  /**
   * Hands one POST's requests to the server. `answers` resolves with their answers, in order;
   * `cancel()` (the client went away) tells the server to stop whatever is still running.
   * Whatever has no answer after `deadlineMs` is cancelled and answered with an error, so no
   * HTTP request can wait forever.
   */
  exchange(
    requests: JSONRPCRequest[],
    extra: MessageExtraInfo,
    deadlineMs: number,
  ): { answers: Promise<JSONRPCMessage[]>; cancel(): void } {
    const deliver = this.onmessage
    if (!deliver) throw new Error('the MCP server is not connected')
    const internalIds: number[] = []
    const answers = requests.map((request) => {
      const internalId = this.nextId
      this.nextId = internalId === Number.MAX_SAFE_INTEGER ? 1 : internalId + 1
      internalIds.push(internalId)
      return new Promise<JSONRPCMessage>((settle) => this.waiting.set(internalId, { clientId: request.id, settle }))
    })
    const stop = ([reason, code]: [string, number]) => {
      for (const id of internalIds) {
        const waiting = this.waiting.get(id)
        if (!waiting) continue
        this.waiting.delete(id)
        deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id, reason } }, extra)
        waiting.settle(cancelledAnswer(waiting.clientId, reason, code))
      }
    }
    const timer = setTimeout(() => stop(DEADLINE_PASSED), deadlineMs)
    for (const [i, request] of requests.entries()) deliver({ ...request, id: internalIds[i]! }, extra)
    return {
      answers: Promise.all(answers).finally(() => clearTimeout(timer)),
      // Nobody reads these answers; they only let the waiting promises end.
      cancel: () => stop(CLIENT_GONE),
    }
  }

  /** Notifications from the client: only those that refer to no earlier request are passed on. */
  notify(notifications: JSONRPCNotification[], extra: MessageExtraInfo): void {
    for (const n of notifications) {
      // A cancellation names a request id from another HTTP request (in stateless mode, maybe
      // on another instance); ids here are internal, so it is dropped. A client cancels by
      // closing its connection, which cancels that request's work.
      if (n.method === 'notifications/cancelled' || n.method === 'notifications/progress') continue
      this.onmessage?.(n, extra)
    }
  }
}
