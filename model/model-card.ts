/**
 * The model card's type, the one definition the generator and the model server share (the
 * schema beside it, model-card.schema.json, is what training writes against and every reader
 * validates with). Pure: no I/O, so the server's bundle can carry it.
 */

export interface SegMetrics {
  iou: number;
  dice: number;
  n?: number;
}

/** The precisions a release can be served at: the fp32 export, and its int8 quantization. */
export const PRECISIONS = ["fp32", "int8"] as const;
export type Precision = (typeof PRECISIONS)[number];

/** One ONNX file of a release, as published (URI, digest, size). */
export interface Artifact {
  uri: string;
  sha256: string;
  bytes: number;
  format: "onnx";
  opset: number;
  precision?: Precision;
}

/** The int8 variant: its own file, its own scores (same photos and scoring as `metrics`), and
 * how it was calibrated. */
export interface Int8Variant extends Artifact {
  precision: "int8";
  metrics: { val: SegMetrics; test: SegMetrics };
  calibration: {
    images: number;
    method: "minmax" | "percentile" | "entropy";
    selection: "spread" | "first";
    /** 7-bit weights, so that x86 CPUs without VNNI do not saturate (docs/benchmarks/int8.md) */
    reduceRange: boolean;
  };
  latencyMs?: number;
}

export interface ModelCard {
  name: string;
  version: string;
  createdAt: string;
  example?: boolean;
  description?: string;
  training: {
    gitCommit: string;
    dataVersion: string;
    mlflowRunId: string;
    params: Record<string, unknown>;
    durationSeconds: number;
    device?: string;
    split?: Record<string, number>;
  };
  /** the fp32 artifact's scores */
  metrics: { val: SegMetrics; test: SegMetrics };
  /** the fp32 artifact: every release has one */
  artifact: Artifact;
  variants?: { int8?: Int8Variant };
  io: {
    input: {
      name: string;
      shape: [number, number, number, number];
      layout: "NCHW";
      dtype: "float32";
      preprocessing: {
        exifTranspose: boolean;
        colorSpace: "RGB";
        resize: { width: number; height: number; mode: "stretch"; interpolation: "bilinear" };
        scale: number;
        mean: [number, number, number];
        std: [number, number, number];
      };
    };
    output: {
      name: string;
      activation: "sigmoid" | "none";
      threshold: number;
      resizeBack?: "bilinear" | "nearest";
    };
  };
  license: { data: string; notice?: string };
}

/** A card's artifact at `precision`, with the field path that names it (for messages). */
export interface CardArtifact {
  precision: Precision;
  field: "artifact" | "variants.int8";
  artifact: Artifact;
  metrics: { val: SegMetrics; test: SegMetrics };
}

/** Every artifact the card lists: fp32 first. */
export function cardArtifacts(card: ModelCard): CardArtifact[] {
  const out: CardArtifact[] = [
    { precision: "fp32", field: "artifact", artifact: card.artifact, metrics: card.metrics },
  ];
  const int8 = card.variants?.int8;
  if (int8) out.push({ precision: "int8", field: "variants.int8", artifact: int8, metrics: int8.metrics });
  return out;
}

/** The artifact at `precision`, or undefined when the card has none. */
export const artifactAt = (card: ModelCard, precision: Precision): CardArtifact | undefined =>
  cardArtifacts(card).find((a) => a.precision === precision);

/** The artifact whose digest is `sha256`, or undefined. */
export const artifactWithDigest = (card: ModelCard, sha256: string): CardArtifact | undefined =>
  cardArtifacts(card).find((a) => a.artifact.sha256 === sha256);

/**
 * How far the int8 variant falls below fp32, per split, in IoU (positive: int8 is worse).
 * Undefined when the card has no int8 variant.
 */
export function int8IouDrop(card: ModelCard): { val: number; test: number } | undefined {
  const int8 = card.variants?.int8;
  if (!int8) return undefined;
  return {
    val: card.metrics.val.iou - int8.metrics.val.iou,
    test: card.metrics.test.iou - int8.metrics.test.iou,
  };
}
