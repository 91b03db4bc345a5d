/**
 * Renovate coverage, offline: every version pin in a repository tree must be read by some
 * Renovate manager of its renovate.json.
 *
 * Two halves, independent of each other:
 * - `enumeratePins` finds the pins by reading our files the way we write them (Argo CD sources,
 *   kustomization remote refs, terraform versions, Dockerfile bases, workflow `uses:`,
 *   `*_VERSION=` assignments in scripts, .node-version, npm and pip pins).
 * - `coverage` decides who reads each one. Custom regex managers are evaluated here exactly as
 *   Renovate does (lib/modules/manager/custom/regex, matchStringsStrategy "any": each matchString
 *   compiled with flag "g" over the whole file; *Template fields override groups; a dependency
 *   needs depName or packageName, currentValue or currentDigest, and datasource) and must yield
 *   the pin's value on the pin's line. A built-in manager reads a pin of the kinds it extracts
 *   when it is enabled and its file patterns (defaults of Renovate 44.121.2, plus the config's)
 *   match the file.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, posix, relative } from "node:path";
import { parseAllDocuments } from "yaml";

export type PinKind =
  | "node-version"
  | "workflow-action"
  | "docker-image"
  | "argocd-source"
  | "kustomize-git-ref"
  | "remote-url"
  | "terraform-required"
  | "version-variable"
  | "script-version"
  | "npm"
  | "pip";

export interface Pin {
  kind: PinKind;
  file: string;
  line: number;
  value: string;
  what: string;
}

interface CustomManager {
  customType: "regex";
  managerFilePatterns?: string[];
  fileMatch?: string[];
  matchStrings: string[];
  matchStringsStrategy?: "any" | "combination" | "recursive";
  depNameTemplate?: string;
  packageNameTemplate?: string;
  datasourceTemplate?: string;
  currentValueTemplate?: string;
}

export interface RenovateConfig {
  enabledManagers?: string[];
  customManagers?: CustomManager[];
  [manager: string]: unknown;
}

/** Built-in managers: which pin kinds each extracts, and its default file patterns (44.121.2). */
export const BUILT_IN: Record<string, { kinds: PinKind[]; defaults: string[] }> = {
  "github-actions": {
    kinds: ["workflow-action"],
    defaults: [
      "/(^|/)(workflow-templates|\\.(?:github|gitea|forgejo)/(?:workflows|actions))/.+\\.ya?ml$/",
      "/(^|/)action\\.ya?ml$/",
    ],
  },
  dockerfile: {
    kinds: ["docker-image"],
    defaults: ["/(^|/|\\.)([Dd]ocker|[Cc]ontainer)file$/", "/(^|/)([Dd]ocker|[Cc]ontainer)file[^/]*$/"],
  },
  argocd: { kinds: ["argocd-source"], defaults: [] },
  kustomize: { kinds: ["kustomize-git-ref"], defaults: ["/(^|/)kustomization\\.ya?ml$/"] },
  terraform: { kinds: ["terraform-required"], defaults: ["**/*.tf", "**/*.tofu"] },
  npm: {
    kinds: ["npm"],
    defaults: ["/(^|/)package\\.json$/", "/(^|/)pnpm-workspace\\.yaml$/", "/(^|/)\\.yarnrc\\.yml$/"],
  },
  pip_requirements: { kinds: ["pip"], defaults: ["/(^|/)[\\w-]*requirements([-._]\\w+)?\\.(txt|pip)$/"] },
  nodenv: { kinds: ["node-version"], defaults: ["/(^|/)\\.node-version$/"] },
};

/** Renovate's string patterns: `/regex/` (or `/regex/i`), otherwise a minimatch glob. */
export function matchesPattern(pattern: string, file: string): boolean {
  const re = /^\/(.*)\/(i?)$/.exec(pattern);
  if (re) return new RegExp(re[1] as string, re[2]).test(file);
  return posix.matchesGlob(file, pattern);
}

