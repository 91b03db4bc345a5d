/**
 * Kubernetes resource quantities, the forms environment.yaml allows (its schema's patterns):
 * cpu "250m", "1", "1.5" → millicores; memory "512Mi", "2Gi" → MiB. One parser for the quota
 * arithmetic, the server's memory limit, the config checks and the capacity test.
 */

/** environment.yaml's memory form (the schema's pattern) */
export const MEMORY_QUANTITY = /^[0-9]+(Mi|Gi)$/;

/** "250m", "1", "1.5" (or a number of cores) → millicores */
export const milliCpu = (q: string | number): number =>
  typeof q === "number" ? q * 1000 : q.endsWith("m") ? Number(q.slice(0, -1)) : Math.round(Number(q) * 1000);

/** "512Mi", "2Gi" (also "1.5Gi") → MiB; any other form is an error */
export const mebibytes = (q: string): number => {
  const m = /^(\d+(?:\.\d+)?)(Mi|Gi)$/.exec(q);
  if (!m) throw new Error(`unsupported memory quantity ${q} (use Mi or Gi)`);
  return Number(m[1]) * (m[2] === "Gi" ? 1024 : 1);
};
