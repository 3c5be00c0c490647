# The chat backend's image: compiled JavaScript and production dependencies only, run by
# a non-root user. One image for every role (ROLE=api | worker | all) and for the
# one-shot migration (`node dist/db/migrate-cli.js`); docker-compose.yml runs them all.

# --- build: everything needed to generate the Prisma client and compile TypeScript ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
# The install's postinstall generates the Prisma client from the schema: both come first.
COPY package.json package-lock.json prisma.config.ts ./
COPY scripts/prisma-generate.mjs scripts/
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- run ---
FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    PORT=4000
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
# Migrations are read at run time (migrate-cli, MIGRATE_ON_START).
COPY --from=build --chown=node:node /app/prisma/migrations ./prisma/migrations
# Local-disk attachments (DATA_DIR/uploads): owned by node, so a volume mounted here starts
# writable (compose shares one between the api replicas).
RUN mkdir -p /app/.data/uploads && chown -R node:node /app/.data
USER node
EXPOSE 4000
# /ready: the database and the broker answer (every role serves it on PORT).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:' + process.env.PORT + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
CMD ["node", "dist/main.js"]
