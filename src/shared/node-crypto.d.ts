/**
 * The one piece of `node:crypto` the worker uses (workerd provides it under nodejs_compat): a
 * synchronous SHA-256, for pins computed while a catalog is built (pinning/canonical.ts). The
 * project does not load Node's types, which would clash with the Workers types.
 */
declare module "node:crypto" {
  interface Hash {
    update(data: string): Hash;
    digest(encoding: "hex"): string;
  }
  export function createHash(algorithm: "sha256"): Hash;
}
