import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isIP } from 'node:net';
import type { webcrypto as WebCrypto } from 'node:crypto';
import { InputError } from '../core/errors.js';
import { cjs } from '../core/module-interop.js';
import { injectPod, type InjectOptions, type PodLike } from '../core/inject/inject.js';

/**
 * The sidecar injection webhook (port 15017, path /inject): a MutatingWebhookConfiguration sends
 * an AdmissionReview for each pod; the answer carries the JSON Patch from src/core/inject. The
 * serving certificate is issued at start-up from the CA that `meshctl install` lays out in the
 * `meshctl-ca` Secret (mounted at MESHCTL_CA_DIR), the CA the webhook's caBundle names.
 */

export interface ServingCert {
  certPem: string;
  keyPem: string;
  caPem: string;
}

/** Pod admission bodies are small; a bound keeps a misbehaving client from filling memory. */
const MAX_REVIEW_BYTES = 4 * 1024 * 1024;

/** Reads tls.crt/tls.key (ca.crt when present) from `dir` and issues a 1-year leaf for `hosts`. */
export async function issueServingCert(dir: string, hosts: readonly string[], now: Date): Promise<ServingCert> {
  let caPem: string;
  let caKeyPem: string;
  try {
    caPem = await readFile(join(dir, 'tls.crt'), 'utf8');
    caKeyPem = await readFile(join(dir, 'tls.key'), 'utf8');
  } catch (err) {
    throw new InputError(`CA directory ${dir} has no readable tls.crt and tls.key (${(err as Error).message})`, 'mount the meshctl-ca Secret there (meshctl install does), or unset MESHCTL_CA_DIR');
  }
  await import('reflect-metadata');
  const x509 = cjs(await import('@peculiar/x509'));
  const { webcrypto, createPrivateKey, randomBytes } = await import('node:crypto');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

  // The CA key may be PKCS#8, SEC1 (EC PRIVATE KEY) or PKCS#1 (RSA PRIVATE KEY): Node reads them all.
  const caKeyObject = createPrivateKey(caKeyPem);
  const type = caKeyObject.asymmetricKeyType;
  let caAlg: { name: string; namedCurve?: string; hash: string };
  if (type === 'ec') {
    const curve = caKeyObject.asymmetricKeyDetails?.namedCurve;
    const named = curve === 'prime256v1' ? 'P-256' : curve === 'secp384r1' ? 'P-384' : undefined;
    if (!named) throw new InputError(`CA key in ${dir} uses curve ${String(curve)}`, 'use a P-256 or P-384 EC key, or an RSA key');
    caAlg = { name: 'ECDSA', namedCurve: named, hash: named === 'P-384' ? 'SHA-384' : 'SHA-256' };
  } else if (type === 'rsa') {
    caAlg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  } else {
    throw new InputError(`CA key in ${dir} is a ${String(type)} key`, 'use an EC (P-256/P-384) or RSA CA key');
  }
  const caKey = await webcrypto.subtle.importKey('pkcs8', caKeyObject.export({ type: 'pkcs8', format: 'der' }), caAlg, false, ['sign']);
  const caCert = new x509.X509Certificate(caPem);

  const leafAlg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const leaf = (await webcrypto.subtle.generateKey(leafAlg, true, ['sign', 'verify'])) as WebCrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '01' + randomBytes(15).toString('hex'),
    subject: `CN=${hosts[0] ?? 'meshctl-controller'}`,
    // The CA's subject as it is encoded (UTF8String vs PrintableString): Go's verifier, the API
    // server's, matches issuer to subject byte for byte, so a re-encoded string name would not chain.
    issuer: caCert.subjectName,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(now.getTime() + 365 * 24 * 3600_000),
    signingAlgorithm: caAlg,
    publicKey: leaf.publicKey,
    signingKey: caKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(hosts.map((h) => (isIP(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }))),
    ],
  });
  const keyPem = x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', leaf.privateKey), 'PRIVATE KEY');
  let chainCa = caPem;
  try {
    chainCa = await readFile(join(dir, 'ca.crt'), 'utf8');
  } catch {
    /* tls.crt is the root itself */
  }
  return { certPem: cert.toString('pem') + '\n', keyPem: keyPem + '\n', caPem: chainCa };
}

/** The names the API server calls the webhook by: the Service in its namespace, and loopback for tests. */
export function webhookHosts(service: string, namespace: string): string[] {
  return [`${service}.${namespace}.svc`, service, `${service}.${namespace}`, `${service}.${namespace}.svc.cluster.local`, 'localhost', '127.0.0.1'];
}

export interface AdmissionResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: { uid: string; allowed: true; patchType?: 'JSONPatch'; patch?: string; warnings?: string[] };
}

/** Answers one AdmissionReview; throws InputError on a body that is not one. Never denies a pod. */
export function review(body: unknown, opts: Omit<InjectOptions, 'namespace'>): { answer: AdmissionResponse; injected: boolean; reason?: string } {
  const req = (body as { request?: { uid?: unknown; namespace?: unknown; object?: unknown; kind?: { kind?: unknown } } } | null)?.request;
  if (!req || typeof req.uid !== 'string') throw new InputError('not an AdmissionReview: request.uid is missing', 'send admission.k8s.io/v1 AdmissionReview');
  const base: AdmissionResponse = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: req.uid, allowed: true } };
  const pod = req.object as PodLike | undefined;
  if (req.kind?.kind !== 'Pod' || !pod || typeof pod !== 'object') return { answer: base, injected: false, reason: 'not a Pod' };
  const r = injectPod(pod, { ...opts, namespace: typeof req.namespace === 'string' ? req.namespace : 'default' });
  if (!r.injected) return { answer: base, injected: false, reason: r.reason };
  base.response.patchType = 'JSONPatch';
  base.response.patch = Buffer.from(JSON.stringify(r.patch)).toString('base64');
  return { answer: base, injected: true };
}

export interface WebhookStats {
  reviews: number;
  injected: number;
  errors: number;
}

export function createWebhookServer(cert: ServingCert, opts: Omit<InjectOptions, 'namespace'>, stats: WebhookStats): Server {
  return createServer({ cert: cert.certPem, key: cert.keyPem }, (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/inject') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('webhook: POST /inject\n');
    if (req.method !== 'POST') return void res.writeHead(405, { 'content-type': 'text/plain' }).end('use POST\n');
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_REVIEW_BYTES) {
        stats.errors++;
        res.writeHead(413, { 'content-type': 'text/plain' }).end('AdmissionReview too large\n');
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      stats.reviews++;
      try {
        const out = review(JSON.parse(Buffer.concat(chunks).toString('utf8')), opts);
        if (out.injected) stats.injected++;
        const text = JSON.stringify(out.answer);
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
      } catch (err) {
        stats.errors++;
        res.writeHead(400, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
      }
    });
  });
}
