# syntax=docker/dockerfile:1
# One image for both programs: `kvorum node` (a member) and `kvorum operator`.
#
#   docker build -t ghcr.io/kvorum/kvorum:0.1.0 .
#   docker run --rm ghcr.io/kvorum/kvorum:0.1.0 version

ARG NODE_IMAGE=node:20-bookworm-slim

# Build stage: all dependencies, TypeScript compiled to dist/.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY bin/ bin/
COPY contract/ contract/
COPY node/ node/
COPY operator/ operator/
RUN npm run build

# Runtime stage: production dependencies, the compiled code, the CLI wrapper
# and the etcd .proto files (loaded at run time by @grpc/proto-loader).
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    KVORUM_PROTO_DIR=/app/node/api/proto
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /src/dist/bin/ dist/bin/
COPY --from=build /src/dist/contract/ dist/contract/
COPY --from=build /src/dist/node/ dist/node/
COPY --from=build /src/dist/operator/ dist/operator/
COPY bin/kvorum bin/kvorum
COPY node/api/proto/*.proto node/api/proto/
# A distroless-style unprivileged user (uid/gid 65532); members keep their
# data in a mounted volume, so nothing in the image needs to be writable.
USER 65532:65532
# client, peer, member metrics, operator metrics/health
EXPOSE 2379 2380 2381 8080
ENTRYPOINT ["node", "/app/bin/kvorum"]
CMD ["--help"]
