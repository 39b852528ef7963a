import { AnalysisContext } from './context.js';
import { formatTemplate, messageType } from './messages.js';
import type { Analyzer, FieldPath, InputResource, Message, Skipped, Snapshot } from './types.js';
import { pathString } from './util.js';

export interface AnalysisResult {
  messages: Message[];
  skipped: Skipped[];
  /** Names of the analyzers that ran. */
  analyzers: string[];
  resources: number;
}

/**
 * Runs analyzers over a snapshot. Pure: no I/O, no clock; the same snapshot gives the same messages
 * in the same order (sorted by file, line, column, code, resource) so CI diffs and baselines are stable.
 */
export async function analyze(snapshot: Snapshot, analyzers: readonly Analyzer[]): Promise<AnalysisResult> {
  const ctx = new AnalysisContext(snapshot);
  const messages: Message[] = [];
  const skipped: Skipped[] = [];
  const seen = new Set<string>();
  for (const analyzer of analyzers) {
    const skipReasons = new Set<string>();
    await analyzer.analyze(ctx, {
      report(code: string, on: InputResource, field: FieldPath | undefined, ...args: (string | number)[]) {
        if (!analyzer.codes.includes(code)) throw new Error(`analyzer ${analyzer.name} reported ${code}, which it does not declare`);
        const type = messageType(code);
        const msg: Message = {
          code,
          name: type.name,
          level: type.level,
          text: formatTemplate(type.template, args),
          analyzer: analyzer.name,
          resource: ctx.ref(on.resource),
          field: field && field.length ? pathString(field) : undefined,
          origin: on.locate ? on.locate(field ?? []) : undefined,
        };
        // Two analyzers (or one walking a shared structure twice) must not print the same finding twice.
        const key = `${code}|${msg.resource.kind}|${msg.resource.namespace}|${msg.resource.name}|${msg.field}|${msg.text}`;
        if (seen.has(key)) return;
        seen.add(key);
        messages.push(msg);
      },
      skip(reason: string) {
        if (skipReasons.has(reason)) return;
        skipReasons.add(reason);
        skipped.push({ analyzer: analyzer.name, reason });
      },
    });
  }
  messages.sort(compareMessages);
  return { messages, skipped, analyzers: analyzers.map((a) => a.name), resources: snapshot.resources.length };
}

export function compareMessages(a: Message, b: Message): number {
  return (
    cmp(a.origin?.file ?? '', b.origin?.file ?? '') ||
    (a.origin?.line ?? 0) - (b.origin?.line ?? 0) ||
    (a.origin?.column ?? 0) - (b.origin?.column ?? 0) ||
    cmp(a.code, b.code) ||
    cmp(`${a.resource.kind}/${a.resource.namespace}/${a.resource.name}`, `${b.resource.kind}/${b.resource.namespace}/${b.resource.name}`) ||
    cmp(a.text, b.text)
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
