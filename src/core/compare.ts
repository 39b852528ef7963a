/**
 * Orders strings by UTF-16 code unit, as `Array.prototype.sort` does by default. For machine
 * orderings (snapshot contents, content hashes, query strings) it is the right order anyway: the
 * same on every machine and ICU version. And it keeps ICU out of the proxy: the first
 * `localeCompare` builds a collator, ~3 MB of a sidecar's idle RSS (measured on Node 24 here).
 */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
