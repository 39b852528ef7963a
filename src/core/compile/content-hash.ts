/**
 * A 64-bit content hash for snapshot versions: two 32-bit multiply-xorshift lanes over the text
 * (cyrb53's scheme, both lanes kept in full). Versions only tell snapshots apart, so collision
 * resistance against an attacker is not needed — and a sidecar that loads node:crypto for this alone
 * pays ~3 MB of RSS (Node 24), which matters for a process that runs next to every workload.
 */
export function contentHash64(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h2 >>> 0).toString(16).padStart(8, '0') + (h1 >>> 0).toString(16).padStart(8, '0');
}
