/**
 * The tests' S3 server: s3rver on a free loopback port, keeping its objects in the folder given as the
 * first argument and serving one bucket, named by the second. It prints `{"port":N}` once listening, then
 * one line `{"request":{method,url,length}}` as each request arrives (so tests can see how the store
 * talks to the bucket, multipart parts and their sizes included), and exits when its parent closes
 * standard input (so a killed test run leaves no server behind) or on SIGTERM.
 *
 * Run as `node --openssl-legacy-provider --import tsx src/testing/s3rver-main.ts <folder> <bucket>`:
 * s3rver 3.7 encrypts its listing continuation tokens with DES, which OpenSSL 3 keeps in its legacy
 * provider, so listings of more than one page fail without that flag.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import S3rver from "s3rver";

const [directory, bucket] = process.argv.slice(2);
if (!directory || !bucket) throw new Error("usage: s3rver-main.ts <folder> <bucket>");

const s3rver = new S3rver({ directory, silent: true, configureBuckets: [{ name: bucket, configs: [] }] });
await s3rver.configureBuckets();
const handle = s3rver.callback();
const server = http.createServer((request, response) => {
  const length = Number(request.headers["content-length"] ?? 0);
  // Standard output is a pipe, written synchronously: the line is out before the answer is.
  process.stdout.write(`${JSON.stringify({ request: { method: request.method, url: request.url, length } })}\n`);
  handle(request, response);
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);

let closing = false;
const stop = () => {
  if (closing) return;
  closing = true;
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.stdin.on("end", stop).resume();
process.on("SIGTERM", stop);
