import { load as fastLoad } from 'js-yaml';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, parseDocument, type Document, type Node } from 'yaml';
import type { Resource } from '../../api/resource.js';
import { InputError } from '../errors.js';
import type { FieldPath, InputResource, SourcePosition } from './types.js';

export interface SourceText {
  /** File name as the user gave it (`-` for stdin). */
  file: string;
  text: string;
}

/**
 * Parses multi-document YAML (Helm output, `kubectl get -o yaml` Lists, comments) into resources
 * that remember where each field is. Pure: the caller reads the files. Empty documents are skipped;
 * unparsable YAML or a document that is not a Kubernetes object is an InputError naming file:line.
 */
export interface LoadOptions {
  /** Use the yaml package for everything (tests compare both paths). */
  exact?: boolean;
  /** Skip documents that are not Kubernetes objects instead of failing (istioctl --ignore-unknown). */
  ignoreUnknown?: boolean;
}

export function loadSources(sources: readonly SourceText[], opts: LoadOptions = {}): InputResource[] {
  const out: InputResource[] = [];
  for (const src of sources) {
    const fromThis: InputResource[] = [];
    try {
      const fast = opts.exact ? undefined : loadFast(src, opts.ignoreUnknown === true);
      if (fast) fromThis.push(...fast);
      else loadOne(src, fromThis, opts.ignoreUnknown === true);
    } catch (e) {
      // An unrendered Helm (Go) template fails as YAML or as an object; say what it is and how to
      // feed it. A valid file may hold `{{ }}` too (alerting templates in a ConfigMap): those load.
      if (!(e instanceof InputError) || !GO_TEMPLATE.test(src.text)) throw e;
      if (opts.ignoreUnknown) continue;
      throw new InputError(`${e.message} (${src.file} looks like an unrendered Helm template)`, 'render it first: helm template ./chart | meshctl analyze - ; or --ignore-unknown skips it');
    }
    out.push(...fromThis);
  }
  return out;
}

