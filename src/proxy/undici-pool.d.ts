// undici's Pool on its own (lib/dispatcher/pool.js, CommonJS `module.exports = Pool`). The proxy
// imports it rather than the `undici` index, which loads fetch, WebSocket, caches, mocks and more:
// ~13 MB of RSS at idle against ~2.5 MB for the Pool (measured on Node 24). The proxy calls only
// dispatch() and close(), which the Pool has without the index's Dispatcher.prototype API methods.
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';
  const PoolClass: typeof Pool;
  export default PoolClass;
}
