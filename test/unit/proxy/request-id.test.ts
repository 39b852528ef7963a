import { expect, it } from 'vitest';
import { newRequestId } from '../../../src/proxy/exchange.js';

it('x-request-id is a version 4 UUID and does not repeat in 100,000 draws', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 100_000; i++) {
    const id = newRequestId();
    if (i < 1000) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(id);
  }
  expect(seen.size).toBe(100_000);
});
