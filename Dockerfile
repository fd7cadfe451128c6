# keygate: multi-stage build on the current Node LTS, non-root runtime, data on a volume.
# The build stage compiles src/ (tsconfig.build.json); the final stage installs production
# dependencies only (npm ci --omit=dev) and takes the compiled dist/ from the build stage.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# The compiler only: install scripts are skipped (no native module is built or run here).
RUN npm ci --ignore-scripts
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM ${NODE_IMAGE}
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 KEYGATE_DB=/data/keygate.db
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts are skipped (prepare needs the dev dependencies); better-sqlite3's own install
# step then fetches or builds its native module, and the compilers go again in the same layer.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
  && npm ci --omit=dev --ignore-scripts && npm rebuild better-sqlite3 \
  && apt-get purge -y python3 make g++ && apt-get autoremove -y \
  && rm -rf /var/lib/apt/lists/* /root/.npm /root/.cache
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
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
