/**
 * The load generator: a child process of the bench that runs autocannon, the open loop and the upload burst on request
 * over IPC, so the load is generated outside the process that measures and reports. One process serves the
 * whole run, so no scenario pays for starting it.
 */
import http from "node:http";
import autocannon from "autocannon";
import { setTimeout as sleep } from "node:timers/promises";
import type { Job, JobResult, LoadJob, LoadRequest, LoadResult, UploadJob, UploadResult } from "./protocol.js";
import { percentile } from "./report.js";

function runAutocannon(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: job.origin,
        connections: job.connections,
        duration: job.durationSeconds,
        requests: inTurnAcrossConnections(job.requests),
        // A stuck request shows up as a timeout in the result instead of hanging the run.
        timeout: 10,
      },
      (error, result) => {
        if (error) return reject(error instanceof Error ? error : new Error(String(error)));
        resolve({
          kind: "autocannon",
          id: job.id,
          requestsPerSecond: result.requests.average,
          totalRequests: result.requests.total,
          latencyMean: result.latency.mean,
          latencyP50: result.latency.p50,
          latencyP99: result.latency.p99,
          latencyMax: result.latency.max,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          durationSeconds: result.duration,
        });
      },
    );
  });
}

/**
 * The job's requests for autocannon, sent in turn across the whole run. autocannon walks a list from its first
 * entry on every connection, so its connections would all send the first entry at once (the same student's
 * submission, queued on one row); one counter shared by the connections hands each request the next entry.
 * A single request is built once, as autocannon does without a setup step.
 */
function inTurnAcrossConnections(requests: readonly LoadRequest[]): autocannon.Request[] {
  if (requests.length === 1) return [{ ...requests[0] }];
  let sent = 0;
  return [
    {
      setupRequest: (defaults) => {
        const request = requests[sent++ % requests.length]!;
        return { ...defaults, ...request, headers: { ...defaults.headers, ...request.headers } };
      },
    },
  ];
}

/**
 * An open loop: request i is due at start + i / rate, whatever the answers before it take, and its latency
 * runs from when it was due, so time spent waiting for a free connection counts. autocannon's `overallRate`
 * is not that: it gives each connection a quota per second, which the connection spends back to back at
 * the start of every second (a closed-loop burst at full concurrency), then idles.
 * @param job - `overallRate` requests per second over at most `connections` kept-alive connections
 */
async function runOpenLoop(job: LoadJob & { overallRate: number }): Promise<LoadResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  const latencies: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  const send = (request: LoadRequest, due: number) =>
    new Promise<void>((resolve) => {
      const outgoing = http.request(
        new URL(request.path, job.origin),
        { method: request.method, headers: request.headers, agent, timeout: 10_000 },
        (response) => {
          response.resume();
          response.on("end", () => {
            latencies.push(performance.now() - due);
            const status = response.statusCode ?? 0;
            if (status < 200 || status > 299) non2xx++;
            resolve();
          });
        },
      );
      outgoing.on("timeout", () => {
        timeouts++;
        outgoing.destroy();
      });
      outgoing.on("error", () => {
        errors++;
        resolve();
      });
      // However it ended (a timed-out request is destroyed without a response), it is no longer in flight.
      outgoing.on("close", () => resolve());
      outgoing.end(request.body);
    });
  const started = performance.now();
  const total = Math.round(job.overallRate * job.durationSeconds);
  const inFlight: Promise<void>[] = [];
  for (let sent = 0; sent < total;) {
    const now = performance.now();
    for (; sent < total && started + (sent * 1000) / job.overallRate <= now; sent++) {
      const request = job.requests[sent % job.requests.length]!;
      inFlight.push(send(request, started + (sent * 1000) / job.overallRate));
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return {
    kind: "autocannon",
    id: job.id,
    requestsPerSecond: latencies.length / seconds,
    totalRequests: latencies.length,
    latencyMean: latencies.reduce((sum, value) => sum + value, 0) / Math.max(1, latencies.length),
    latencyP50: latencies.length ? percentile(latencies, 0.5) : 0,
    latencyP99: latencies.length ? percentile(latencies, 0.99) : 0,
    latencyMax: latencies.reduce((max, value) => Math.max(max, value), 0),
    non2xx,
    errors,
    timeouts,
    durationSeconds: seconds,
  };
}

/** A PNG signature then zeros: upload checks judge the kind by the first bytes. */
function pngOf(bytes: number): Buffer {
  const file = Buffer.alloc(bytes);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(file);
  return file;
}

/** Sends one multipart request, writing the one shared file buffer (the client holds a single copy). */
function upload(job: UploadJob, file: Buffer): Promise<number> {
  const boundary = `----shtp-bench-${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${job.jsonField}"\r\nContent-Type: application/json\r\n\r\n` +
      `${job.json}\r\n--${boundary}\r\nContent-Disposition: form-data; name="${job.fileField}"; filename="proof.png"\r\n` +
      "Content-Type: image/png\r\n\r\n",
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const url = new URL(job.path, job.origin);
  return new Promise((resolve) => {
    const request = http.request(
      url,
      {
        method: "POST",
        headers: {
          ...job.headers,
          "content-type": `multipart/form-data; boundary=${boundary}`,
          "content-length": head.length + file.length + tail.length,
        },
      },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
      },
    );
    // A server that refuses early (413, 404) may close the socket while we still write: that is its answer.
    request.on("error", () => resolve(0));
    request.write(head);
    request.write(file);
    request.end(tail);
  });
}

async function runUploads(job: UploadJob): Promise<UploadResult> {
  const file = pngOf(job.bytes);
  const started = performance.now();
  const statuses = await Promise.all(Array.from({ length: job.count }, () => upload(job, file)));
  return { kind: "upload", id: job.id, statuses, seconds: (performance.now() - started) / 1000 };
}

process.on("message", (job: Job) => {
  const work: Promise<JobResult> =
    job.kind === "upload"
      ? runUploads(job)
      : job.overallRate === undefined
        ? runAutocannon(job)
        : runOpenLoop({ ...job, overallRate: job.overallRate });
  work
    .catch((error: unknown): JobResult => ({ kind: "failed", id: job.id, message: String(error) }))
    .then((result) => process.send?.(result))
    .catch(() => undefined);
});
// The bench disconnecting (normally or not) is this process's cue to go.
process.on("disconnect", () => process.exit(0));
