import type { Analyzer } from '../types.js';
import { walk } from '../routes.js';
import { parseDuration, pathString, specOf } from '../util.js';

/** Fields that hold a duration, wherever they appear in a mesh resource. */
const DURATION_KEYS = new Set(['timeout', 'perTryTimeout', 'fixedDelay', 'connectTimeout', 'idleTimeout', 'interval', 'baseEjectionTime', 'time', 'maxStreamDuration', 'drainTimeout', 'maxConnectionDuration']);
/** Fields that hold a 0..100 percentage directly. */
const PERCENT_KEYS = new Set(['percent', 'maxEjectionPercent', 'minHealthPercent']);

/** New in meshctl: duration strings parse, and percentages stay in 0..100. */
export const durationsAndPercentages: Analyzer = {
  name: 'config.durations-percentages',
  codes: ['MSH0202', 'MSH0203'],
  description: 'Durations parse (1.5s, 100ms, 2m) and percentages are within 0..100',
  inputs: ['DestinationRule', 'Gateway', 'ServiceEntry', 'Sidecar', 'VirtualService'],
  analyze(ctx, report) {
    for (const kind of ['DestinationRule', 'VirtualService', 'Sidecar']) {
      for (const r of ctx.of(kind)) {
        walk(specOf(r.resource), ['spec'], (key, value, path) => {
          if (typeof key !== 'string') return;
          const where = pathString(path);
          if (DURATION_KEYS.has(key) && typeof value === 'string') {
            const d = parseDuration(value);
            if ('error' in d) report.report('MSH0202', r, path, value, where, d.error);
            else if (key !== 'time' && key !== 'interval' && d.ms > 0 && d.ms < 1) report.report('MSH0202', r, path, value, where, 'must be at least 1ms');
          }
          if (PERCENT_KEYS.has(key) && typeof value === 'number' && (value < 0 || value > 100)) report.report('MSH0203', r, path, value, where);
          if ((key === 'percentage' || key === 'mirrorPercentage') && typeof value === 'object' && value !== null) {
            const v = (value as Record<string, unknown>).value;
            if (typeof v === 'number' && (v < 0 || v > 100)) report.report('MSH0203', r, [...path, 'value'], v, `${where}.value`);
          }
        });
      }
    }
  },
};
