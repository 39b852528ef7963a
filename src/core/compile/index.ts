export { compileSnapshot, COMPILE_KINDS, DEFAULT_RETRIES, type CompileOptions } from './compile.js';
export * from './snapshot.js';
