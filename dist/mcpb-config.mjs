// The command, arguments and environment an MCP host starts for a bundle, computed by the MCPB
// project's own code (getMcpConfigForManifest of @anthropic-ai/mcpb, what hosts build on) for this
// machine's platform. dist/check uses it to start the Linux binary exactly as the manifest says.
//
// usage: node dist/mcpb-config.mjs MCPB_PACKAGE_DIR UNPACKED_BUNDLE_DIR < user_config.json
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const [packageDir, bundleDir] = process.argv.slice(2);
if (!packageDir || !bundleDir) {
  console.error("usage: node dist/mcpb-config.mjs MCPB_PACKAGE_DIR UNPACKED_BUNDLE_DIR < user_config.json");
  process.exit(2);
}
const { getMcpConfigForManifest } = await import(
  pathToFileURL(path.join(packageDir, "dist", "browser.js")).href
);
const manifest = JSON.parse(fs.readFileSync(path.join(bundleDir, "manifest.json"), "utf8"));
const userConfig = JSON.parse(fs.readFileSync(0, "utf8"));
const config = await getMcpConfigForManifest({
  manifest,
  extensionPath: bundleDir,
  systemDirs: {},
  userConfig,
  pathSeparator: path.sep,
  logger: { warn: (m) => console.error(m), error: (m) => console.error(m), log: () => {} },
});
if (!config) {
  console.error("the manifest gives no server configuration for these values");
  process.exit(1);
}
process.stdout.write(JSON.stringify(config));
