# syntax=docker/dockerfile:1
# Build stage: compile TypeScript with the dev dependencies (plain JavaScript: no compiler needed).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY sinks ./sinks
RUN npx tsc -p tsconfig.build.json

# Production dependencies only, in their own stage so the runtime image has no dev tooling.
FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production
# Sized for fly.toml's 256 MB VM. V8 otherwise sizes its heap from the host and may let it grow
# past the VM (or stay below what the sink buffers need). The intake allocates almost nothing
# per entry, so a small young generation costs little CPU and keeps RSS down. Two malloc
# arenas (glibc's default is 8 per core) stop batch and compression buffers, freed on other
# threads, from fragmenting into resident memory nobody uses. A fixed mmap threshold keeps
# those megabyte buffers in their own mappings, given back to the OS when freed; glibc's
# default raises the threshold after the first free and then keeps them in the heap (the
# benchmark's steady RSS at 10,000 entries/s: ~100 → ~94 MiB). npm run bench runs the agent
# with this stage's ENV lines.
ENV NODE_OPTIONS="--max-old-space-size=160 --max-semi-space-size=1"
ENV MALLOC_ARENA_MAX=2
ENV MALLOC_MMAP_THRESHOLD_=262144
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/sinks ./dist/sinks
COPY package.json ./
# `logferry` on the PATH, for `fly ssh console -C "logferry check"` (and --help, --version).
COPY bin ./bin
RUN ln -s /app/bin/logferry.js /usr/local/bin/logferry
# The spool and file sink write to /data when DATA_DIR/SPOOL_DIR point at a mounted volume;
# without them the default spool is ./data/spool (the machine's own disk), writable by node.
RUN mkdir -p /data /app/data && chown node:node /data /app/data
USER node
EXPOSE 9598
# node directly (not npm) so SIGINT reaches the agent and its shutdown runs. No
# --single-threaded-gc: it saved ~8 % CPU but let garbage pile up, and on the 256 MB VM the
# spool's drain after a long outage then passed 200 MiB (docs/ARCHITECTURE.md, "One memory
# budget"). --liftoff-only: the HTTP client's response parser (undici's llhttp, WebAssembly)
# stays in V8's baseline compiler; optimising it took ~24 MB of malloc at the first requests,
# a third of which stayed resident, for a parser that reads a few hundred bytes per request.
# npm run bench runs the agent with this CMD's node flags.
CMD ["node", "--liftoff-only", "dist/src/main.js"]
