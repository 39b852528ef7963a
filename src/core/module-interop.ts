/**
 * Named exports of a lazily imported CommonJS package (yaml, ajv, react, undici, client-node, x509).
 *
 * Under Node and vitest, `await import('pkg')` of a CommonJS package gives its names (and
 * `default`). In our esbuild bundle, code splitting puts the package in a chunk that exports only
 * `default` (= module.exports), so `const { parse } = await import('yaml')` is undefined there and
 * crashes only in the shipped binary. Every lazy import of such a package goes through this one
 * function: `const { parse } = cjs(await import('yaml'))`.
 */
export function cjs<T extends object>(mod: T): T {
  const keys = Object.keys(mod);
  if (keys.length === 1 && keys[0] === 'default') return (mod as unknown as { default: T }).default;
  return mod;
}
