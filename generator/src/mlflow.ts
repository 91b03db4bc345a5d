/**
 * The MLflow model registry over its REST API (2.0 paths, served by MLflow 3): the one place
 * the generator talks to it. Model versions are matched to releases by their `wms.version`
 * tag, which training sets when it registers a release.
 */
import { WmsError } from "./errors.ts";

export const VERSION_TAG = "wms.version";

interface ModelVersion {
  version: string;
  tags?: { key: string; value: string }[];
}

export class MlflowRegistry {
  constructor(
    readonly url: string,
    private readonly timeoutMs = 15_000,
  ) {}

  private async call<T>(method: "GET" | "POST" | "DELETE", path: string, body?: object): Promise<T> {
    const base = `${this.url.replace(/\/+$/, "")}/api/2.0/mlflow/${path}`;
    // GET takes its parameters in the query; POST and DELETE in a JSON body
    const at =
      method === "GET" ? `${base}?${new URLSearchParams((body ?? {}) as Record<string, string>)}` : base;
    let res: Response;
    try {
      res = await fetch(at, {
        method,
        signal: AbortSignal.timeout(this.timeoutMs),
        ...(method !== "GET"
          ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }
          : {}),
      });
    } catch (e) {
      throw unavailable(this.url, (e as Error).message);
    }
    const text = await res.text();
    if (!res.ok) {
      let code = "";
      try {
        code = (JSON.parse(text) as { error_code?: string; message?: string }).error_code ?? "";
      } catch {}
      throw new RegistryError(res.status, code, `${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** semantic version → registry version number, from the `wms.version` tags */
  async versionNumbers(model: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    let token: string | undefined;
    do {
      const page = await this.call<{ model_versions?: ModelVersion[]; next_page_token?: string }>(
        "GET",
        "model-versions/search",
        { filter: `name='${model}'`, max_results: "1000", ...(token ? { page_token: token } : {}) },
      );
      for (const v of page.model_versions ?? []) {
        const semver = v.tags?.find((t) => t.key === VERSION_TAG)?.value;
        // a release registered twice: the newest registration names it
        if (semver && Number(v.version) > Number(out.get(semver) ?? 0)) out.set(semver, v.version);
      }
      token = page.next_page_token || undefined;
    } while (token);
    return out;
  }

  /** alias → registry version number; undefined when the model is not registered at all */
  async aliases(model: string): Promise<Map<string, string> | undefined> {
    try {
      const r = await this.call<{ registered_model?: { aliases?: { alias: string; version: string }[] } }>(
        "GET",
        "registered-models/get",
        { name: model },
      );
      return new Map((r.registered_model?.aliases ?? []).map((a) => [a.alias, a.version]));
    } catch (e) {
      if (e instanceof RegistryError && e.code === "RESOURCE_DOES_NOT_EXIST") return undefined;
      throw e;
    }
  }

  setAlias(model: string, alias: string, version: string): Promise<unknown> {
    return this.call("POST", "registered-models/alias", { name: model, alias, version });
  }

  deleteAlias(model: string, alias: string): Promise<unknown> {
    return this.call("DELETE", "registered-models/alias", { name: model, alias });
  }
}

export class RegistryError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function unavailable(url: string, why: string): WmsError {
  return new WmsError("unavailable", [
    {
      message: `MLflow at ${url}: ${why}`,
      hint: "pass --tracking-uri <url> or set MLFLOW_TRACKING_URI (in-cluster: the mlflow Service; from a laptop: kubectl -n mlflow port-forward svc/mlflow 5000)",
    },
  ]);
}
