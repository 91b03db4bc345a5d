/**
 * `npm run diagram`: docs/flow.yaml → docs/flow.svg, plain SVG boxes and arrows. Deterministic
 * (no dates, no randomness, fixed number formatting), so test/diagram.test.ts can hold the
 * committed SVG equal to what the source gives. Not part of the CLI.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

export interface DiagramNode {
  id: string;
  row: number;
  col: number;
  label: string;
  detail?: string[];
}

export interface DiagramEdge {
  from: string;
  to: string;
  label?: string;
}

export interface Diagram {
  title: string;
  nodes: DiagramNode[];
  edges: DiagramEdge[];
}

// Geometry, in SVG user units (pixels at scale 1).
const BOX_W = 172;
const BOX_H = 70;
const GAP_X = 40;
const GAP_Y = 64;
const MARGIN = 20;
const TITLE_H = 34;
/** Longest detail line that fits a box at the detail font size. */
const MAX_DETAIL_CHARS = 26;
const MAX_LABEL_CHARS = 18;

const FONT = 'font-family="Helvetica, Arial, sans-serif"';

const escapeXml = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** Numbers as SVG gets them: integers stay integers, others one decimal. */
const n = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(1));

/** Parse and check the source: every edge names known boxes, no two boxes share a cell, text fits. */
export function parseDiagram(text: string): Diagram {
  const data = parse(text) as Partial<Diagram> | null;
  if (!data || typeof data.title !== "string" || !Array.isArray(data.nodes) || !Array.isArray(data.edges)) {
    throw new Error("docs/flow.yaml: needs title, nodes and edges");
  }
  const ids = new Set<string>();
  const cells = new Set<string>();
  for (const node of data.nodes) {
    if (typeof node.id !== "string" || typeof node.label !== "string") {
      throw new Error(`docs/flow.yaml: a node without id or label: ${JSON.stringify(node)}`);
    }
    if (!Number.isInteger(node.row) || !Number.isInteger(node.col) || node.row < 0 || node.col < 0) {
      throw new Error(`docs/flow.yaml: node ${node.id}: row and col are integers from 0`);
    }
    if (ids.has(node.id)) throw new Error(`docs/flow.yaml: node ${node.id} twice`);
    ids.add(node.id);
    const cell = `${node.row},${node.col}`;
    if (cells.has(cell)) throw new Error(`docs/flow.yaml: node ${node.id} shares its cell ${cell}`);
    cells.add(cell);
    if (node.label.length > MAX_LABEL_CHARS) {
      throw new Error(`docs/flow.yaml: node ${node.id}: label over ${MAX_LABEL_CHARS} characters`);
    }
    const detail = node.detail ?? [];
    if (detail.length > 2 || detail.some((l) => typeof l !== "string" || l.length > MAX_DETAIL_CHARS)) {
      throw new Error(
        `docs/flow.yaml: node ${node.id}: at most two detail lines of ${MAX_DETAIL_CHARS} characters`,
      );
    }
  }
  for (const edge of data.edges) {
    for (const end of [edge.from, edge.to]) {
      if (!ids.has(end)) throw new Error(`docs/flow.yaml: an edge names no node ${end}`);
    }
  }
  return { title: data.title, nodes: data.nodes, edges: data.edges };
}

interface Box {
  x: number;
  y: number;
}

const boxAt = (node: DiagramNode): Box => ({
  x: MARGIN + node.col * (BOX_W + GAP_X),
  y: MARGIN + TITLE_H + node.row * (BOX_H + GAP_Y),
});

