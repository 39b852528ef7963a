import type { Resource, ResourceRef } from '../api/resource.js';

/**
 * The one way commands, the controller and the proxy reach mesh state: a Kubernetes API server
 * (kube backend) or a directory of YAML (file backend). See DESIGN.md "Contracts".
 */
export interface ConfigStore {
  readonly backend: 'kube' | 'file';
  /** Human description of where the data lives: a context name or a directory. */
  readonly location: string;
  /** The namespace used when -n is not given: the kube context's, or "default". */
  readonly defaultNamespace: string;

  /** Objects of one kind; namespace undefined means every namespace. */
  list(kind: string, namespace?: string): Promise<Resource[]>;
  get(ref: ResourceRef): Promise<Resource | undefined>;

  /**
   * Create or update. If `resource.metadata.resourceVersion` is set the write only succeeds when
   * the stored object still has that version (else a StoreConflict is thrown); unset means the
   * caller owns the whole object. Returns the stored object with its new resourceVersion.
   */
  apply(resource: Resource, opts?: ApplyOptions): Promise<Resource>;

  /**
   * Read-modify-write with optimistic concurrency: `mutate` gets the current object (undefined if
   * absent) and returns the desired one (or undefined to leave it as it is). On a conflict the
   * object is read again and `mutate` runs again on fresh data; a write is never blindly overwritten.
   */
  modify(ref: ResourceRef, mutate: (current: Resource | undefined) => Resource | undefined, opts?: ApplyOptions): Promise<ModifyResult>;

  /** Returns false when there was nothing to delete. */
  delete(ref: ResourceRef, opts?: { dryRun?: boolean }): Promise<boolean>;

  /** Change events for one kind until `stop()`. Reconnects on its own; `onError` hears about trouble. */
  watch(kind: string, namespace: string | undefined, onEvent: (event: WatchEvent) => void, onError?: (err: Error) => void): Promise<Watcher>;

  close(): Promise<void>;
}

export interface ApplyOptions {
  /** Validate and compute the result without storing it. */
  dryRun?: boolean;
}

export interface ModifyResult {
  before: Resource | undefined;
  after: Resource | undefined;
  /** False when `mutate` returned undefined or an object equal to the current one. */
  changed: boolean;
  /** How many times the write lost a race and was redone on fresh data. */
  retries: number;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface WatchEvent {
  type: WatchEventType;
  resource: Resource;
}

export interface Watcher {
  stop(): Promise<void>;
}

/** Thrown by `apply` when the expected resourceVersion is stale. `modify` handles it itself. */
export class StoreConflict extends Error {
  constructor(readonly ref: ResourceRef) {
    super(`conflict writing ${ref.kind} ${ref.namespace ?? ''}/${ref.name}: it changed since it was read`);
    this.name = 'StoreConflict';
  }
}

/** How many times `modify` redoes a write that lost a race before giving up. */
export const MAX_MODIFY_RETRIES = 10;
