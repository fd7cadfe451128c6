# keygate: multi-stage build, non-root runtime, data on a volume.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY test ./test
COPY bench ./bench
# npm ci runs the prepare script, which compiles src/ into dist/.
RUN npm ci && npm prune --omit=dev && rm -rf dist/test dist/bench

FROM node:20-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 KEYGATE_DB=/data/keygate.db
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json schema.sql schema.pg.sql ./
COPY bin ./bin
COPY templates ./templates
COPY public ./public
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# KEYGATE_SECRET and KEYGATE_ISSUER must be set at run time.
CMD ["node", "bin/keygate.js", "serve"]
