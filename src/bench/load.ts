/**
 * The load generator: a child process of the bench that runs autocannon (and the upload burst) on request
 * over IPC, so the load is generated outside the process that measures and reports. One process serves the
 * whole run, so no scenario pays for starting it.
 */
import http from "node:http";
import autocannon from "autocannon";
import type { Job, JobResult, LoadJob, LoadResult, UploadJob, UploadResult } from "./protocol.js";

function runAutocannon(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: job.origin,
        connections: job.connections,
        duration: job.durationSeconds,
        ...(job.overallRate !== undefined && { overallRate: job.overallRate }),
        requests: job.requests.map((request) => ({ ...request })),
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
  const work: Promise<JobResult> = job.kind === "autocannon" ? runAutocannon(job) : runUploads(job);
  work
    .catch((error: unknown): JobResult => ({ kind: "failed", id: job.id, message: String(error) }))
    .then((result) => process.send?.(result))
    .catch(() => undefined);
});
// The bench disconnecting (normally or not) is this process's cue to go.
process.on("disconnect", () => process.exit(0));
