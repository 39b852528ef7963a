import { Composer, Document, isAlias, isCollection, isMap, isPair, isScalar, isSeq, LineCounter, Parser, type Node, type Scalar, type YAMLMap, type YAMLSeq } from 'yaml';
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

/** Counts kept by renderEdited, for tests: how often the careful edit had to be given up. */
export interface RenderStats {
  /** Edited documents re-rendered whole (comments kept, layout not) because the in-place edit did not read back right. */
  rerendered: number;
  /** Edited documents written from their plain value (their comments lost) because even that failed. */
  plain: number;
}

/**
 * Applies edits to the file's Documents (which it mutates) and returns the new file text.
 * Untouched documents keep their exact source text. Inside a touched document only what changed is
 * rewritten: a changed scalar is replaced where it stands, and a map or sequence that gained or lost
 * members is re-rendered in place at its own indentation (flow ones on their line), so comments and
 * layout elsewhere in the document survive too. Only when that is impossible (the document's top
 * node changed type, anchors) is the whole document re-rendered from its edited node tree, which
 * still carries its comments. `append` adds new documents at the end.
 *
 * The result is parsed again and checked against the intended values: text splicing and the yaml
 * package's comment placement have corner cases, and a store must never write something that reads
 * back different. A document that fails the check is written from its plain value instead.
 */
export function renderEdited(file: YamlFile, edits: DocEdit[], append: Record<string, unknown>[] = [], stats?: RenderStats): string {
  const ctx: EditContext = { file, changes: new Map(), indentSeq: !NON_INDENTED_SEQ.test(file.text) };
  const expected: unknown[] = file.docs.map((d) => d.toJS({ maxAliasCount: 1000 }) as unknown);
  const rerender = new Set<number>();
  const removed = new Set<number>();
  for (const edit of edits) {
    const doc = file.docs[edit.docIndex];
    if (!doc) throw new Error(`no document ${edit.docIndex} in ${file.path}`);
    rerender.delete(edit.docIndex);
    if (edit.itemIndex === undefined) {
      if (edit.op === 'delete') {
        removed.add(edit.docIndex);
        continue;
      }
      expected[edit.docIndex] = edit.value;
      const r = updateIn(ctx, edit.docIndex, doc.contents, edit.value);
      doc.contents = r.node as Document.Parsed['contents'];
      if (r.dirty) rerender.add(edit.docIndex);
      continue;
    }
    const items = isMap(doc.contents) ? doc.contents.get('items', true) : undefined;
    const expectedItems = (expected[edit.docIndex] as { items?: unknown[] } | undefined)?.items;
    if (!isSeq(items) || !expectedItems || edit.itemIndex >= items.items.length) {
      throw new Error(`no item ${edit.itemIndex} in document ${edit.docIndex} of ${file.path}`);
    }
    if (edit.op === 'update') {
      expectedItems[edit.itemIndex] = edit.value;
      const r = updateIn(ctx, edit.docIndex, items.items[edit.itemIndex], edit.value);
      items.items[edit.itemIndex] = r.node;
      if (r.dirty && !renderInPlace(ctx, edit.docIndex, items)) rerender.add(edit.docIndex);
    } else {
      // Deleting shifts later indexes: callers give at most one edit per List document.
      expectedItems.splice(edit.itemIndex, 1);
      items.items.splice(edit.itemIndex, 1);
      if (items.items.length === 0) removed.add(edit.docIndex);
      else if (!renderInPlace(ctx, edit.docIndex, items)) rerender.add(edit.docIndex);
    }
  }

  const n = file.docs.length;
  const spliceable = file.segmentStarts.length === n;
  const touched = new Set(edits.map((e) => e.docIndex));
  const crlf = file.text.includes('\r\n');
  // Three ways to write an edited document, most faithful first; see the check below.
  let mode: 'in-place' | 'rerender' | 'plain' = 'in-place';
  const assemble = (): string => {
    let out = '';
    for (let i = 0; i < n; i++) {
      if (removed.has(i)) continue;
      const doc = file.docs[i] as Document.Parsed;
      const edited = touched.has(i);
      let piece: string;
      if (edited && mode === 'plain') {
        piece = new Document(expected[i]).toString({ indentSeq: ctx.indentSeq });
      } else if (spliceable && !(edited && (mode === 'rerender' || rerender.has(i)))) {
        const start = file.segmentStarts[i] ?? 0;
        const end = i + 1 < n ? (file.segmentStarts[i + 1] ?? file.text.length) : file.text.length;
        piece = file.text.slice(start, end);
        // Right to left, so earlier offsets stay valid; renderInPlace keeps changes from nesting.
        for (const c of [...(ctx.changes.get(i) ?? [])].sort((a, b) => b.start - a.start)) {
          piece = piece.slice(0, c.start - start) + c.text + piece.slice(c.end - start);
        }
      } else {
        piece = doc.toString({ indentSeq: ctx.indentSeq });
      }
      out = joinDocs(out, piece);
    }
    for (const value of append) out = joinDocs(out, new Document(value).toString({ indentSeq: ctx.indentSeq }));
    // The yaml package writes \n; a file saved with Windows line ends keeps them.
    return crlf ? out.replace(/\r?\n/g, '\r\n') : out;
  };
  const want = [...expected.filter((_, i) => !removed.has(i)), ...append];
  let out = assemble();
  if (mismatches(out, want).length === 0) return out;
  // Which documents are wrong does not map back reliably when a boundary broke, so every edited
  // document steps down together; untouched ones keep their text throughout.
  mode = 'rerender';
  if (stats) stats.rerendered += touched.size;
  out = assemble();
  if (mismatches(out, want).length === 0) return out;
  mode = 'plain';
  if (stats) stats.plain += touched.size;
  out = assemble();
  const bad = mismatches(out, want);
  if (bad.length > 0) throw new Error(`internal error: cannot write ${file.path} so that it reads back as intended (documents ${bad.join(', ')})`);
  return out;
}

