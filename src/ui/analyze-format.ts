import { Chalk } from 'chalk';
import { displayRef } from '../api/resource.js';
import type { AnalysisReport } from '../core/analyze/report.js';
import { MESSAGES } from '../core/analyze/messages.js';
import type { Level, Message } from '../core/analyze/types.js';
import { levelRank } from '../core/analyze/types.js';

/** Output formats `meshctl analyze -o` accepts besides json and yaml. */
export const ANALYZE_FORMATS = ['table', 'json', 'yaml', 'sarif', 'junit', 'github'] as const;

/**
 * Human output, grouped by file as eslint's stylish format is (cluster objects under "cluster"):
 * `  12:9  Error    [IST0101] (VirtualService reviews.default) text` in istioctl's order of level,
 * code, resource and text. The file is named once in the group's heading; for cluster objects,
 * which have no line, the offending field is named instead.
 */
export function formatHuman(report: AnalysisReport, color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  const paint = (level: Level, s: string) => (level === 'Error' ? c.red(s) : level === 'Warning' ? c.yellow(s) : c.cyan(s));
  const s = report.summary;
  const hidden = s.hidden ? ` (${s.hidden} hidden by suppressions, --output-threshold or --baseline)` : '';
  if (report.messages.length === 0 && !s.failed) {
    return `${c.green('✔')} No validation issues found when analyzing ${s.resources} resource${s.resources === 1 ? '' : 's'}${hidden}.\n`;
  }
  const groups = new Map<string, Message[]>();
  for (const m of report.messages) {
    const g = m.origin?.file ?? 'cluster';
    const list = groups.get(g);
    if (list) list.push(m);
    else groups.set(g, [m]);
  }
  const lines: string[] = [];
  for (const [file, msgs] of groups) {
    lines.push(c.bold.underline(file));
    const pos = (m: Message) => (m.origin ? `${m.origin.line}:${m.origin.column}` : '');
    const width = Math.max(...msgs.map((m) => pos(m).length));
    for (const m of msgs) {
      const where = width ? `${c.dim(pos(m).padEnd(width))}  ` : '';
      const field = !m.origin && m.field ? ` ${c.dim(`at ${m.field}`)}` : '';
      lines.push(`  ${where}${paint(m.level, m.level.padEnd(7))}  ${c.bold(`[${m.code}]`)} (${displayRef(m.resource)}) ${m.text}${field}`);
    }
    lines.push('');
  }
  // Only counts above zero are coloured, so the eye goes to what is there.
  const count = (n: number, word: string, level: Level) => (n ? paint(level, word) : word);
  const counts = [
    count(s.errors, `${s.errors} error${s.errors === 1 ? '' : 's'}`, 'Error'),
    count(s.warnings, `${s.warnings} warning${s.warnings === 1 ? '' : 's'}`, 'Warning'),
    count(s.infos, `${s.infos} info`, 'Info'),
  ];
  const mark = s.failed ? c.red('✖') : c.yellow('!');
  // The exit code follows every finding, shown or not: say so when only hidden ones fail the run.
  const shownFailing = report.messages.some((m) => levelRank(m.level) >= levelRank(s.failureThreshold));
  const why = s.failed && !shownFailing ? ` Failed: findings hidden by --output-threshold ${s.outputThreshold} reach --failure-threshold ${s.failureThreshold}.` : '';
  lines.push(`${mark} ${counts.join(', ')} in ${s.resources} resource${s.resources === 1 ? '' : 's'}${hidden}.${why}`);
  return lines.join('\n') + '\n';
}

/**
 * The stderr note for skipped checks: one line naming them (-v prints each reason), so a clean CI
 * log stays short while nobody mistakes a skipped check for a passed one.
 */
export function skippedNote(report: Pick<AnalysisReport, 'skipped'>): string | undefined {
  const names = [...new Set(report.skipped.map((k) => k.analyzer))];
  if (!names.length) return undefined;
  return `skipped ${names.length} check${names.length === 1 ? '' : 's'} (the input lacks objects they need): ${names.join(', ')} (-v says why; --cluster or --snapshot runs them)`;
}

const SARIF_LEVEL: Record<Level, string> = { Error: 'error', Warning: 'warning', Info: 'note' };