const managerPatterns = (m: { managerFilePatterns?: string[]; fileMatch?: string[] }) => [
  ...(m.managerFilePatterns ?? []),
  ...(m.fileMatch ?? []).map((f) => `/${f}/`), // the pre-41 name: plain regex strings
];

const lineAt = (text: string, offset: number) => text.slice(0, offset).split("\n").length;

/** Files Renovate would see: every file under root but VCS, dependencies, tools and tests' own fixtures. */
export function listFiles(root: string): string[] {
  const skip = new Set([
    ".git",
    "node_modules",
    ".tools",
    ".e2e",
    ".venv",
    ".venv-checkov",
    ".cache",
    "fixtures",
  ]);
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      if (skip.has(name)) continue;
      const abs = join(dir, name);
      const st = statSync(abs, { throwIfNoEntry: false });
      if (!st) continue;
      if (st.isDirectory()) walk(abs);
      else if (st.isFile()) out.push(relative(root, abs).split("\\").join("/"));
    }
  };
  walk(root);
  return out;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const VERSIONISH = /^v?\d+(\.\d+)*([-+.][\w.-]+)?$/;

// ---------------------------------------------------------------- the pins

export function enumeratePins(root: string, files: string[]): Pin[] {
  const pins: Pin[] = [];
  const add = (kind: PinKind, file: string, text: string, offset: number, value: string, what: string) =>
    pins.push({ kind, file, line: lineAt(text, offset), value, what });

  for (const file of files) {
    if (file.startsWith("environments/") && file.includes("/rendered/")) continue; // generated
    const text = readFileSync(join(root, file), "utf8");
    const base = posix.basename(file);

    if (base === ".node-version") add("node-version", file, text, 0, text.trim(), "Node");

    if (/^\.github\/workflows\/[^/]+\.ya?ml$/.test(file))
      for (const m of text.matchAll(/^\s*-?\s*uses:\s*([^\s#]+)/gm)) {
        const uses = m[1] as string;
        if (uses.startsWith("./") || uses.startsWith("docker://")) continue;
        const at = (m.index ?? 0) + (m[0] as string).indexOf(uses) + uses.indexOf("@") + 1;
        add("workflow-action", file, text, at, uses.split("@")[1] as string, uses.split("@")[0] as string);
      }

    if (/(^|\/)Dockerfile[^/]*$/.test(file)) {
      const args = new Map<string, { value: string; offset: number }>();
      for (const m of text.matchAll(/^ARG\s+(\w+)=(\S+)/gm))
        args.set(m[1] as string, {
          value: m[2] as string,
          offset: (m.index ?? 0) + (m[0] as string).indexOf("=") + 1,
        });
      const stages = new Set<string>();
      for (const m of text.matchAll(/^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/gim)) {
        const image = m[1] as string;
        if (m[2]) stages.add((m[2] as string).toLowerCase());
        const ref = /^\$\{?(\w+)\}?$/.exec(image);
        if (ref) {
          const arg = args.get(ref[1] as string);
          if (arg) add("docker-image", file, text, arg.offset, arg.value, `ARG ${ref[1]} (used in FROM)`);
        } else if (image !== "scratch" && !stages.has(image.toLowerCase()))
          add("docker-image", file, text, (m.index ?? 0) + (m[0] as string).indexOf(image), image, "FROM");
      }
    }

    if (/\.ya?ml$/.test(file) && /kind:\s*Application(Set)?\b/.test(text)) {
      for (const doc of parseAllDocuments(text, { keepSourceTokens: false })) {
        const d = doc.toJS() as { kind?: string; spec?: Record<string, unknown> } | null;
        if (!d || (d.kind !== "Application" && d.kind !== "ApplicationSet")) continue;
        const spec = (d.kind === "Application" ? d.spec : (d.spec?.template as { spec?: object })?.spec) as
          | { source?: Record<string, string>; sources?: Record<string, string>[] }
          | undefined;
        for (const src of [spec?.source, ...(spec?.sources ?? [])]) {
          const rev = src?.targetRevision;
          if (!src || !rev || !VERSIONISH.test(rev)) continue; // branches (main, HEAD) are not pins
          const from = src.chart
            ? Math.max(0, text.search(new RegExp(`chart:\\s*["']?${escapeRe(src.chart)}`)))
            : 0;
          const at = from + text.slice(from).search(new RegExp(`targetRevision:\\s*["']?${escapeRe(rev)}`));
          add("argocd-source", file, text, at, rev, src.chart ?? src.repoURL ?? "?");
        }
      }
    }

    if (/(^|\/)kustomization\.ya?ml$/.test(file))
      for (const m of text.matchAll(/^\s*-\s*((?:https?:\/\/|git@|github\.com\/)\S+)/gm)) {
        const url = m[1] as string;
        const ref = /[?&]ref=([^&\s]+)/.exec(url);
        const tag = ref?.[1] ?? /\/(v\d+\.\d+\.\d+[\w.-]*)\//.exec(url)?.[1];
        if (!tag) continue;
        const at = (m.index ?? 0) + (m[0] as string).indexOf(url) + url.indexOf(tag);
        add(ref ? "kustomize-git-ref" : "remote-url", file, text, at, tag, url);
      }

    if (/\.(tf|tfvars)$/.test(file)) {
      for (const m of text.matchAll(/^\s*(required_version|version)\s*=\s*"([^"]+)"/gm)) {
        const at = (m.index ?? 0) + (m[0] as string).lastIndexOf(m[2] as string);
        add("terraform-required", file, text, at, m[2] as string, m[1] as string);
      }
      for (const m of text.matchAll(/^\s*(\w+_version)\s*=\s*"([^"]+)"/gm)) {
        if (m[1] === "required_version") continue; // terraform's own, above
        const at = (m.index ?? 0) + (m[0] as string).lastIndexOf(m[2] as string);
        add("version-variable", file, text, at, m[2] as string, m[1] as string);
      }
      for (const m of text.matchAll(/variable\s+"(\w+_version)"\s*\{[^}]*?default\s*=\s*"([^"]+)"/g)) {
        const at = (m.index ?? 0) + (m[0] as string).lastIndexOf(m[2] as string);
        add("version-variable", file, text, at, m[2] as string, `variable ${m[1]} default`);
      }
    }

    if (/^(scripts\/.+\.(sh|bash)|\.ci\/[^/]+)$/.test(file)) {
      // literal values only: `X_VERSION=v0.${Y_VERSION#v1.}` derives from a pin, it is not one
      const lines = text.split("\n");
      lines.forEach((l, i) => {
        const m =
          /^\s*(?:export\s+|readonly\s+|local\s+)?([A-Za-z_]\w*)=("?)([^"\s$`(][^"\s$`]*)\2\s*(?:#.*)?$/.exec(
            l,
          );
        if (!m) return;
        const annotated = /^\s*#\s*renovate:/.test(lines[i - 1] ?? "");
        if (!annotated && !/_VERSION$/.test(m[1] as string)) return;
        const offset =
          lines.slice(0, i).join("\n").length + (i ? 1 : 0) + l.indexOf(m[3] as string, l.indexOf("="));
        add("script-version", file, text, offset, m[3] as string, m[1] as string);
      });
    }

    if (/^(generator\/.+\.ts|scripts\/.+\.(ts|mjs))$/.test(file) && !file.endsWith(".test.ts")) {
      const lines = text.split("\n");
      lines.forEach((l, i) => {
        const m =
          /^\s*(?:export\s+)?(?:const|let)\s+([A-Za-z_]\w*)\s*(?::\s*\w+\s*)?=\s*(["'])([^"']+)\2/.exec(l);
        if (!m) return;
        const annotated = /^\s*\/\/\s*renovate:/.test(lines[i - 1] ?? "");
        if (!annotated && !/_VERSION$/.test(m[1] as string)) return;
        const offset =
          lines.slice(0, i).join("\n").length + (i ? 1 : 0) + l.indexOf(m[3] as string, l.indexOf("="));
        add("script-version", file, text, offset, m[3] as string, m[1] as string);
      });
    }

    if (base === "package.json") {
      const pkg = JSON.parse(text) as Record<string, Record<string, string> | undefined>;
      for (const field of ["dependencies", "devDependencies", "optionalDependencies"])
        for (const [name, range] of Object.entries(pkg[field] ?? {}))
          add("npm", file, text, text.indexOf(`"${name}": "${range}"`), range, name);
    }

    if (/(^|\/)[\w-]*requirements([-._]\w+)?\.txt$/.test(file))
      for (const m of text.matchAll(/^([A-Za-z0-9_.[\]-]+)\s*==\s*(\S+)/gm))
        add(
          "pip",
          file,
          text,
          (m.index ?? 0) + (m[0] as string).lastIndexOf(m[2] as string),
          m[2] as string,
          m[1] as string,
        );
  }
  return pins;
}

// ---------------------------------------------------------------- the managers

export interface CustomDep {
  manager: number;
  file: string;
  line: number;
  depName: string;
  datasource: string;
  currentValue: string;
}

const template = (t: string | undefined, groups: Record<string, string | undefined>) =>
  t?.replace(/\{\{\s*(\w+)\s*\}\}/g, (_, k: string) => groups[k] ?? "");

/** What Renovate's custom regex managers extract from the given files. */
export function customDeps(root: string, files: string[], config: RenovateConfig): CustomDep[] {
  const deps: CustomDep[] = [];
  (config.customManagers ?? []).forEach((cm, index) => {
    if (cm.customType !== "regex" || (cm.matchStringsStrategy ?? "any") !== "any")
      throw new Error(
        `customManagers[${index}]: only regex managers with matchStringsStrategy "any" are modelled`,
      );
    const patterns = managerPatterns(cm);
    for (const file of files.filter((f) => patterns.some((p) => matchesPattern(p, f)))) {
      const text = readFileSync(join(root, file), "utf8");
      for (const source of cm.matchStrings)
        for (const m of text.matchAll(new RegExp(source, "gd"))) {
          const g = { ...(m.groups ?? {}) };
          const depName =
            template(cm.depNameTemplate, g) ??
            g.depName ??
            template(cm.packageNameTemplate, g) ??
            g.packageName;
          const datasource = template(cm.datasourceTemplate, g) ?? g.datasource;
          const currentValue = template(cm.currentValueTemplate, g) ?? g.currentValue;
          if (!depName?.trim() || !datasource?.trim() || !currentValue?.trim()) continue; // Renovate discards these
          const at = m.indices?.groups?.currentValue?.[0] ?? m.index ?? 0;
          deps.push({ manager: index, file, line: lineAt(text, at), depName, datasource, currentValue });
        }
    }
  });
  return deps;
}

/** Patterns Renovate's regex engine (re2) rejects: lookaround and backreferences. */
export function re2Incompatible(config: RenovateConfig): string[] {
  return (config.customManagers ?? [])
    .flatMap((cm) => cm.matchStrings)
    .filter((s) => /\(\?<?[=!]|\\[1-9]|\(\?[a-z]+\)/.test(s));
}

export interface Coverage {
  pin: Pin;
  by?: string;
}

export function coverage(root: string, files: string[], config: RenovateConfig): Coverage[] {
  const custom = customDeps(root, files, config);
  const enabled = (name: string) =>
    (config[name] as { enabled?: boolean } | undefined)?.enabled !== false &&
    (!config.enabledManagers || config.enabledManagers.includes(name));
  return enumeratePins(root, files).map((pin) => {
    const c = custom.find((d) => d.file === pin.file && d.line === pin.line && d.currentValue === pin.value);
    if (c) return { pin, by: `customManagers[${c.manager}] (${c.datasource} ${c.depName})` };
    for (const [name, m] of Object.entries(BUILT_IN)) {
      if (!m.kinds.includes(pin.kind) || !enabled(name)) continue;
      const patterns = [
        ...m.defaults,
        ...managerPatterns((config[name] ?? {}) as { managerFilePatterns?: string[] }),
      ];
      if (patterns.some((p) => matchesPattern(p, pin.file))) return { pin, by: name };
    }
    return { pin };
  });
}
