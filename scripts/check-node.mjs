// The first step of `npm test`: fail at once, with the fix, when the tests would run under a Node
// outside the repository's line (.node-version; package.json engines). Plain ESM without
// dependencies, so that it runs (and explains) under any Node.
import { readFileSync } from "node:fs";

const pinned = readFileSync(new URL("../.node-version", import.meta.url), "utf8").trim();
const want = pinned.split(".")[0];
const have = process.versions.node;
if (have.split(".")[0] !== want) {
  process.stderr.write(
    `Error: npm test runs under Node v${have} (${process.execPath}), but this repository supports Node ${want} ` +
      `(.node-version ${pinned}, package.json engines).\n` +
      `  fix: source scripts/node.sh   (then npm test again; bash scripts/setup.sh installs the rest)\n`,
  );
  process.exit(1);
}
if (have !== pinned) process.stderr.write(`note: Node v${have}; .node-version pins ${pinned} (scripts/setup.sh installs it)\n`);
