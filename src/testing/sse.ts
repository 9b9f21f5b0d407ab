import http from "node:http";

/**
 * A Server-Sent Events client for tests of the notification stream: it reads events as they arrive,
 * where an EventSource would, and exposes the answer's status and headers, which an EventSource hides.
 */

/** One Server-Sent Event as parsed off the wire. */
export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/** An open event stream, read incrementally. */
export interface OpenStream {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The whole body, for a non-stream answer (an error); only after `ended`. */
  body: () => string;
  ended: Promise<void>;
  /** The next event, or a rejection after `timeoutMs`. */
  next(timeoutMs?: number): Promise<SseEvent>;
  /** Events received and not yet taken by `next`. */
  pending(): SseEvent[];
  close(): void;
}

/**
 * Opens GET `<base>/api/v1/notifications/stream` on a connection of its own and parses `id:`,
 * `event:` and `data:` lines as they arrive; comment lines (heartbeats) are skipped.
 * @param options.token - sent as `Authorization: Bearer`
 * @param options.lastEventId - sent as the `Last-Event-ID` header
 * @param options.query - query parameters (`encoding`, `ticket`, `lastEventId`)
 */
export function openStream(
  base: string,
  options: { token?: string; lastEventId?: string; query?: Record<string, string> } = {},
): Promise<OpenStream> {
  const headers: Record<string, string> = { accept: "text/event-stream" };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.lastEventId) headers["last-event-id"] = options.lastEventId;
  const query = new URLSearchParams(options.query).toString();
  const url = `${base}/api/v1/notifications/stream${query ? `?${query}` : ""}`;
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers, agent: false }, (response) => {
      const queue: SseEvent[] = [];
      const waiters: ((event: SseEvent) => void)[] = [];
      let buffer = "";
      let raw = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => {
        raw += chunk;
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event: SseEvent = { id: undefined, event: undefined, data: "" };
          let hasData = false;
          for (const line of block.split("\n")) {
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
            if (field === "id") event.id = value;
            else if (field === "event") event.event = value;
            else if (field === "data") {
              event.data = hasData ? `${event.data}\n${value}` : value;
              hasData = true;
            }
          }
          if (!hasData) continue;
          const waiter = waiters.shift();
          if (waiter) waiter(event);
          else queue.push(event);
        }
      });
      const ended = new Promise<void>((done) => {
        response.on("end", () => done());
        response.on("close", () => done());
        response.on("error", () => done());
      });
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        body: () => raw,
        ended,
        pending: () => [...queue],
        next(timeoutMs = 1000) {
          const queued = queue.shift();
          if (queued) return Promise.resolve(queued);
          return new Promise((resolveEvent, rejectEvent) => {
            const waiter = (event: SseEvent) => {
              clearTimeout(timer);
              resolveEvent(event);
            };
            const timer = setTimeout(() => {
              const index = waiters.indexOf(waiter);
              if (index >= 0) waiters.splice(index, 1);
              rejectEvent(new Error(`no event within ${timeoutMs} ms`));
            }, timeoutMs);
            waiters.push(waiter);
          });
        },
        close: () => {
          request.destroy();
          response.destroy();
        },
      });
    });
    request.on("error", reject);
  });
}
