import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/commands/index.js';
import { useColor } from '../../src/ui/color.js';
import { meshctl } from '../helpers/run-meshctl.js';

describe('meshctl --help', () => {
  it('lists every command by its full path, one line each', async () => {
    const r = await meshctl('--help');
    expect(r.exitCode).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c.path}\\b.*${escape(c.summary.slice(0, 20))}`, 'm'));
  });

  it('shows the global flags', async () => {
    const r = await meshctl('--help');
    for (const f of ['--kubeconfig', '--context', '--namespace', '--all-namespaces', '--output', '--no-color', '--verbose', '--local']) {
      expect(r.stdout).toContain(f);
    }
  });

  it.each(COMMANDS.map((c) => c.path))('help of "%s" has a summary and examples', async (path) => {
    const r = await meshctl([...path.split(' '), '--help']);
    expect(r.exitCode).toBe(0);
    const spec = COMMANDS.find((c) => c.path === path);
    expect(r.stdout).toContain(spec?.summary);
    if (spec?.examples?.length) expect(r.stdout).toContain('Examples:');
  });

  it.each(COMMANDS.map((c) => c.path))('help of "%s" fits 100 columns off a terminal', async (path) => {
    const r = await meshctl([...path.split(' '), '--help']);
    // A line may pass 100 columns only when it is one unbreakable word (a long URL, say) or an example command.
    const over = r.stdout.split('\n').filter((l) => l.length > 100 && /\S\s+\S/.test(l.trim()) && !/^\s+(\$ )?meshctl /.test(l));
    expect(over).toEqual([]);
  });

  it('prose in a description is reflowed: no source line break survives mid-paragraph', async () => {
    const r = await meshctl('proxy --help');
    // In the source, "DestinationRule, and" ends a line and "Service/EndpointSlice/Pod" starts the next.
    expect(r.stdout).toMatch(/DestinationRule, and Service\/EndpointSlice\/Pod when present/);
    // Indented lines (the controller's endpoint list) keep their own line.
    expect((await meshctl('controller --help')).stdout).toMatch(/\n {2}GET \/v1\/snapshot\?workload=NAME/);
  });
});

describe('usage errors', () => {
  it('an unknown command exits 64 with one line and a suggestion', async () => {
    const r = await meshctl('versoin');
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toMatch(/unknown command 'versoin'/);
    expect(r.stderr).toMatch(/version/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('an unknown flag exits 64 and names the flag', async () => {
    const r = await meshctl('version --bogus');
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toContain("'--bogus'");
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('an output format the command does not support exits 64 naming it and the choices', async () => {
    const r = await meshctl('version --client -o xml');
    expect(r.exitCode).toBe(64);
    expect(r.stderr.trim()).toBe('Error: unknown output format "xml" for "meshctl version" (use -o table|json|yaml)');
  });

  it('-v adds the error code and stack', async () => {
    const r = await meshctl('version --client -o xml -v');
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toContain('[E_USAGE]');
  });
});

describe('meshctl version', () => {
  it('prints client version, commit and node in every format', async () => {
    const table = await meshctl('version --client');
    expect(table.exitCode).toBe(0);
    expect(table.stdout).toMatch(/^client: \d+\.\d+\.\d+ \(commit test, node v\d+/);

    const json = JSON.parse((await meshctl('version --client -o json')).stdout) as { client: { version: string; node: string } };
    expect(json.client.node).toBe(process.version);

    const yaml = (await meshctl('version --client -o yaml')).stdout;
    expect(yaml).toMatch(/^client:\n {2}version: /);
  });

  it('asks no cluster when none is configured', async () => {
    const r = await meshctl('version -o json');
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).not.toHaveProperty('controlPlane');
  });
});

describe('completion', () => {
  it.each(['bash', 'zsh', 'fish'])('%s script names every top-level command', async (shell) => {
    const r = await meshctl(['completion', shell]);
    expect(r.exitCode).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(c.path.split(' ')[0]);
  });

  it('an unknown shell is a usage error', async () => {
    const r = await meshctl('completion tcsh');
    expect(r.exitCode).toBe(64);
    expect(r.stderr).toContain('unknown shell "tcsh"');
  });
});

describe('colour', () => {
  it('follows --no-color, NO_COLOR, FORCE_COLOR and the terminal, in that order', () => {
    expect(useColor({ noColorFlag: true, env: { FORCE_COLOR: '1' }, isTTY: true })).toBe(false);
    expect(useColor({ noColorFlag: false, env: { NO_COLOR: '1', FORCE_COLOR: '1' }, isTTY: true })).toBe(false);
    expect(useColor({ noColorFlag: false, env: { FORCE_COLOR: '1' }, isTTY: false })).toBe(true);
    expect(useColor({ noColorFlag: false, env: { FORCE_COLOR: '0' }, isTTY: true })).toBe(false);
    expect(useColor({ noColorFlag: false, env: {}, isTTY: true })).toBe(true);
    expect(useColor({ noColorFlag: false, env: {}, isTTY: false })).toBe(false);
    expect(useColor({ noColorFlag: false, env: { TERM: 'dumb' }, isTTY: true })).toBe(false);
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
