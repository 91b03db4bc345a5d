/**
 * verify: every version an environment names must exist in the store with exactly the bytes its
 * catalog card pins. Run before deploying, so a cluster never pulls a model that is missing or
 * different from what was reviewed. Reports every problem, not just the first.
 */
import { type Problem, WmsError } from "./errors.ts";
import { type CardArtifact, cardArtifacts, type ModelCard } from "./model-card.ts";
import type { ModelStore, StoredObject } from "./store/model-store.ts";
import { openStore, type S3Options } from "./store/open-store.ts";
import { parseStoreUri } from "./store/uri.ts";

export interface CardRef {
  card: ModelCard;
  /** The catalog file the card came from, named in every problem about it. */
  file: string;
}

export interface VerifyOptions {
  s3?: S3Options;
  /** Download and hash every object even when the store keeps a digest (slower, trusts nothing). */
  deep?: boolean;
  /** Objects checked at once; default 4. */
  concurrency?: number;
}

const SOURCE_WORDS: Record<StoredObject["source"], string> = {
  checksum: "by its S3 checksum",
  content: "hashed",
};

export async function verifyArtifacts(cards: CardRef[], opts: VerifyOptions = {}): Promise<Problem[]> {
  // Every file a card lists (fp32, int8); several environments naming one version give the
  // same card several times: check each file once.
  const files = cards.flatMap((ref) => cardArtifacts(ref.card).map((a) => ({ ...ref, a })));
  const unique = [...new Map(files.map((f) => [`${f.file}\0${JSON.stringify(f.a.artifact)}`, f])).values()];
  const stores = new Map<string, ModelStore>();
  const storeFor = (uri: string) => {
    const scheme = parseStoreUri(uri, "artifact.uri").scheme;
    let store = stores.get(scheme);
    if (!store) {
      store = openStore(uri, { s3: opts.s3 });
      stores.set(scheme, store);
    }
    return store;
  };
  try {
    const results = await mapLimited(unique, opts.concurrency ?? 4, (ref) => verifyOne(ref, storeFor, opts));
    return results.flat();
  } finally {
    for (const store of stores.values()) store.close();
  }
}

async function verifyOne(
  { card, file, a }: CardRef & { a: CardArtifact },
  storeFor: (uri: string) => ModelStore,
  opts: VerifyOptions,
): Promise<Problem[]> {
  const { uri, sha256, bytes } = a.artifact;
  const at = (field: string) => ({ file, field: field.replace(/^artifact\./, `${a.field}.`) });
  let found: StoredObject | undefined;
  try {
    found = await storeFor(uri).inspect(uri, { deep: opts.deep });
  } catch (e) {
    if (e instanceof WmsError) return e.problems.map((p) => ({ ...p, ...at(p.field ?? "artifact.uri") }));
    // Anything else (a permission error, a dropped connection) is still this card's problem.
    return [{ ...at("artifact.uri"), message: `cannot check ${uri}: ${(e as Error).message ?? String(e)}` }];
  }
  if (!found) {
    return [
      {
        ...at("artifact.uri"),
        message: `${card.name} ${card.version} (${a.precision}): no object at ${uri}`,
        hint: "publish it (publish --model … --card …), or check the store and its credentials",
      },
    ];
  }
  const problems: Problem[] = [];
  if (found.bytes !== bytes) {
    problems.push({
      ...at("artifact.bytes"),
      message: `${card.name} ${card.version} (${a.precision}): ${uri} has ${found.bytes} bytes, the card says ${bytes}`,
      hint: "the stored object or the card changed after publishing; never reuse a version, publish a new one",
    });
  }
  if (found.sha256 !== sha256) {
    problems.push({
      ...at("artifact.sha256"),
      message: `${card.name} ${card.version} (${a.precision}): ${uri} has sha256 ${found.sha256} (${SOURCE_WORDS[found.source]}), the card says ${sha256}`,
      hint: "the stored object or the card changed after publishing; never reuse a version, publish a new one",
    });
  }
  return problems;
}

/** Like Promise.all over `items`, with at most `limit` calls in flight; results keep input order. */
async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
