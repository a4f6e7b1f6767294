// Bundles src/ into the dashboard function's embedded folder (committed, so
// `go build` needs no npm): app.js, app.css, index.html and the licences of
// the bundled packages. OUT overrides the folder (scripts/build-dashboard.sh
// --check builds into a temporary one and compares). Deterministic: the same
// sources and lockfile give the same bytes.
import * as esbuild from "esbuild";
import { readFileSync, writeFileSync, mkdirSync, rmSync, copyFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.env.OUT || join(here, "..", "functions", "dashboard", "dist");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await esbuild.build({
  entryPoints: { app: join(here, "src", "main.js"), "cluster-worker": join(here, "src", "cluster-worker.js") },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  outdir: out,
  legalComments: "none", // the licences are in THIRD_PARTY_LICENSES.txt
  loader: { ".png": "dataurl", ".svg": "dataurl" },
  logLevel: "warning",
});
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));

// The licence of every bundled package, with its pinned version.
const bundled = ["leaflet", "supercluster", "kdbush", "uplot"];
let licences = "Third-party software bundled into app.js, cluster-worker.js and app.css (versions pinned in web/package-lock.json).\n";
for (const name of bundled) {
  const dir = join(here, "node_modules", name);
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
  licences += `\n==== ${name} ${pkg.version} (${pkg.license}) ====\n\n` + readFileSync(join(dir, "LICENSE"), "utf8").trim() + "\n";
}
writeFileSync(join(out, "THIRD_PARTY_LICENSES.txt"), licences);
