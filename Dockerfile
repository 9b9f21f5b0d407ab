# syntax=docker/dockerfile:1
# The production image of the API: `docker build -t shtp-api .`
#
# - `node dist/server.js` is the process that runs and receives the signals (exec form: no shell, no npm
#   in between), so SIGTERM from the runtime starts the server's drain.
# - Only production dependencies: no TypeScript loader and no embedded PostgreSQL binaries (those are
#   development dependencies); DATABASE_URL is required.
# - Runs as the unprivileged `node` user; user files go to /app/storage (mount a volume there).
# - The same image runs the other processes: `node dist/db.js migrate` (the release step) and
#   `node dist/cli.js create-admin ...`.
# README "Deploying" has the environment, the probes and the stop grace period to give it.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts fetch tools the build does not use (buf, the embedded PostgreSQL); esbuild runs without its own.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY proto ./proto
COPY generated ./generated
COPY migrations ./migrations
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# No production dependency needs an install script (and swagger-ui-dist's analytics one stays off).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    STORAGE_DIR=/app/storage
WORKDIR /app
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY proto ./proto
COPY --from=build /app/dist ./dist
RUN mkdir -p storage && chown node:node storage
USER node
EXPOSE 3000
# Liveness only: a database outage is for /readyz and the load balancer, not a reason to restart the process.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The flags are SERVER_NODE_FLAGS (src/config/node-flags.ts: why each); a test holds the two equal.
CMD ["node", "--enable-source-maps", "--max-semi-space-size=8", "dist/server.js"]
