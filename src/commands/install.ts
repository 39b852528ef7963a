import type { KindInfo } from '../api/kinds.js';
import type { Resource } from '../api/resource.js';
import type { webcrypto as WebCrypto } from 'node:crypto';
import type { Context } from '../context.js';
import { ClusterError, ForbiddenError, isMeshctlError, UsageError } from '../core/errors.js';
import type { PlanEntry } from '../manifests/plan.js';
import type { KubeApplier } from '../store/kube-apply.js';
import { RENDER_OPTIONS, renderFlags, type Rendered } from './manifest-inputs.js';
import { defineCommand } from './spec.js';
import { cjs } from '../core/module-interop.js';
import { mapLimit } from '../core/map-limit.js';

/** The oldest Kubernetes whose API server takes the vendored CRDs (CEL validation rules on by default). */
export const MIN_KUBE_MINOR = 27;

export const installCommand = defineCommand({
  path: 'install',
  summary: 'Install or upgrade the meshctl control plane (or lay out a local mesh with --local DIR)',
  description:
    'Pre-checks first (API server reachable, Kubernetes version, your permissions for every object,\n' +
    'an existing Istio or meshctl install), then server-side apply in dependency order: namespace,\n' +
    'CRDs (waiting until Established), RBAC, config, workloads, webhook. Re-running with the same\n' +
    'inputs changes nothing and says so; with changed inputs it shows the diff and prunes what the\n' +
    'new render no longer has. Objects that existed before (an Istio install\'s CRDs, a meshctl-system\n' +
    'namespace you made) are adopted: uninstall leaves them in place.\n' +
    'Root CA (the injection webhook\'s serving certificate is issued from it): bring your own with\n' +
    '--set-file ca.cert=root-cert.pem --set-file ca.key=root-key.pem; otherwise install reuses the one in\n' +
    'Secret meshctl-system/meshctl-ca, or generates a self-signed one there on first install. It is never\n' +
    'rotated by a re-run or an upgrade; uninstall deletes that Secret (generated or yours: your PEM files\n' +
    'stay yours), except one you created yourself before install, which is adopted and left in place.',
  options: [
    ...RENDER_OPTIONS,
    { flags: '--dry-run', description: 'show what would change (server-side dry run) and change nothing' },
    { flags: '--wait', description: 'wait until the controller Deployment is ready' },
    { flags: '--timeout <duration>', description: 'how long to wait for CRDs and, with --wait, the controller (e.g. 90s, 5m)', default: '5m' },
    { flags: '-y, --yes', description: 'do not ask (on a terminal) before changing or pruning an existing install' },
  ],
  examples: [
    'meshctl install',
    'meshctl install --profile demo --set meshConfig.accessLog.enabled=true',
    'meshctl install --dry-run -f values.yaml',
    'meshctl install --wait --timeout 3m',
    'meshctl install --local ./mesh',
  ],
  async run(ctx, _args, opts) {
    const { renderFromFlags } = await import('./manifest-inputs.js');
    const rendered = await renderFromFlags(ctx, renderFlags(opts));
    const timeoutMs = parseDuration(String(opts.timeout ?? '5m'));
    if (ctx.globals.local) {
      return installLocal(ctx, rendered, { dryRun: Boolean(opts.dryRun) });
    }
    const kube = await openApplier(ctx);
    try {
      return await installCluster(ctx, kube, rendered, { dryRun: Boolean(opts.dryRun), wait: Boolean(opts.wait), timeoutMs, yes: Boolean(opts.yes) });
    } finally {
      await kube.close();
    }
  },
});

export async function openApplier(ctx: Context): Promise<KubeApplier> {
  const { KubeApplier } = await import('../store/kube-apply.js');
  return KubeApplier.open({ kubeconfig: ctx.globals.kubeconfig, context: ctx.globals.context, env: ctx.env });
}

/** `90s`, `5m`, `1h`, `500ms`, or plain seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--timeout "${text}" is not a duration`, 'use e.g. 90s, 5m or 1h');
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(n * (unit === 'ms' ? 1 : unit === 's' ? 1000 : unit === 'm' ? 60_000 : 3_600_000));
}

/** Progress for people: finished steps, and what is being waited for now. */
export interface Progress {
  done(line: string): void;
  doing(line: string): void;
  /** Like doing, but only on the live view: plain logs get the outcome, not every step toward it. */
  status(line: string): void;
  /** Gives the terminal back (to ask a question); the next done/doing draws again below it. */
  pause(): Promise<void>;
  close(): Promise<void>;
}