const GO_TEMPLATE = /\{\{-?\s*(?:[.$]|if\b|range\b|with\b|include\b|template\b|define\b|end\b|else\b|toYaml\b|-?\s*\/\*)/;

/**
 * Build-tool configuration that sits beside manifests but is never applied to a cluster: reading
 * `-R k8s/` must not fail on a kustomization.yaml.
 */
function isToolConfig(value: Record<string, unknown>): boolean {
  return typeof value.apiVersion === 'string' && value.apiVersion.startsWith('kustomize.config.k8s.io/');
}

/** One `---`-separated document of a file, and the 0-based line it starts on. */
interface Chunk {
  text: string;
  line: number;
}

/**
 * Plain Kubernetes YAML is split at its `---` lines and read with js-yaml, several times faster
 * than building yaml's full document model (10,000 resources in a fraction of a second). Source
 * positions are then computed lazily, only for documents a message points into, by parsing that
 * one document with the `yaml` package. Anything unusual (directives, anchors and aliases, merge
 * keys, tags after `---`, any parse error) takes the exact path instead, so both paths agree.
 */
function loadFast(src: SourceText, ignoreUnknown: boolean): InputResource[] | undefined {
  if (/^%|[&*]\w|<<:|^--- *[^\s#]/m.test(src.text)) return undefined;
  const chunks: Chunk[] = [];
  const lines = src.text.split('\n');
  let start = 0;
  for (let i = 0; i <= lines.length; i++) {
    const l = i < lines.length ? (lines[i] ?? '') : undefined;
    if (l === undefined || /^(---|\.\.\.)\s*(#.*)?\r?$/.test(l)) {
      chunks.push({ text: lines.slice(start, i).join('\n'), line: start });
      start = i + 1;
    }
  }
  const out: InputResource[] = [];
  for (const chunk of chunks) {
    if (!/^[ \t]*[^\s#]/m.test(chunk.text)) continue; // only comments and blank lines
    let value: unknown;
    try {
      value = fastLoad(chunk.text);
    } catch {
      return undefined;
    }
    if (value === null || value === undefined) continue;
    let doc: Document | undefined;
    let counter: LineCounter | undefined;
    // Parsed on first use only: most documents never have a message to place.
    const locateIn = (path: FieldPath): SourcePosition => {
      if (!doc || !counter) {
        counter = new LineCounter();
        doc = parseDocument(chunk.text, { lineCounter: counter, logLevel: 'error' });
      }
      const p = counter.linePos(offsetOf(doc, path));
      return { file: src.file, line: p.line + chunk.line, column: p.col };
    };
    if (!isObject(value)) {
      if (ignoreUnknown) continue;
      return undefined;
    }
    if (isListKind(value)) {
      const items = Array.isArray(value.items) ? value.items : [];
      for (const [i, item] of items.entries()) {
        const r = checkResource(src.file, item, (path) => locateIn(['items', i, ...path]), ignoreUnknown);
        if (r) out.push(r);
      }
    } else {
      const r = checkResource(src.file, value, locateIn, ignoreUnknown);
      if (r) out.push(r);
    }
  }
  return out;
}

function isListKind(value: Record<string, unknown>): boolean {
  return value.kind === 'List' || (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items));
}

function loadOne(src: SourceText, out: InputResource[], ignoreUnknown: boolean): void {
  const lineCounter = new LineCounter();
  // logLevel 'error': no Node process warnings on stderr (e.g. for a `{{ .Values }}` mapping key).
  const docs = parseAllDocuments(src.text, { lineCounter, prettyErrors: true, logLevel: 'error' });
  // parseAllDocuments returns an EmptyStream (no array) for text with no documents at all.
  if (!Array.isArray(docs)) return;
  const pos = (offset: number): SourcePosition => {
    const p = lineCounter.linePos(offset);
    return { file: src.file, line: p.line, column: p.col };
  };
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const at = pos(err.pos[0]);
      // prettyErrors ends the first line with "at line L, column C:", which file:line:col already says.
      const text = (err.message.split('\n')[0] ?? err.code).replace(/ at line \d+, column \d+:?$/, '');
      throw new InputError(`${src.file}:${at.line}:${at.column}: invalid YAML: ${text}`, 'fix the YAML syntax');
    }
    let value: unknown;
    try {
      // maxAliasCount bounds alias expansion ("billion laughs") in untrusted pull-request input.
      value = doc.toJS({ maxAliasCount: 1000 });
    } catch (e) {
      const at = pos(doc.range?.[0] ?? 0);
      throw new InputError(`${src.file}:${at.line}: cannot read document: ${e instanceof Error ? e.message : String(e)}`);
    }
    if (value === null || value === undefined) continue;
    const docPos = doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0;
    if (!isObject(value)) {
      if (ignoreUnknown) continue;
      const at = pos(docPos);
      throw new InputError(`${src.file}:${at.line}: not a Kubernetes object (a document must be a mapping with apiVersion, kind and metadata)`);
    }
    if (isListKind(value)) {
      const items = Array.isArray(value.items) ? value.items : [];
      items.forEach((item, i) => pushResource(src.file, doc, ['items', i], item, pos, out, ignoreUnknown));
    } else {
      pushResource(src.file, doc, [], value, pos, out, ignoreUnknown);
    }
  }
}

function pushResource(file: string, doc: Document, prefix: FieldPath, value: unknown, pos: (offset: number) => SourcePosition, out: InputResource[], ignoreUnknown: boolean): void {
  const r = checkResource(file, value, (path: FieldPath): SourcePosition => pos(offsetOf(doc, [...prefix, ...path])), ignoreUnknown);
  if (r) out.push(r);
}

/** A Kubernetes object, or an InputError naming file:line of what is missing (undefined: skipped as unknown). */
function checkResource(file: string, value: unknown, locate: (path: FieldPath) => SourcePosition, ignoreUnknown: boolean): InputResource | undefined {
  if (isObject(value) && isToolConfig(value)) return undefined;
  if (!isObject(value) || typeof value.kind !== 'string' || typeof value.apiVersion !== 'string' || !value.kind) {
    if (ignoreUnknown) return undefined;
    const at = locate([]);
    throw new InputError(`${file}:${at.line}: not a Kubernetes object: apiVersion and kind are required`);
  }
  const meta = value.metadata;
  // Objects created with generateName (Jobs, Pods of a test) are named by the server: use the prefix.
  if (isObject(meta) && (meta.name === undefined || meta.name === '') && typeof meta.generateName === 'string' && meta.generateName !== '') meta.name = meta.generateName;
  if (!isObject(meta) || typeof meta.name !== 'string' || meta.name === '') {
    const at = locate(['metadata']);
    throw new InputError(`${file}:${at.line}: ${value.kind} has no metadata.name`);
  }
  if (meta.namespace !== undefined && typeof meta.namespace !== 'string') {
    const at = locate(['metadata', 'namespace']);
    throw new InputError(`${file}:${at.line}: ${value.kind} ${meta.name}: metadata.namespace must be a string`);
  }
  for (const key of ['labels', 'annotations'] as const) {
    const m = meta[key];
    if (m !== undefined && m !== null && !isStringMap(m)) {
      const at = locate(['metadata', key]);
      throw new InputError(`${file}:${at.line}: ${value.kind} ${meta.name}: metadata.${key} must map strings to strings`);
    }
  }
  return { resource: value as unknown as Resource, file, locate };
}

/**
 * Source offset of the deepest node on `path` that exists. A map entry points at its key (the
 * field name a person looks for); a list item at the item.
 */
function offsetOf(doc: Document, path: FieldPath): number {
  let node: unknown = doc.contents;
  let best = (doc.contents as Node | null)?.range?.[0] ?? doc.range?.[0] ?? 0;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      const key = pair.key as Node;
      if (key.range) best = key.range[0];
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) break;
      if (item.range) best = item.range[0];
      node = item;
    } else break;
  }
  return best;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isStringMap(v: unknown): boolean {
  return isObject(v) && Object.values(v).every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean');
}