/** SARIF 2.1.0 for GitHub code scanning and other SAST dashboards: one rule per message code. */
export function formatSarif(report: AnalysisReport, version: string): string {
  const used = [...new Set(report.messages.map((m) => m.code))].sort();
  const rules = used.map((code) => {
    const t = MESSAGES.find((m) => m.code === code);
    return {
      id: code,
      name: t?.name ?? code,
      shortDescription: { text: t?.description ?? code },
      defaultConfiguration: { level: SARIF_LEVEL[t?.level ?? 'Warning'] },
      ...(code.startsWith('IST') ? { helpUri: `https://istio.io/latest/docs/reference/config/analysis/${code.toLowerCase()}/` } : {}),
    };
  });
  const results = report.messages.map((m) => ({
    ruleId: m.code,
    ruleIndex: used.indexOf(m.code),
    level: SARIF_LEVEL[m.level],
    message: { text: `${m.text} (${displayRef(m.resource)})` },
    locations: [
      {
        ...(m.origin
          ? { physicalLocation: { artifactLocation: { uri: m.origin.file.replace(/\\/g, '/').replace(/^\.\//, '') }, region: { startLine: m.origin.line, startColumn: m.origin.column } } }
          : {}),
        logicalLocations: [{ fullyQualifiedName: `${m.resource.kind}/${m.resource.namespace ?? ''}/${m.resource.name}${m.field ? '#' + m.field : ''}`, kind: 'resource' }],
      },
    ],
    partialFingerprints: { meshctlFinding: `${m.code}/${m.resource.kind}/${m.resource.namespace ?? ''}/${m.resource.name}/${m.field ?? ''}` },
  }));
  const sarif = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [{ tool: { driver: { name: 'meshctl', informationUri: 'https://github.com/meshctl/meshctl', version, rules } }, results }],
  };
  return JSON.stringify(sarif, null, 2) + '\n';
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** JUnit XML: one test case per analyzer; it fails with the messages at or above the failure threshold. */
export function formatJunit(report: AnalysisReport): string {
  const fail = levelRank(report.summary.failureThreshold);
  const cases = report.analyzers.map((name) => {
    const msgs = report.messages.filter((m) => m.analyzer === name);
    const failing = msgs.filter((m) => levelRank(m.level) >= fail);
    const skipped = report.skipped.filter((s) => s.analyzer === name);
    const body = (m: Message) => `${m.level} [${m.code}] ${m.origin ? `${m.origin.file}:${m.origin.line}:${m.origin.column} ` : ''}(${displayRef(m.resource)}) ${m.text}`;
    let inner = '';
    if (failing.length) inner += `\n      <failure message="${xml(`${failing.length} finding(s)`)}" type="${xml(failing[0]?.code ?? '')}">${xml(failing.map(body).join('\n'))}</failure>`;
    const rest = msgs.filter((m) => levelRank(m.level) < fail);
    if (rest.length) inner += `\n      <system-out>${xml(rest.map(body).join('\n'))}</system-out>`;
    if (!msgs.length && skipped.length) inner += `\n      <skipped message="${xml(skipped.map((s) => s.reason).join('; '))}"/>`;
    return `    <testcase classname="meshctl.analyze" name="${xml(name)}">${inner}${inner ? '\n    ' : ''}</testcase>`;
  });
  const failures = report.analyzers.filter((n) => report.messages.some((m) => m.analyzer === n && levelRank(m.level) >= fail)).length;
  const skips = report.analyzers.filter((n) => !report.messages.some((m) => m.analyzer === n) && report.skipped.some((s) => s.analyzer === n)).length;
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="meshctl analyze" tests="${cases.length}" failures="${failures}">\n` +
    `  <testsuite name="meshctl analyze" tests="${cases.length}" failures="${failures}" skipped="${skips}" errors="0">\n${cases.join('\n')}\n  </testsuite>\n</testsuites>\n`
  );
}

const GH_COMMAND: Record<Level, string> = { Error: 'error', Warning: 'warning', Info: 'notice' };

/** GitHub Actions workflow commands: annotations on the pull request's changed lines. */
export function formatGithub(report: AnalysisReport): string {
  const prop = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A').replace(/:/g, '%3A').replace(/,/g, '%2C');
  const data = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
  return report.messages
    .map((m) => {
      const props = [m.origin ? `file=${prop(m.origin.file)},line=${m.origin.line},col=${m.origin.column}` : '', `title=${prop(`${m.code} ${m.name}`)}`].filter(Boolean).join(',');
      return `::${GH_COMMAND[m.level]} ${props}::${data(`${m.text} (${displayRef(m.resource)})`)}\n`;
    })
    .join('');
}