/** The arrow's points, from the edge of one box to the edge of the other. */
function route(a: DiagramNode, b: DiagramNode): { points: [number, number][]; labelAt: [number, number] } {
  const pa = boxAt(a);
  const pb = boxAt(b);
  const cxa = pa.x + BOX_W / 2;
  const cxb = pb.x + BOX_W / 2;
  const cya = pa.y + BOX_H / 2;
  const cyb = pb.y + BOX_H / 2;
  if (a.row === b.row) {
    const [x1, x2] = a.col < b.col ? [pa.x + BOX_W, pb.x] : [pa.x, pb.x + BOX_W];
    return {
      points: [
        [x1, cya],
        [x2, cyb],
      ],
      labelAt: [(x1 + x2) / 2, cya - 8],
    };
  }
  const [y1, y2] = a.row < b.row ? [pa.y + BOX_H, pb.y] : [pa.y, pb.y + BOX_H];
  if (a.col === b.col) {
    return {
      points: [
        [cxa, y1],
        [cxb, y2],
      ],
      labelAt: [cxa + 8, (y1 + y2) / 2 + 4],
    };
  }
  // through the gap between the rows next to the target
  const gapY = a.row < b.row ? y2 - GAP_Y / 2 : y2 + GAP_Y / 2;
  return {
    points: [
      [cxa, y1],
      [cxa, gapY],
      [cxb, gapY],
      [cxb, y2],
    ],
    labelAt: [(cxa + cxb) / 2, gapY - 8],
  };
}

/** The SVG document for a diagram. */
export function renderDiagram(d: Diagram): string {
  const cols = Math.max(...d.nodes.map((node) => node.col)) + 1;
  const rows = Math.max(...d.nodes.map((node) => node.row)) + 1;
  const width = 2 * MARGIN + cols * BOX_W + (cols - 1) * GAP_X;
  const height = 2 * MARGIN + TITLE_H + rows * BOX_H + (rows - 1) * GAP_Y;
  const byId = new Map(d.nodes.map((node) => [node.id, node]));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(d.title)}">`,
    `<!-- generated from docs/flow.yaml by npm run diagram (generator/tools/diagram.ts); do not edit -->`,
    "<defs>",
    '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse">',
    '<path d="M 0 0 L 10 5 L 0 10 z" fill="#37474f"/>',
    "</marker>",
    "</defs>",
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${MARGIN}" y="${MARGIN + 16}" ${FONT} font-size="18" font-weight="bold" fill="#263238">${escapeXml(d.title)}</text>`,
  ];
  for (const edge of d.edges) {
    const { points, labelAt } = route(byId.get(edge.from) as DiagramNode, byId.get(edge.to) as DiagramNode);
    const path = points.map(([x, y], i) => `${i === 0 ? "M" : "L"} ${n(x)} ${n(y)}`).join(" ");
    out.push(`<path d="${path}" fill="none" stroke="#37474f" stroke-width="1.5" marker-end="url(#arrow)"/>`);
    if (edge.label) {
      const anchor = points.length === 2 && points[0]?.[0] === points[1]?.[0] ? "start" : "middle";
      out.push(
        `<text x="${n(labelAt[0])}" y="${n(labelAt[1])}" ${FONT} font-size="12" font-style="italic" fill="#37474f" text-anchor="${anchor}">${escapeXml(edge.label)}</text>`,
      );
    }
  }
  for (const node of d.nodes) {
    const { x, y } = boxAt(node);
    const cx = x + BOX_W / 2;
    const detail = node.detail ?? [];
    out.push(
      `<rect x="${x}" y="${y}" width="${BOX_W}" height="${BOX_H}" rx="8" fill="#e3f2fd" stroke="#1565c0" stroke-width="1.5"/>`,
    );
    const labelY = y + (detail.length === 0 ? BOX_H / 2 + 5 : 24);
    out.push(
      `<text x="${n(cx)}" y="${n(labelY)}" ${FONT} font-size="15" font-weight="bold" fill="#0d47a1" text-anchor="middle">${escapeXml(node.label)}</text>`,
    );
    detail.forEach((line, i) => {
      out.push(
        `<text x="${n(cx)}" y="${n(y + 43 + i * 15)}" ${FONT} font-size="12" fill="#263238" text-anchor="middle">${escapeXml(line)}</text>`,
      );
    });
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}

export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const SOURCE = join(REPO_ROOT, "docs/flow.yaml");
export const TARGET = join(REPO_ROOT, "docs/flow.svg");

/** docs/flow.yaml's SVG. */
export const diagramFromSource = (): string => renderDiagram(parseDiagram(readFileSync(SOURCE, "utf8")));

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(TARGET, diagramFromSource());
  process.stdout.write(`wrote ${TARGET}\n`);
}
