import type http from "node:http";
import net from "node:net";

/**
 * Closes an HTTP server without failing a request a client has sent.
 *
 * HTTP/1.1 gives a server no race-free way to close a keep-alive connection the client may reuse at
 * any moment: a request already on the wire meets a reset. Node's `server.close()` does exactly that to
 * every idle connection. So draining here (1) closes only the listener, so new connections are refused
 * rather than reset; (2) answers every request not yet answered, in flight or still to arrive on an open
 * connection, with `Connection: close`, so the client itself stops using that connection; and (3) leaves
 * connections that stay idle to the keep-alive timeout, which every response announced
 * (`Keep-Alive: timeout=N`) and which clients that honour it act on before the server does: past it, a
 * connection cannot be carrying a request the server would accept anyway.
 */
export class ConnectionDrain {
  private readonly unanswered = new Set<http.ServerResponse>();
  private draining = false;

  constructor(private readonly server: http.Server) {}

  /**
   * Registers a response before the app handles its request: once draining, it closes its connection.
   * @param response - the response of a request that has just arrived
   */
  admit(response: http.ServerResponse): void {
    if (this.draining) {
      response.shouldKeepAlive = false;
      return;
    }
    this.unanswered.add(response);
    response.once("close", () => this.unanswered.delete(response));
  }

  /**
   * Stops accepting connections, then marks every response whose headers are still to be written.
   * The listener goes first, so no client is told to reconnect while this server would still accept.
   * @returns resolves when the last connection has closed
   */
  drain(): Promise<void> {
    this.draining = true;
    // net.Server's close, not http.Server's: the latter also closes idle keep-alive connections at once.
    const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(this.server, () => resolve()));
    for (const response of this.unanswered) if (!response.headersSent) response.shouldKeepAlive = false;
    this.unanswered.clear();
    return closed;
  }

  /**
   * Closes every connection that is still open, answered or not (when the shutdown timeout has passed).
   * @returns how many there were
   */
  async closeAll(): Promise<number> {
    const open = await new Promise<number>((resolve) =>
      this.server.getConnections((error, count) => resolve(error ? 0 : count)),
    );
    this.server.closeAllConnections();
    return open;
  }
}
