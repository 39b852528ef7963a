import { Composer, Document, isAlias, isMap, isPair, isScalar, isSeq, LineCounter, Parser, type Node } from 'yaml';
import { InputError } from '../core/errors.js';

/**
 * A multi-document YAML file kept as the yaml package's Documents plus the source text of each, so
 * that an edit re-renders only the document it touches and every other byte of the file (comments,
 * blank lines, indentation style, quoting) stays exactly as the person who wrote it left it.
 */
export interface YamlFile {
  path: string;
  text: string;
  docs: Document.Parsed[];
  /** Source offset where each document's stretch of text starts (leading comments, `---`, …). */
  segmentStarts: number[];
  lineCounter: LineCounter;
}

/** One Kubernetes-shaped object found in a file: a whole document or one item of a `kind: List`. */
export interface FoundObject {
  docIndex: number;
  /** Index into `items` when the document is a List. */
  itemIndex?: number;
  value: Record<string, unknown>;
  /** 1-based line of the object's first key, for messages. */
  line: number;
}

export function parseYamlFile(path: string, text: string): YamlFile {
  const lineCounter = new LineCounter();
  const parser = new Parser(lineCounter.addNewLine);
  const composer = new Composer({ keepSourceTokens: false });
  const docs: Document.Parsed[] = [];
  const segmentStarts: number[] = [];
  // A document's stretch of text runs from the first token after the previous document (and its
  // `...` end marker) to the next one's. The yaml package hands comments between documents to the
  // following document, so replacing that stretch with the re-rendered document loses nothing.
  let afterDoc = false;
  let pendingStart: number | undefined = 0;
  for (const token of parser.parse(text)) {
    if (token.type === 'document') {
      segmentStarts.push(pendingStart ?? token.offset);
      pendingStart = undefined;
      afterDoc = true;
    } else if (token.type === 'doc-end' && afterDoc) {
      afterDoc = false;
    } else if (pendingStart === undefined) {
      pendingStart = token.offset;
      afterDoc = false;
    }
    for (const doc of composer.next(token)) docs.push(doc as Document.Parsed);
  }
  for (const doc of composer.end()) docs.push(doc as Document.Parsed);

  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const { line, col } = lineCounter.linePos(err.pos[0]);
      const what = err.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? err.code;
      throw new InputError(`${path}:${line}:${col}: invalid YAML: ${what}`, 'fix the file, or move it out of the directory');
    }
  }
  if (segmentStarts.length !== docs.length) {
    // Not expected from the yaml package; without a 1:1 mapping we cannot splice safely, so treat
    // the file as one stretch per document re-rendered in full on write.
    segmentStarts.length = 0;
  }
  return { path, text, docs, segmentStarts, lineCounter };
}

/** Every object in the file, Lists unrolled into their items. Documents that are not objects are skipped. */
export function objectsOf(file: YamlFile): FoundObject[] {
  const found: FoundObject[] = [];
  file.docs.forEach((doc, docIndex) => {
    const contents = doc.contents;
    if (!isMap(contents)) return;
    const value: unknown = doc.toJS({ maxAliasCount: 1000 });
    if (!isRecord(value)) return;
    if (value.kind === 'List' && Array.isArray(value.items)) {
      const itemsNode = contents.get('items', true);
      value.items.forEach((item: unknown, itemIndex) => {
        if (!isKubeObject(item)) return;
        const node = isSeq(itemsNode) ? itemsNode.items[itemIndex] : undefined;
        found.push({ docIndex, itemIndex, value: item, line: lineOf(file, node) ?? lineOf(file, contents) ?? 1 });
      });
      return;
    }
    if (isKubeObject(value)) found.push({ docIndex, value, line: lineOf(file, contents) ?? 1 });
  });
  return found;
}

/** Objects are recognised by `kind` and `metadata.name`; other YAML (values files, kustomization) is ignored. */
function isKubeObject(v: unknown): v is Record<string, unknown> {
  return isRecord(v) && typeof v.kind === 'string' && isRecord(v.metadata) && typeof v.metadata.name === 'string' && v.metadata.name !== '';
}

function lineOf(file: YamlFile, node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | undefined)?.range;
  return range ? file.lineCounter.linePos(range[0]).line : undefined;
}

export type DocEdit =
  | { op: 'update'; docIndex: number; itemIndex?: number; value: Record<string, unknown> }
  | { op: 'delete'; docIndex: number; itemIndex?: number };

/**
 * Applies edits to the file's Documents (which it mutates) and returns the new file text: untouched
 * documents keep their exact source text; a touched one is re-rendered from its edited node tree,
 * which still carries its comments. `append` adds new documents at the end.
 */
