/**
 * The shape every stored object has, whatever its kind. Kind-specific spec types live in
 * src/api/generated/ (from the CRD schemas) and come from @kubernetes/client-node for core kinds.
 */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
  generation?: number;
  creationTimestamp?: string;
  [key: string]: unknown;
}

export interface Resource<Spec = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  [key: string]: unknown;
}

/** Identifies one object. namespace is undefined for cluster-scoped kinds. */
export interface ResourceRef {
  kind: string;
  namespace?: string | undefined;
  name: string;
}

export function refOf(r: Resource): ResourceRef {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
}

/** `VirtualService reviews.default`, the form istioctl prints and `--suppress` matches. */
export function displayRef(ref: ResourceRef): string {
  return ref.namespace ? `${ref.kind} ${ref.name}.${ref.namespace}` : `${ref.kind} ${ref.name}`;
}
