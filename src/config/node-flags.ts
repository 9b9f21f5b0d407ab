/**
 * The Node.js flags the compiled server runs with: the Dockerfile's CMD, the benchmark and the deploy
 * tests start `node ${SERVER_NODE_FLAGS} dist/server.js`. They belong on the command line, not in
 * `v8.setFlagsFromString`: V8 sizes its young generation when the process starts.
 * - `--enable-source-maps`: stack traces in the logs name the TypeScript sources, not the bundle.
 * - `--max-semi-space-size=8` (MiB): V8's default young generation, two 16 MiB halves, stays committed
 *   once a burst of requests has grown it. Halved, the server's RSS peak over 60 s of mixed load at 50
 *   connections fell from 163 to 147 MB and its idle RSS from 131 to 117 MB (2-core VM); CPU per request
 *   moved less than its run-to-run spread (notifications 1,057 → 1,080 µs, events 1,308 → 1,322 µs,
 *   medians of three runs each), since a scavenge costs what is live, not the size of the space.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ["--enable-source-maps", "--max-semi-space-size=8"];
