import type net from "node:net";
import { AppError } from "../errors/index.js";
import type { Logger } from "../logging/logger.js";
import type { AppMiddleware } from "./context.js";

/** What a client refused for holding too much is told to wait. */
const RETRY_AFTER_SECONDS = 5;

/**
 * Counts what each client address holds open in this process (connections, or requests in flight) and
 * refuses one more past `max`. A refusal is logged once per address until it holds less again, so a
 * flood does not flood the log too.
 */
export class AddressLimit {
  private readonly open = new Map<string, number>();
  private readonly refusing = new Set<string>();

  /**
   * @param max - how many one address may hold
   * @param what - what is counted, for the log
   * @param logger - receives the first refusal of each address
   */
  constructor(
    readonly max: number,
    private readonly what: string,
    private readonly logger: Logger,
  ) {}

  /** @returns whether the address may open one more (then counted until `close`) */
  tryOpen(address: string): boolean {
    const count = this.open.get(address) ?? 0;
    if (count >= this.max) {
      if (!this.refusing.has(address)) {
        this.refusing.add(address);
        this.logger.warn({ address, limit: this.max }, `refusing ${this.what} from an address over its limit`);
      }
      return false;
    }
    this.open.set(address, count + 1);
    return true;
  }

  /** Counts one of the address's off again. */
  close(address: string): void {
    const count = (this.open.get(address) ?? 0) - 1;
    if (count > 0) this.open.set(address, count);
    else this.open.delete(address);
    this.refusing.delete(address);
  }

  /** @returns how many the address holds now */
  count(address: string): number {
    return this.open.get(address) ?? 0;
  }
}

/**
 * Limits the TCP connections one client address holds to the server: one past the limit is destroyed as
 * it is accepted, before a byte of it is read (answering would mean reading its request first, which is
 * what the limit is there to spare). Only without a proxy in front: behind one, every socket is the
 * proxy's (see `limitRequestsPerAddress`).
 * @param server - the HTTP server, before it listens
 * @param max - connections per address
 * @param logger - receives the first refusal of each address
 */
export function limitConnectionsPerAddress(server: net.Server, max: number, logger: Logger): AddressLimit {
  const limit = new AddressLimit(max, "connections", logger);
  // Before the HTTP server's own listener, which would start parsing the socket.
  server.prependListener("connection", (socket: net.Socket) => {
    const address = socket.remoteAddress ?? "unknown";
    if (!limit.tryOpen(address)) {
      socket.destroy();
      return;
    }
    socket.once("close", () => limit.close(address));
  });
  return limit;
}

/**
 * Behind a trusted proxy, limits the requests in flight (notification streams among them) of one client
 * address as `X-Forwarded-For` gives it: the proxy holds the sockets, the client holds the requests. One
 * past the limit is 429 with `Retry-After`, in the client's encoding.
 * @param max - requests in flight per address
 * @param logger - receives the first refusal of each address
 */
export function limitRequestsPerAddress(max: number, logger: Logger): AppMiddleware {
  const limit = new AddressLimit(max, "requests", logger);
  return async (ctx, next) => {
    const address = ctx.ip;
    if (!limit.tryOpen(address)) {
      throw new AppError(
        "rate_limited",
        `This address has ${max} requests open already (the limit); try again later.`,
        {
          headers: { "Retry-After": String(RETRY_AFTER_SECONDS) },
        },
      );
    }
    // A stream's response outlives the middleware chain; the request counts until its response closes.
    ctx.res.once("close", () => limit.close(address));
    await next();
  };
}
