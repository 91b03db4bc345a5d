// Compile the server's WebAssembly text modules (src/model/wasm/*.wat) to the committed .wasm
// files beside them. `--check` compares instead of writing and exits 1 on a difference.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import wabtInit from "wabt";

export async function compileWat(path) {
  const wabt = await wabtInit();
  const mod = wabt.parseWat(path, readFileSync(path, "utf8"), { simd: true });
  try {
    mod.validate();
    return Buffer.from(mod.toBinary({ log: false, write_debug_names: false }).buffer);
  } finally {
    mod.destroy();
  }
}

const dir = join(import.meta.dirname, "../src/model/wasm");
if (process.argv[1] === import.meta.filename) {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".wat"))) {
    const wasm = await compileWat(join(dir, f));
    const out = join(dir, f.replace(/\.wat$/, ".wasm"));
    if (check) {
      let same = false;
      try {
        same = readFileSync(out).equals(wasm);
      } catch {}
      if (!same) {
        console.error(`${out} is not the compilation of ${f}: run npm run build:wasm`);
        stale++;
      }
    } else {
      writeFileSync(out, wasm);
      console.log(`${out}: ${wasm.length} bytes`);
    }
  }
  process.exitCode = stale ? 1 : 0;
}
