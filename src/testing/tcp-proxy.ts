import net from "node:net";

/**
 * A TCP proxy on loopback that can go silent the way a network partition does: packets are dropped,
 * nobody is told. While silent it forwards nothing in either direction, closes nothing and resets
 * nothing, and accepts new connections without answering on them; what was held back (bytes and
 * closes) is delivered, in order, when it resumes, as TCP delivers once the path heals.
 */
export class SilenceableProxy {
  private silent = false;
  private readonly held: (() => void)[] = [];
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    private readonly target: { host: string; port: number },
  ) {
    server.on("connection", (client) => this.pair(client));
  }

  /**
   * Listens on a free loopback port.
   * @param target - where connections are forwarded
   */
  static async start(target: { host: string; port: number }): Promise<SilenceableProxy> {
    // Half-open sockets: a side that ends its writing is forwarded in order like its bytes, rather than
    // answered at once by Node's own end of the other direction, which would close what is held.
    const server = net.createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return new SilenceableProxy(server, target);
  }

  /** The loopback port clients connect to. */
  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Stops forwarding; connections stay open. */
  silence(): void {
    this.silent = true;
  }

  /** Delivers what was held back, then forwards again. */
  resume(): void {
    this.silent = false;
    for (const deliver of this.held.splice(0)) deliver();
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pair(client: net.Socket): void {
    const upstream = net.connect({ ...this.target, allowHalfOpen: true });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => this.sockets.delete(socket));
    }
    this.forward(client, upstream);
    this.forward(upstream, client);
  }

  private forward(from: net.Socket, to: net.Socket): void {
    const act = (action: () => void) => (this.silent ? this.held.push(action) : action());
    from.on("data", (chunk) => act(() => to.write(chunk)));
    from.on("end", () => act(() => to.end()));
    from.on("close", () => act(() => to.destroy()));
  }
}