export function renderEdited(file: YamlFile, edits: DocEdit[], append: Record<string, unknown>[] = []): string {
  const touched = new Set<number>();
  const removed = new Set<number>();
  for (const edit of edits) {
    const doc = file.docs[edit.docIndex];
    if (!doc) throw new Error(`no document ${edit.docIndex} in ${file.path}`);
    touched.add(edit.docIndex);
    if (edit.itemIndex === undefined) {
      if (edit.op === 'delete') removed.add(edit.docIndex);
      else doc.contents = updateNode(doc, doc.contents, edit.value) as Document.Parsed['contents'];
      continue;
    }
    const items = isMap(doc.contents) ? doc.contents.get('items', true) : undefined;
    if (!isSeq(items) || edit.itemIndex >= items.items.length) throw new Error(`no item ${edit.itemIndex} in document ${edit.docIndex} of ${file.path}`);
    if (edit.op === 'update') items.items[edit.itemIndex] = updateNode(doc, items.items[edit.itemIndex], edit.value);
    else {
      // Deleting shifts later indexes: callers give at most one edit per List document.
      items.items.splice(edit.itemIndex, 1);
      if (items.items.length === 0) removed.add(edit.docIndex);
    }
  }

  let out = '';
  const n = file.docs.length;
  const spliceable = file.segmentStarts.length === n;
  for (let i = 0; i < n; i++) {
    if (removed.has(i)) continue;
    const doc = file.docs[i] as Document.Parsed;
    let piece: string;
    if (spliceable && !touched.has(i)) {
      piece = file.text.slice(file.segmentStarts[i], i + 1 < n ? file.segmentStarts[i + 1] : file.text.length);
    } else {
      piece = doc.toString();
    }
    out = joinDocs(out, piece);
  }
  for (const value of append) out = joinDocs(out, new Document(value).toString());
  return out;
}

/** Concatenates two documents' text, adding the `---` separator when the second lacks one. */
function joinDocs(before: string, piece: string): string {
  if (before === '') return piece.replace(/^---[ \t]*\n/, '');
  const sep = before.endsWith('\n') ? '' : '\n';
  const startsWithMarker = /^(?:(?:#[^\n]*|%[^\n]*|[ \t]*)\n)*---(?:[ \t\n]|$)/.test(piece);
  return before + sep + (startsWithMarker ? '' : '---\n') + piece;
}

/**
 * Makes `node` represent `value` with the fewest changes: maps and sequences are updated member by
 * member, and a scalar that keeps its value keeps its node, so comments, key order and quoting
 * survive in the parts of an edited object that did not change.
 */
export function updateNode(doc: Document, node: unknown, value: unknown): unknown {
  if (isAlias(node)) {
    if (deepEqualJson(node.resolve(doc)?.toJSON(), value)) return node;
    return doc.createNode(value);
  }
  if (isMap(node) && isRecord(value)) {
    const wanted = new Map(Object.entries(value).filter(([, v]) => v !== undefined));
    node.items = node.items.filter((pair) => isPair(pair) && wanted.has(keyText(pair.key)));
    const present = new Set<string>();
    for (const pair of node.items) {
      const k = keyText(pair.key);
      present.add(k);
      pair.value = updateNode(doc, pair.value, wanted.get(k)) as typeof pair.value;
    }
    for (const [k, v] of wanted) if (!present.has(k)) node.items.push(doc.createPair(k, v));
    return node;
  }
  if (isSeq(node) && Array.isArray(value)) {
    const items = value.map((v, i) => (i < node.items.length ? updateNode(doc, node.items[i], v) : doc.createNode(v)));
    node.items = items;
    return node;
  }
  if (isScalar(node) && (value === null || typeof value !== 'object')) {
    if (node.value === value) return node;
    // Same kind of value: keep the node (and its comments); its old quoting still fits a string.
    if (typeof node.value === typeof value && typeof value === 'string') {
      node.value = value;
      return node;
    }
  }
  const fresh = doc.createNode(value) as Node;
  copyComments(node, fresh);
  return fresh;
}

function copyComments(from: unknown, to: Node): void {
  if (typeof from !== 'object' || from === null) return;
  const f = from as { commentBefore?: string | null; comment?: string | null; spaceBefore?: boolean };
  if (f.commentBefore) to.commentBefore = f.commentBefore;
  if (f.comment) to.comment = f.comment;
  if (f.spaceBefore) to.spaceBefore = f.spaceBefore;
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Canonical JSON: sorted keys, undefined members dropped, so equal data gives equal text. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : canonicalJson(x))).join(',')}]`;
  if (isRecord(v)) {
    const keys = Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k])}`).join(',')}}`;
  }
  if (v instanceof Date) return JSON.stringify(v.toISOString());
  return JSON.stringify(v) ?? 'null';
}

export function deepEqualJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
