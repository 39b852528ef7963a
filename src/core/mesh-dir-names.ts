/**
 * Which names in a local mesh directory are read: the file store's walk (src/store/file-store.ts)
 * and `meshctl proxy --config`'s change detection (src/proxy/config-source.ts) must agree, or a file
 * the store reads would change unseen.
 */

/** Dotfiles and dot-directories are skipped: the store's lock and temp files, .git, a ConfigMap volume's ..data. */
export function isHiddenName(name: string): boolean {
  return name.startsWith('.');
}

/** `*.yaml` and `*.yml`, any case. */
export function isYamlName(name: string): boolean {
  return /\.ya?ml$/i.test(name);
}
