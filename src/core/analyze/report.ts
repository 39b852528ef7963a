import type { AnalysisResult } from './engine.js';
import { applySuppressions, atOrAbove, newSince, type Suppression } from './filter.js';
import type { InputResource, Level, Message, Skipped } from './types.js';

/** What `meshctl analyze -o json|yaml` prints, and what the other formats are rendered from. */
export interface AnalysisReport {
  messages: Message[];
  skipped: Skipped[];
  analyzers: string[];
  summary: {
    resources: number;
    errors: number;
    warnings: number;
    infos: number;
    /** Messages (in the namespaces asked about) hidden by suppressions, the output threshold or the baseline. */
    hidden: number;
    failureThreshold: Level;
    outputThreshold: Level;
    /** True when a message at or above the failure threshold exists: exit 79. */
    failed: boolean;
  };
}

export interface ReportOptions {
  suppressions: readonly Suppression[];
  resources: readonly InputResource[];
  defaultNamespace: string;
  failureThreshold: Level;
  outputThreshold: Level;
  baseline?: readonly Pick<Message, 'code' | 'resource' | 'field' | 'text'>[] | undefined;
  /** Only messages about resources in these namespaces (cluster mode with -n). */
  namespaces?: ReadonlySet<string> | undefined;
}

/**
 * Namespace scope, suppressions, baseline and thresholds, in that order. The failure decision uses
 * every unsuppressed new message, so --output-threshold only changes what is shown, never the exit code.
 */
export function buildReport(result: AnalysisResult, opts: ReportOptions): AnalysisReport {
  // Out-of-scope namespaces are not "hidden" findings: -n asked about one namespace only.
  const ns = opts.namespaces;
  const inScope = ns
    ? result.messages.filter((m) => m.resource.namespace === undefined || ns.has(m.resource.namespace) || (m.resource.kind === 'Namespace' && ns.has(m.resource.name)))
    : result.messages;
  let kept = applySuppressions(inScope, { suppressions: opts.suppressions, resources: opts.resources, defaultNamespace: opts.defaultNamespace });
  if (opts.baseline) kept = newSince(kept, opts.baseline);
  const failed = atOrAbove(kept, opts.failureThreshold).length > 0;
  const shown = atOrAbove(kept, opts.outputThreshold);
  return {
    messages: shown,
    skipped: result.skipped,
    analyzers: result.analyzers,
    summary: {
      // With -n, the objects of that namespace (the others were read only as references).
      resources: ns ? opts.resources.filter(({ resource: r }) => (r.kind === 'Namespace' ? ns.has(r.metadata.name) : ns.has(r.metadata.namespace || opts.defaultNamespace))).length : result.resources,
      errors: shown.filter((m) => m.level === 'Error').length,
      warnings: shown.filter((m) => m.level === 'Warning').length,
      infos: shown.filter((m) => m.level === 'Info').length,
      hidden: inScope.length - shown.length,
      failureThreshold: opts.failureThreshold,
      outputThreshold: opts.outputThreshold,
      failed,
    },
  };
}
