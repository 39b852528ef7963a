import type { Resource, ResourceRef } from '../../api/resource.js';
import type { AnalysisContext } from './context.js';
import type { Redefinition } from './overlay.js';

/** Message levels, as istioctl names them; order matters for thresholds (see levelRank). */
export type Level = 'Error' | 'Warning' | 'Info';
export const LEVELS: readonly Level[] = ['Info', 'Warning', 'Error'];

export function levelRank(level: Level): number {
  return LEVELS.indexOf(level);
}

/** Where a resource came from when it was read from a file; positions are 1-based. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

/** A path into a resource, as keys and indexes: ['spec', 'http', 0, 'route', 1, 'weight']. */
export type FieldPath = readonly (string | number)[];

/**
 * A resource as analysis sees it: the object, and (for file input) a way to find the source
 * position of any field in it. `locate` is lazy because most fields are never reported.
 */
export interface InputResource {
  resource: Resource;
  /** The file (or `-`) it came from; undefined for cluster objects. */
  file?: string | undefined;
  locate?: ((path: FieldPath) => SourcePosition) | undefined;
}

/**
 * What analysis runs on. `origin` tells analyzers how much the snapshot knows: `cluster` means every
 * kind was listed (an absent object really is absent); `files` means only what the files hold, so a
 * check that needs objects the files do not contain must be skipped rather than guessed.
 */
export interface Snapshot {
  resources: readonly InputResource[];
  origin: 'files' | 'cluster';
  /** Namespace given to objects that have none (files): -n, else "default". */
  defaultNamespace: string;
  /** The cluster domain hosts are qualified with. */
  domain?: string;
  /** Kinds the cluster could not be asked for (no CRD, no API): a cluster snapshot does not know them. */
  unlistedKinds?: readonly string[] | undefined;
  /** Objects the input files define more than once, differently (see overlay.ts). */
  redefined?: readonly Redefinition[] | undefined;
  /** Control plane version (cluster mode), for the sidecar version check. */
  controlPlaneVersion?: string | undefined;
}

export interface Message {
  code: string;
  /** Catalogue name, e.g. ReferencedResourceNotFound. */
  name: string;
  level: Level;
  text: string;
  analyzer: string;
  resource: ResourceRef;
  /** The offending field, dotted: spec.http[0].route[1].weight. */
  field?: string | undefined;
  /** Position of the offending field, for file input. */
  origin?: SourcePosition | undefined;
}

export interface Skipped {
  analyzer: string;
  reason: string;
}

/** What an analyzer reports with: the message code, the resource, the field, and template args. */
export interface Reporter {
  report(code: string, on: InputResource, field: FieldPath | undefined, ...args: (string | number)[]): void;
  /** The analyzer could not run (fully or for some objects) because the input lacks what it needs. */
  skip(reason: string): void;
}

export interface Analyzer {
  /** Stable dotted name: `virtualservice.host-not-found`. */
  name: string;
  codes: readonly string[];
  description: string;
  /** Kinds the analyzer reads; `meshctl cluster snapshot` lists exactly the union of these. */
  inputs: readonly string[];
  /** May be async (schema validation compiles validators lazily); most analyzers are synchronous. */
  analyze(ctx: AnalysisContext, report: Reporter): void | Promise<void>;
}