/** Indexes of documents in `text` that do not read back as `want` (or all, when the count differs). */
function mismatches(text: string, want: unknown[]): number[] {
  const docs = new Composer().compose(new Parser().parse(text));
  const got = [...docs];
  if (got.length !== want.length || got.some((d) => d.errors.length > 0)) return want.map((_, i) => i);
  return got.flatMap((d, i) => (canonicalJson(d.toJS({ maxAliasCount: 1000 })) === canonicalJson(want[i]) ? [] : [i]));
}

// `key:` followed by `- item` at the same column: the file writes sequences unindented (kubectl's
// style), so re-rendered parts follow suit.
const NON_INDENTED_SEQ = /^( *)[^\s#-][^\n]*:[ \t]*\n\1- /m;

interface TextChange {
  start: number;
  end: number;
  text: string;
}

interface EditContext {
  file: YamlFile;
  /** Text replacements per document index. */
  changes: Map<number, TextChange[]>;
  indentSeq: boolean;
}

/** `dirty`: the node could not be written in place; whoever holds it must re-render. */
interface Updated {
  node: unknown;
  dirty: boolean;
}

function updateIn(ctx: EditContext, docIndex: number, node: unknown, value: unknown): Updated {
  const doc = ctx.file.docs[docIndex] as Document;
  return updateNode(doc, node, value, {
    patch: (c) => {
      const list = ctx.changes.get(docIndex) ?? [];
      list.push(c);
      ctx.changes.set(docIndex, list);
    },
    rerender: (n) => renderInPlace(ctx, docIndex, n),
  });
}

interface UpdateHooks {
  patch(change: TextChange): void;
  /** Re-renders a changed collection in place; false when it cannot be. */
  rerender(node: YAMLMap | YAMLSeq): boolean;
}

/**
 * Makes `node` represent `value` with the fewest changes: maps and sequences are updated member by
 * member (kept keys keep their order), and a scalar that keeps its value keeps its node, so comments
 * and quoting survive in the parts of an edited object that did not change.
 */
export function updateNode(doc: Document, node: unknown, value: unknown, hooks?: UpdateHooks): Updated {
  if (isAlias(node)) {
    if (deepEqualJson(node.resolve(doc)?.toJSON(), value)) return { node, dirty: false };
    return { node: doc.createNode(value), dirty: true };
  }
  if (isMap(node) && isRecord(value)) {
    const wanted = new Map(Object.entries(value).filter(([, v]) => v !== undefined));
    const kept = node.items.filter((pair) => isPair(pair) && wanted.has(keyText(pair.key)));
    let changed = kept.length !== node.items.length;
    node.items = kept;
    const present = new Set<string>();
    for (const pair of node.items) {
      const k = keyText(pair.key);
      present.add(k);
      const r = updateNode(doc, pair.value, wanted.get(k), hooks);
      pair.value = r.node as typeof pair.value;
      changed ||= r.dirty;
      if (isCollection(r.node) && r.node.items.length === 0 && (r.node.commentBefore || r.node.comment || !r.node.flow)) {
        // The yaml package writes an empty block collection, or a comment before one, on a line of
        // its own where it does not parse back: keep it on the key's line, comment above the key.
        if (r.node.commentBefore && isScalar(pair.key)) {
          pair.key.commentBefore = [pair.key.commentBefore, r.node.commentBefore].filter(Boolean).join('\n');
          r.node.commentBefore = null;
        }
        r.node.flow = true;
      }
    }
    for (const [k, v] of wanted) {
      if (present.has(k)) continue;
      node.items.push(doc.createPair(k, v));
      changed = true;
    }
    return { node, dirty: changed && !(hooks?.rerender(node) ?? false) };
  }
  if (isSeq(node) && Array.isArray(value)) {
    let changed = value.length !== node.items.length;
    node.items = value.map((v, i) => {
      if (i >= node.items.length) return doc.createNode(v);
      const r = updateNode(doc, node.items[i], v, hooks);
      changed ||= r.dirty;
      return r.node;
    });
    return { node, dirty: changed && !(hooks?.rerender(node) ?? false) };
  }
  if (isScalar(node) && (value === null || typeof value !== 'object')) {
    if (node.value === value) return { node, dirty: false };
    const text = scalarSource(node, value);
    // An empty value (`key:`) has no text to replace; its holder re-renders instead.
    if (text !== undefined && node.range && node.range[1] > node.range[0] && hooks) {
      hooks.patch({ start: node.range[0], end: node.range[1], text });
      node.value = value;
      return { node, dirty: false };
    }
    // Same kind of value: keep the node (and its comments); its old quoting still fits a string.
    if (typeof node.value === 'string' && typeof value === 'string') {
      node.value = value;
      return { node, dirty: true };
    }
  }
  const fresh = doc.createNode(value) as Node;
  copyComments(node, fresh);
  return { node: fresh, dirty: true };
}

/**
 * Replaces a collection's source text with a rendering of its edited node: a block collection over
 * its whole range at its own column, a flow one within its line. Changes already recorded inside it
 * are dropped, as the rendering includes them. False when the node has no source position, carries
 * an anchor or tag (whose text sits outside its range), or a flow rendering would need several lines.
 */
function renderInPlace(ctx: EditContext, docIndex: number, node: YAMLMap | YAMLSeq): boolean {
  const range = node.range;
  if (!range || node.anchor || node.tag) return false;
  // An emptied block collection is written `[]` / `{}`, which must stand on its key's line.
  if (!node.flow && node.items.length === 0) return false;
  const text = ctx.file.text;
  const flow = node.flow === true;
  const saved = { commentBefore: node.commentBefore, spaceBefore: node.spaceBefore, comment: node.comment };
  // Comments before the node lie before its range and stay in the source; a flow node's trailing
  // comment lies after its value and stays too.
  node.commentBefore = null;
  node.spaceBefore = false;
  if (flow) node.comment = null;
  let rendered: string;
  try {
    const tmp = new Document();
    tmp.contents = node;
    rendered = tmp.toString({ indentSeq: ctx.indentSeq });
  } finally {
    node.commentBefore = saved.commentBefore;
    node.spaceBefore = saved.spaceBefore ?? false;
    node.comment = saved.comment;
  }
  let change: TextChange;
  if (flow) {
    rendered = rendered.replace(/\n$/, '');
    if (rendered.includes('\n')) return false;
    change = { start: range[0], end: range[1], text: rendered };
  } else {
    const lineStart = text.lastIndexOf('\n', range[0] - 1) + 1;
    const pad = ' '.repeat(range[0] - lineStart);
    const lines = rendered.split('\n');
    const body = lines.map((l, i) => (i === 0 || l === '' ? l : pad + l)).join('\n');
    // A block collection's range ends after its last line break (or at the end of the file).
    change = { start: range[0], end: range[2], text: text.slice(range[0], range[2]).endsWith('\n') ? body : body.replace(/\n$/, '') };
  }
  const list = (ctx.changes.get(docIndex) ?? []).filter((c) => c.start < change.start || c.end > change.end);
  list.push(change);
  ctx.changes.set(docIndex, list);
  return true;
}

const PLAIN_SAFE = /^[A-Za-z_/][A-Za-z0-9_./-]*$/;
const PLAIN_AMBIGUOUS = /^(?:true|false|yes|no|on|off|y|n|null|~)$/i;

/**
 * The source text for a new scalar value written where an old one stood, or undefined when it cannot
 * be written in place safely (block scalars, anchors, multi-line text). Plain text is used only for
 * words that cannot mean anything else, in block or flow context alike; everything else is
 * double-quoted (JSON's escaping is valid YAML).
 */
function scalarSource(node: Scalar, value: unknown): string | undefined {
  if (node.anchor || node.tag) return undefined;
  const type = node.type ?? 'PLAIN';
  if (type !== 'PLAIN' && type !== 'QUOTE_DOUBLE' && type !== 'QUOTE_SINGLE') return undefined;
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value !== 'string' || value.includes('\n')) return undefined;
  if (type === 'QUOTE_SINGLE') return `'${value.replace(/'/g, "''")}'`;
  if (type === 'PLAIN' && PLAIN_SAFE.test(value) && !PLAIN_AMBIGUOUS.test(value)) return value;
  return JSON.stringify(value);
}

/** Concatenates two documents' text, adding the `---` separator when the second lacks one. */
function joinDocs(before: string, piece: string): string {
  if (before === '') return piece.replace(/^---[ \t]*\n/, '');
  const sep = before.endsWith('\n') ? '' : '\n';
  const startsWithMarker = /^(?:(?:#[^\n]*|%[^\n]*|[ \t]*)\n)*---(?:[ \t\n]|$)/.test(piece);
  return before + sep + (startsWithMarker ? '' : '---\n') + piece;
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
