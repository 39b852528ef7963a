# One image for the control plane and the data plane: `meshctl controller` (the install's
# Deployment runs it) and `meshctl proxy` (injected sidecars). Built from the bundled CLI:
#   docker build -t ghcr.io/meshctl/meshctl:$(node -p 'require("./package.json").version') .
# The registry, name and tag an install uses come from the values (image.registry, image.name,
# image.tag; the tag defaults to the package version), so push the image where those point.

# ---- build: install the toolchain and bundle src/ into dist/ ----------------------------------
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no package's install script runs (nor "prepare", which builds: done below).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
ARG MESHCTL_COMMIT=unknown
RUN MESHCTL_COMMIT="$MESHCTL_COMMIT" node scripts/build.mjs

# ---- runtime: the bundle needs no node_modules, only Node and its data files -------------------
FROM node:24-slim
WORKDIR /app
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY templates ./templates
COPY third_party/istio/istio-crds.yaml ./third_party/istio/istio-crds.yaml
# The same uid/gid the rendered Deployment runs as (runAsUser 1337, as Istio's proxies).
RUN groupadd --gid 1337 meshctl && useradd --uid 1337 --gid 1337 --no-create-home --shell /usr/sbin/nologin meshctl
USER 1337:1337
ENV NODE_ENV=production
# Ports (as Istio's): 15010/15012 discovery, 15017 webhook, 15014 monitoring; proxies 15001/15006/15090/15021.
EXPOSE 15010 15012 15014 15017
ENTRYPOINT ["node", "/app/bin/meshctl"]
CMD ["controller"]
