# proxmox-mcp-server as a container image: the static release binary and a CA bundle, nothing else.
#
# Its inputs are the release binaries: run dist/build first, which writes them to dist/out/docker/
# (linux/amd64 and linux/arm64 static binaries, the CA bundle). Then:
#   docker build -t proxmox-mcp-server .
#   docker buildx build --platform linux/amd64,linux/arm64 -t IMAGE .
# and run it as an MCP server over stdio (docker run -i --rm -e PROXMOX_HOST=... IMAGE).
#
# Settings are the environment variables of the README, the same names as the Docker MCP catalog's
# proxmox entry: PROXMOX_HOST, PROXMOX_USER, PROXMOX_TOKEN_NAME, PROXMOX_TOKEN_VALUE (secret),
# PROXMOX_PASSWORD (secret), PROXMOX_PORT, PROXMOX_VERIFY_SSL, PROXMOX_TIMEOUT, and the others
# (PROXMOX_FINGERPRINT, PROXMOX_CA_FILE with a mounted file, PROXMOX_MCP_ACCESS, ...).
FROM scratch

# Set by buildx per platform; plain docker build makes the amd64 image.
ARG TARGETPLATFORM=linux/amd64
# The MCP Registry name this image belongs to (dist/build --owner OWNER prints the build-arg).
ARG MCP_NAME=io.github.proxmox-mcp-server/proxmox-mcp-server

LABEL io.modelcontextprotocol.server.name="${MCP_NAME}" \
      org.opencontainers.image.title="proxmox-mcp-server" \
      org.opencontainers.image.description="MCP server for Proxmox VE (stdio)" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/proxmox-mcp-server/proxmox-mcp-server"

COPY dist/out/docker/${TARGETPLATFORM}/proxmox-mcp-server /proxmox-mcp-server
COPY dist/out/docker/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt

# The server's own defaults, spelled out for catalogs that read them from the image.
ENV PROXMOX_PORT=8006 \
    PROXMOX_VERIFY_SSL=true \
    PROXMOX_TIMEOUT=30 \
    PROXMOX_MCP_ACCESS=read-only \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt

# Nobody: the server needs no privileges (a settings or CA file mounted in must be readable by 65534).
USER 65534:65534
ENTRYPOINT ["/proxmox-mcp-server"]