/** Plain lines on stderr, one per event: for pipes, CI logs and tests. */
export function plainProgress(ctx: Context): Progress {
  return { done: (line) => ctx.info(line), doing: (line) => void (line && ctx.info(line)), status: () => {}, pause: async () => {}, close: async () => {} };
}

/**
 * On a terminal outside CI, an ink view: finished steps scroll by (ink's Static), the step in
 * progress stays on one live line below them. ink and React load only here.
 */
export async function installProgress(ctx: Context): Promise<Progress> {
  const { liveViewAllowed } = await import('../ui/progress.js');
  if (!liveViewAllowed(ctx.io, ctx.env)) return plainProgress(ctx);
  const [ink, react] = await Promise.all([import('ink'), import('react').then(cjs)]);
  const { render, Box, Static, Text } = ink;
  const h = react.createElement;
  const finished: { key: number; line: string }[] = [];
  let current = '';
  // Static items print once: after a pause, a new ink instance must not print them again.
  let printed = 0;
  const view = () =>
    h(
      Box,
      { flexDirection: 'column' },
      h(Static<{ key: number; line: string }>, { items: finished.slice(printed), children: (item: { key: number; line: string }) => (item.line.startsWith('warning: ') ? h(Text, { key: item.key, color: 'yellow' }, `! ${item.line}`) : h(Text, { key: item.key, color: 'green' }, `✔ ${item.line}`)) }),
      // One live line, cut to the terminal's width: a wrapped line would leave pieces behind on redraw.
      current ? h(Text, { color: 'cyan', wrap: 'truncate-end' }, `▶ ${current}`) : null,
    );
  let instance: ReturnType<typeof render> | undefined;
  const draw = () => {
    if (instance) instance.rerender(view());
    // liveViewAllowed() already decided from ctx.env and the TTY; ink's own CI check reads process.env.
    else instance = render(view(), { stdout: ctx.io.stdout as NodeJS.WriteStream, patchConsole: false, interactive: true });
  };
  const stop = async () => {
    if (!instance) return;
    current = '';
    instance.rerender(view());
    instance.unmount();
    // Bounded: the result must print even if the terminal never confirms ink's last write.
    await Promise.race([instance.waitUntilExit().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
    instance = undefined;
    printed = finished.length;
  };
  draw();
  return {
    done(line) {
      finished.push({ key: finished.length, line });
      current = '';
      draw();
    },
    doing(line) {
      current = line;
      draw();
    },
    status(line) {
      current = line;
      draw();
    },
    // ink erases its last frame on every redraw: a question written while it runs would be erased with it.
    pause: stop,
    close: stop,
  };
}

interface InstallOptions {
  dryRun: boolean;
  yes?: boolean;
  wait: boolean;
  timeoutMs: number;
}

export async function installCluster(ctx: Context, kube: KubeApplier, rendered: Rendered, opts: InstallOptions): Promise<{ data: unknown; text: string }> {
  const progress = await installProgress(ctx);
  try {
    return await installSteps(ctx, kube, rendered, opts, progress);
  } finally {
    await progress.close();
  }
}

async function installSteps(ctx: Context, kube: KubeApplier, renderedFromValues: Rendered, opts: InstallOptions, progress: Progress): Promise<{ data: unknown; text: string }> {
  const { KIND_ORDER, NAMESPACE, CONTROLLER, INSTALL_SELECTOR } = await import('../manifests/render.js');
  const plan = await import('../manifests/plan.js');
  const { lineDiff } = await import('../manifests/diff.js');
  const { toYaml } = await import('../ui/present.js');
  const { installKindInfo, crdEstablished, deploymentReady } = await import('../store/kube-apply.js');

  // 1. Pre-checks: nothing is written until all of them pass.
  progress.status(`connecting to the API server ${kube.server} (context "${kube.context}")`);
  const version = await checkServerVersion(kube);
  progress.done(`API server ${kube.server} (context "${kube.context}") is Kubernetes ${version}`);
  const found = await clusterCA(ctx, kube, renderedFromValues.values);
  const rendered = found ? await renderWithCA(renderedFromValues, found.ca) : renderedFromValues;
  if (found) progress.done(found.note);
  progress.status('checking your permissions for every object (SelfSubjectAccessReview)');
  await checkAccess(kube, accessChecksFor(rendered.resources, installKindInfo), 'install');
  // The roles meshctl creates may only grant what the installing user holds (or may escalate).
  await checkAccess(kube, await rbacGrantChecks(kube, rendered.resources, installKindInfo), 'install');
  const existing = await detectExisting(kube, rendered.version, rendered.values);
  const ns = await kube.get({ kind: 'Namespace', name: NAMESPACE });
  if (ns?.metadata.deletionTimestamp) {
    throw new ClusterError(`namespace "${NAMESPACE}" is being deleted (an uninstall is finishing)`, 'wait until it is gone, then install again', undefined, 'E_TERMINATING');
  }
  for (const line of existing.notes) progress.done(line);

  // 2. Plan: a server-side dry run of every object tells what would change, field by field.
  const planOne = async (r: Resource): Promise<PlanEntry> => {
    const ref = { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
    const current = await kube.get(ref);
    const desired = plan.withAdoption(r, current);
    let dry: Resource | undefined;
    let unvalidated: string | undefined;
    try {
      dry = await kube.apply(desired, { dryRun: true });
    } catch (err) {
      // The namespace or the CRD this object needs is created by this same install: it cannot be
      // dry-run yet, and the real apply (after its dependency) will validate it.
      if (!current && isMeshctlError(err) && (err.code === 'E_NOT_FOUND' || err.code === 'E_KIND_NOT_INSTALLED')) unvalidated = 'its namespace or CRD does not exist yet';
      else throw err;
    }
    if (!current) return { action: 'create', ref, desired, ...(unvalidated ? { unvalidated } : {}) };
    if (dry && plan.sameObject(current, dry)) return { action: 'unchanged', ref, desired };
    const adopts = plan.isAdopted(desired) && !plan.isAdopted(current);
    return { action: 'update', ref, desired, ...(adopts ? { adopts: true } : {}), diff: dry ? lineDiff(await toYaml(plan.normalize(current)), await toYaml(plan.normalize(dry))) : '' };
  };
  // Dry runs change nothing, so they may run side by side; a few at a time keeps the API server calm.
  progress.status(`comparing ${rendered.resources.length} objects with the cluster (server-side dry run)`);
  const entries: PlanEntry[] = await mapLimit(rendered.resources, 8, planOne);
  const installed = await listInstalled(kube, KIND_ORDER, NAMESPACE, INSTALL_SELECTOR, installKindInfo);
  for (const r of plan.pruneCandidates(installed, rendered.resources)) {
    entries.push({ action: 'prune', ref: { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name } });
  }
  const prunes = entries.filter((e) => e.action === 'prune');
  await checkAccess(
    kube,
    prunes.map((e) => ({ verb: 'delete', info: installKindInfo(e.ref.kind), namespace: e.ref.namespace, name: e.ref.name })),
    'prune',
  );

  const counts = plan.summarize(entries);
  const what = `meshctl ${rendered.version} (profile ${rendered.profile})`;
  const planText = formatPlan(entries, plan.describeRef);
  const data = { profile: rendered.profile, version: rendered.version, dryRun: opts.dryRun, counts, changes: entries.filter((e) => e.action !== 'unchanged').map(({ action, ref, diff, unvalidated }) => ({ action, ...ref, ...(diff ? { diff } : {}), ...(unvalidated ? { unvalidated } : {}) })) };

  if (counts.create + counts.update + counts.prune === 0) {
    if (opts.wait) await waitDeployment(kube, NAMESPACE, CONTROLLER, opts.timeoutMs, deploymentReady, progress);
    return { data, text: `${what} is already installed in context "${kube.context}": nothing to change (${counts.unchanged} objects unchanged)` };
  }
  if (opts.dryRun) {
    return { data, text: `${planText}\ndry run: ${countLine(counts)}; nothing was changed` };
  }

  const ask = !opts.yes && ctx.io.isTTY && (counts.update > 0 || counts.prune > 0);
  if (ask) {
    await progress.pause();
    ctx.io.stderr.write(planText + '\n');
    // Without a meshctl install, what is being changed is someone else's (Istio's CRDs, a namespace).
    const question = existing.previous ? 'Change the existing install' : 'Install, taking over the objects above that exist already';
    if (!(await confirm(ctx, `${question} (${countLine(counts)})? [y/N] `))) {
      return { data: { ...data, aborted: true }, text: 'aborted: nothing was changed' };
    }
  }

  // 3. Apply in dependency order; wait for CRDs to be served before anything that may use them.
  const toApply = entries.filter((e) => e.action === 'create' || e.action === 'update');
  const crdNames: string[] = [];
  for (const [i, e] of toApply.entries()) {
    await kube.apply(e.desired as Resource);
    progress.done(`${e.action === 'create' ? 'created' : 'updated'} ${plan.describeRef(e.ref)}`);
    if (e.ref.kind === 'CustomResourceDefinition') crdNames.push(e.ref.name);
    const next = toApply[i + 1];
    if (crdNames.length && (!next || next.ref.kind !== 'CustomResourceDefinition')) {
      progress.doing(`waiting for ${crdNames.length} CRDs to be Established`);
      for (const name of crdNames) await kube.waitFor({ kind: 'CustomResourceDefinition', name }, crdEstablished, { timeoutMs: opts.timeoutMs, intervalMs: 100 });
      progress.done(`${crdNames.length} CRDs are Established`);
      crdNames.length = 0;
    }
  }
  for (const e of prunes) {
    await kube.delete(e.ref);
    progress.done(`pruned ${plan.describeRef(e.ref)}`);
  }
  if (opts.wait) await waitDeployment(kube, NAMESPACE, CONTROLLER, opts.timeoutMs, deploymentReady, progress);
  const verb = existing.previous === rendered.version ? `updated ${what}` : existing.previous ? `upgraded meshctl ${existing.previous} to ${rendered.version} (profile ${rendered.profile})` : `installed ${what}`;
  // Each created object was already reported as it was applied: what is left to show is the diff
  // of updates and what was pruned, and not even that when it was shown for the question.
  const changedText = ask ? '' : formatPlan(entries.filter((e) => e.action !== 'create'), plan.describeRef);
  return { data, text: `${changedText ? `${changedText}\n` : ''}${verb} in context "${kube.context}": ${countLine(counts)}` };
}

/**
 * The root CA when the values bring none (ca.cert/ca.key unset), as istioctl and linkerd users
 * expect: the one already in Secret meshctl-system/meshctl-ca (so a re-run changes nothing and an
 * upgrade never rotates it), else a new self-signed one. Undefined when the values bring their own.
 * A Secret the user made before install is used as it is (and adopted: uninstall leaves it).
 * `generate: false` (verify-install) only looks.
 */
export async function clusterCA(ctx: Context, kube: KubeApplier, values: Record<string, unknown>, opts: { generate?: boolean } = {}): Promise<{ ca: { cert: string; key: string; generated: boolean }; note: string } | undefined> {
  const own = (values as { ca?: { cert?: string; key?: string } }).ca;
  if (own?.cert?.trim() || own?.key?.trim()) return undefined;
  const { CA_SECRET, NAMESPACE, GENERATED_CA_ANNOTATION } = await import('../manifests/render.js');
  const where = `Secret ${NAMESPACE}/${CA_SECRET}`;
  let existing: Resource | undefined;
  try {
    existing = await kube.get({ kind: 'Secret', namespace: NAMESPACE, name: CA_SECRET });
  } catch (err) {
    // Not allowed to read it: the permission checks that follow name what is missing.
    if (!(err instanceof ForbiddenError)) throw err;
  }
  if (existing && !existing.metadata.deletionTimestamp) {
    const data = (existing as { data?: Record<string, string> }).data ?? {};
    const text = (k: string) => Buffer.from(data[k] ?? '', 'base64').toString('utf8');
    const cert = text('tls.crt');
    const key = text('tls.key');
    if (!cert.includes('-----BEGIN CERTIFICATE-----') || !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key)) {
      throw new ClusterError(
        `${where} in context "${kube.context}" has no PEM tls.crt and tls.key`,
        `delete it (kubectl -n ${NAMESPACE} delete secret ${CA_SECRET}) to have meshctl install generate a new root CA, or bring one: --set-file ca.cert=root-cert.pem --set-file ca.key=root-key.pem`,
        undefined,
        'E_BAD_CA',
      );
    }
    const generated = existing.metadata.annotations?.[GENERATED_CA_ANNOTATION] !== undefined;
    return { ca: { cert, key, generated }, note: `root CA: using the one in ${where}${generated ? ' (generated by an earlier install)' : ''}` };
  }
  if (opts.generate === false) return undefined;
  const trustDomain = (values.meshConfig as { trustDomain?: string } | undefined)?.trustDomain ?? 'cluster.local';
  const made = await generateRootCA(ctx.now(), trustDomain);
  return { ca: { cert: made.certPem, key: made.keyPem, generated: true }, note: `root CA: none given (ca.cert/ca.key) and none in ${where}: generated a self-signed one to store there` };
}

/** The same render with a CA from the cluster; the CRDs are taken from the first render (same specs). */
export async function renderWithCA(rendered: Rendered, ca: { cert: string; key: string; generated: boolean }): Promise<Rendered> {
  const { renderManifests } = await import('../manifests/render.js');
  const crds = rendered.resources.filter((r) => r.kind === 'CustomResourceDefinition');
  return { ...rendered, resources: renderManifests({ values: rendered.values, profile: rendered.profile, version: rendered.version, crds, ca }) };
}

async function waitDeployment(kube: KubeApplier, namespace: string, name: string, timeoutMs: number, ready: (r: Resource | undefined) => string | true, progress: Progress): Promise<void> {
  const what = `waiting for Deployment ${namespace}/${name} to be ready`;
  progress.doing(what);
  // The live line says why it is not ready yet and for how long; plain logs keep the one line above.
  const onWait = (why: string, ms: number) => progress.status(`${what} (${Math.floor(ms / 1000)}s/${Math.round(timeoutMs / 1000)}s): ${why}`);
  await kube.waitFor({ kind: 'Deployment', namespace, name }, ready, { timeoutMs, intervalMs: 250, onWait });
  progress.done(`Deployment ${namespace}/${name} is ready`);
}

function countLine(c: Record<string, number>): string {
  return `${c.create} to create, ${c.update} to update, ${c.prune} to prune, ${c.unchanged} unchanged`.replace(/to (create|update|prune)/g, (_, v: string) => (v === 'create' ? 'created' : v === 'update' ? 'updated' : 'pruned'));
}

/** `+ create X`, `~ update Y` with its diff, `- prune Z`; unchanged objects are only counted. */
function formatPlan(entries: readonly PlanEntry[], describe: (r: PlanEntry['ref']) => string): string {
  const lines: string[] = [];
  for (const e of entries) {
    if (e.action === 'create') lines.push(`+ create ${describe(e.ref)}${e.unvalidated ? ` (validated when applied)` : ''}`);
    else if (e.action === 'update') {
      lines.push(`~ update ${describe(e.ref)}${e.adopts ? ' (it existed before meshctl: adopted, and left in place by uninstall)' : ''}`);
      if (e.diff) lines.push(...e.diff.trimEnd().split('\n').map((l) => `    ${l}`));
    } else if (e.action === 'prune') lines.push(`- prune  ${describe(e.ref)}`);
  }
  return lines.join('\n');
}

export async function checkServerVersion(kube: KubeApplier): Promise<string> {
  const v = await kube.version();
  const minor = Number.parseInt(v.minor, 10);
  if (v.major !== '1' || !Number.isFinite(minor) || minor < MIN_KUBE_MINOR) {
    throw new ClusterError(`Kubernetes ${v.gitVersion} at ${kube.server} is not supported`, `meshctl needs Kubernetes 1.${MIN_KUBE_MINOR} or newer`, undefined, 'E_UNSUPPORTED_VERSION');
  }
  return v.gitVersion;
}

export interface Access {
  verb: string;
  info: KindInfo;
  namespace?: string | undefined;
  name?: string | undefined;
  subresource?: string | undefined;
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
}

/**
 * Kubernetes lets a user create a Role or ClusterRole (and bind it) only with permissions the user
 * holds, unless they may `escalate` and `bind`. Checked up front, or such a user would see the
 * install fail half-way, at the RBAC objects.
 */
export async function rbacGrantChecks(kube: KubeApplier, resources: readonly Resource[], info: (kind: string) => KindInfo): Promise<Access[]> {
  const roles = resources.filter((r) => r.kind === 'ClusterRole' || r.kind === 'Role');
  if (roles.length === 0) return [];
  const kinds = [...new Set(roles.map((r) => r.kind))].map(info);
  const may = await Promise.all(kinds.flatMap((i) => ['escalate', 'bind'].map((verb) => kube.allowed({ verb, info: i, namespace: i.namespaced ? NAMESPACE_FOR_CHECKS : undefined }))));
  if (may.every(Boolean)) return [];
  const out = new Map<string, Access>();
  for (const role of roles) {
    const namespaced = role.kind === 'Role';
    for (const rule of (role.rules as PolicyRule[] | undefined) ?? []) {
      for (const group of rule.apiGroups ?? ['']) {
        for (const res of rule.resources ?? []) {
          const [plural = res, subresource] = res.split('/');
          for (const verb of rule.verbs ?? []) {
            const access: Access = {
              verb,
              info: { kind: plural, group, version: '', plural, namespaced, mesh: false },
              namespace: namespaced ? role.metadata.namespace : undefined,
              name: rule.resourceNames?.[0],
              subresource,
            };
            out.set(JSON.stringify(access), access);
          }
        }
      }
    }
  }
  return [...out.values()];
}

const NAMESPACE_FOR_CHECKS = 'meshctl-system';

/** What an install needs: get (to compare), create and patch (server-side apply) for every object. */
export function accessChecksFor(resources: readonly Resource[], info: (kind: string) => KindInfo): Access[] {
  const out = new Map<string, Access>();
  for (const r of resources) {
    const i = info(r.kind);
    const namespace = i.namespaced ? r.metadata.namespace : undefined;
    for (const verb of ['get', 'create', 'patch']) out.set(`${verb} ${i.plural}.${i.group} ${namespace ?? ''}`, { verb, info: i, namespace });
    // Listing by label finds what to prune.
    out.set(`list ${i.plural}.${i.group} ${namespace ?? ''}`, { verb: 'list', info: i, namespace });
  }
  return [...out.values()];
}

/**
 * SelfSubjectAccessReview for every permission, before the first write, so a user who may not do
 * everything gets exit 77 naming what is missing and the cluster is left exactly as it was.
 */
export async function checkAccess(kube: KubeApplier, checks: readonly Access[], doing: string): Promise<void> {
  if (checks.length === 0) return;
  const { resourceName } = await import('../store/kube-apply.js');
  const results = await Promise.all(checks.map(async (c) => ({ c, ok: await kube.allowed(c) })));
  const missing = results.filter((r) => !r.ok).map(({ c }) => `${c.verb} ${resourceName(c.info)}${c.subresource ? `/${c.subresource}` : ''}${c.name ? ` "${c.name}"` : ''} ${c.info.namespaced && c.namespace ? `in namespace "${c.namespace}"` : 'cluster-wide'}`);
  if (missing.length === 0) return;
  const more = missing.length > 1 ? ` (and ${missing.length - 1} more: ${missing.slice(1, 4).join('; ')}${missing.length > 4 ? '; ...' : ''})` : '';
  throw new ForbiddenError(
    `cannot ${doing} in context "${kube.context}": missing permission to ${missing[0]}${more}; nothing was changed`,
    `a cluster admin must run meshctl ${doing}, or grant these permissions (RBAC listed in the README)`,
    undefined,
    'E_FORBIDDEN',
  );
}

/** Every object carrying meshctl's install labels: namespaced kinds in meshctl-system, the rest cluster-wide. */
export async function listInstalled(kube: KubeApplier, kinds: readonly string[], namespace: string, selector: string, info: (kind: string) => KindInfo): Promise<Resource[]> {
  const lists = await Promise.all(kinds.map((k) => info(k)).map((i) => kube.list(i, { namespace: i.namespaced ? namespace : undefined, labelSelector: selector })));
  return lists.flat();
}

/** What is there already: a meshctl install (its version) or an Istio control plane. Best effort: read errors are not fatal. */
export async function detectExisting(kube: KubeApplier, version: string, values: Record<string, unknown> = {}): Promise<{ previous?: string; notes: string[] }> {
  const { NAMESPACE, CONTROLLER } = await import('../manifests/render.js');
  const notes: string[] = [];
  let previous: string | undefined;
  const quietly = async (ref: { kind: string; namespace: string; name: string }) => {
    try {
      return await kube.get(ref);
    } catch (err) {
      if (err instanceof ForbiddenError) return undefined;
      throw err;
    }
  };
  const mine = await quietly({ kind: 'Deployment', namespace: NAMESPACE, name: CONTROLLER });
  if (mine) {
    previous = mine.metadata.labels?.['app.kubernetes.io/version'] ?? 'unknown';
    notes.push(previous === version ? `meshctl ${previous} is installed: checking for changes` : `meshctl ${previous} is installed: upgrading to ${version}`);
  }
  const istiod = await quietly({ kind: 'Deployment', namespace: 'istio-system', name: 'istiod' });
  if (istiod) {
    const image = (istiod.spec as { template?: { spec?: { containers?: { image?: string }[] } } } | undefined)?.template?.spec?.containers?.[0]?.image ?? '';
    notes.push(`Istio is installed (istiod in istio-system${image ? `, ${image}` : ''}): meshctl shares its CRDs and leaves them in place on uninstall`);
    const injection = (values as { injection?: { enabled?: boolean; namespaceLabel?: string } }).injection;
    if (injection?.enabled && injection.namespaceLabel === 'istio-injection') {
      // Both injectors select namespaces by that label: a pod there would get two sidecars.
      notes.push('warning: Istio\'s sidecar injector also acts on namespaces labelled istio-injection=enabled; to run both meshes side by side, install with --set injection.namespaceLabel=meshctl-injection');
    }
  }
  return { ...(previous ? { previous } : {}), notes };
}

/** Asks on stderr and reads one line from stdin: only "y" or "yes" agree; no input means no. */
export async function confirm(ctx: Context, question: string): Promise<boolean> {
  ctx.io.stderr.write(question);
  const line = await readLine(ctx.io.stdin);
  return /^\s*y(es)?\s*$/i.test(line);
}

async function readLine(stdin: NodeJS.ReadableStream): Promise<string> {
  let buf = '';
  for await (const chunk of stdin) {
    buf += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    const nl = buf.indexOf('\n');
    if (nl >= 0) return buf.slice(0, nl);
  }
  return buf;
}

/**
 * `install --local DIR`: the file-backed mesh `meshctl demo` and `meshctl controller --local DIR`
 * use, written through the FileStore: the namespace, the mesh config ConfigMap, the controller
 * Deployment (its version label is what `meshctl --local DIR version` reports), the mesh-wide
 * PeerAuthentication, and a root CA Secret shaped like the one a cluster install renders. The CA is
 * generated once (a real self-signed certificate) and kept on re-runs; `--set ca.cert/ca.key`
 * brings your own.
 */
/** The kinds a local (file-backed) mesh has: no CRDs, RBAC, Services or webhooks without a cluster. */
export const LOCAL_KINDS: ReadonlySet<string> = new Set(['Namespace', 'ConfigMap', 'Secret', 'Deployment', 'PeerAuthentication']);

async function installLocal(ctx: Context, rendered: Rendered, opts: { dryRun: boolean }): Promise<{ data: unknown; text: string }> {
  const { mkdir } = await import('node:fs/promises');
  const { resolve } = await import('node:path');
  const { FileStore } = await import('../store/file-store.js');
  const { CA_SECRET, NAMESPACE } = await import('../manifests/render.js');
  const { describeRef } = await import('../manifests/plan.js');
  const dir = resolve(ctx.cwd, ctx.globals.local ?? '.');
  if (!opts.dryRun) await mkdir(dir, { recursive: true });
  // A dry run for a directory that does not exist yet: everything would be created, so plan against
  // an empty scratch directory (removed below) rather than create the user's directory.
  const { existsSync } = await import('node:fs');
  const scratch = opts.dryRun && !existsSync(dir) ? await (await import('node:fs/promises')).mkdtemp(resolve((await import('node:os')).tmpdir(), 'meshctl-local-dry-run-')) : undefined;
  const store = await FileStore.open(scratch ?? dir);
  const desired = rendered.resources.filter((r) => LOCAL_KINDS.has(r.kind));
  const caRef = { kind: 'Secret', namespace: NAMESPACE, name: CA_SECRET };
  if (!desired.some((r) => r.kind === 'Secret')) {
    const existing = await store.get(caRef);
    if (existing) desired.push(existing);
    else {
      const trustDomain = ((rendered.values.meshConfig as { trustDomain?: string } | undefined)?.trustDomain ?? 'cluster.local');
      const ca = await generateRootCA(ctx.now(), trustDomain);
      const labels = { ...(desired[0]?.metadata.labels ?? {}), 'app.kubernetes.io/name': CA_SECRET };
      const b64 = (t: string) => Buffer.from(t, 'utf8').toString('base64');
      desired.push({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: CA_SECRET, namespace: NAMESPACE, labels, annotations: { 'meshctl.dev/generated': 'root CA generated by meshctl install --local' } },
        type: 'kubernetes.io/tls',
        data: { 'tls.crt': b64(ca.certPem), 'tls.key': b64(ca.keyPem), 'ca.crt': b64(ca.certPem) },
      });
    }
  }
  const changes: { action: string; object: string }[] = [];
  for (const r of desired) {
    const ref = { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
    const res = await store.modify(ref, (current) => (current ? { ...r, metadata: { ...r.metadata, resourceVersion: current.metadata.resourceVersion } } : r), { dryRun: opts.dryRun });
    const action = !res.changed ? 'unchanged' : res.before ? 'update' : 'create';
    changes.push({ action, object: describeRef(ref) });
    if (res.changed) ctx.info(`${opts.dryRun ? 'would ' : ''}${action === 'create' ? 'create' : 'update'}${opts.dryRun ? '' : 'd'} ${describeRef(ref)}`);
  }
  // Prune what an earlier install --local laid out and this render no longer has (the CA stays).
  const keep = new Set(desired.map((r) => `${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`));
  const { MANAGED_BY, PART_OF, kindRank } = await import('../manifests/render.js');
  const stale = (await Promise.all([...LOCAL_KINDS].map((k) => store.list(k, NAMESPACE))))
    .flat()
    .filter((r) => r.metadata.labels?.[MANAGED_BY] === 'meshctl' && r.metadata.labels?.[PART_OF] === 'meshctl')
    .filter((r) => !keep.has(`${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`))
    .sort((a, b) => kindRank(b.kind) - kindRank(a.kind));
  for (const r of stale) {
    const ref = { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
    await store.delete(ref, { dryRun: opts.dryRun });
    changes.push({ action: 'prune', object: describeRef(ref) });
    ctx.info(`${opts.dryRun ? 'would prune' : 'pruned'} ${describeRef(ref)}`);
  }
  if (!opts.dryRun) {
    // The CA's private key is in that file: readable by its owner only, as ssh keeps keys.
    const src = await store.sourceOf(caRef);
    if (src) await (await import('node:fs/promises')).chmod(src.file, 0o600);
  }
  await store.close();
  if (scratch) await (await import('node:fs/promises')).rm(scratch, { recursive: true, force: true });
  const changed = changes.filter((c) => c.action !== 'unchanged').length;
  const what = `meshctl ${rendered.version} (profile ${rendered.profile})`;
  const text = changed === 0 ? `${what} is already laid out in ${dir}: nothing to change` : opts.dryRun ? `dry run: ${changed} objects would change in ${dir}; nothing was changed` : `laid out ${what} in ${dir}: ${changed} objects written (try: meshctl --local ${ctx.globals.local ?? dir} version)`;
  return { data: { local: dir, profile: rendered.profile, version: rendered.version, dryRun: opts.dryRun, changes }, text };
}

/**
 * A self-signed root CA: ECDSA P-256, 10 years, CA:true, keyCertSign and cRLSign. Node's crypto
 * makes keys but cannot build certificates, so @peculiar/x509 (on Node's WebCrypto) does; it needs
 * no openssl binary, which slim images and Windows often lack.
 */
export async function generateRootCA(now: Date, trustDomain: string): Promise<{ certPem: string; keyPem: string }> {
  // @peculiar/x509's dependency injection (tsyringe) needs the Reflect metadata polyfill loaded first.
  await import('reflect-metadata');
  const x509 = cjs(await import('@peculiar/x509'));
  const { webcrypto, randomBytes } = await import('node:crypto');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as WebCrypto.CryptoKeyPair;
  const notBefore = new Date(now.getTime() - 60_000); // a minute of slack for clocks that disagree a little
  const notAfter = new Date(now.getTime() + 10 * 365 * 24 * 3600_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01' + randomBytes(15).toString('hex'),
    name: `O=${trustDomain.replace(/[,=+<>#;"\\]/g, '_')}, CN=meshctl root CA`,
    notBefore,
    notAfter,
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = x509.PemConverter.encode(pkcs8, 'PRIVATE KEY');
  return { certPem: cert.toString('pem') + '\n', keyPem: keyPem + '\n' };
}
