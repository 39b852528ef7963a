import type { webcrypto as WebCrypto } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateRootCA } from '../../../src/commands/install.js';
import { cjs } from '../../../src/core/module-interop.js';
import { createWebhookServer, issueServingCert, review, webhookHosts, type ServingCert } from '../../../src/controller/webhook.js';

let dir: string;
let cert: ServingCert;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'meshctl-webhook-'));
  const ca = await generateRootCA(new Date(), 'cluster.local');
  writeFileSync(join(dir, 'tls.crt'), ca.certPem);
  writeFileSync(join(dir, 'tls.key'), ca.keyPem);
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);
  cert = await issueServingCert(dir, webhookHosts('meshctl-controller', 'meshctl-system'), new Date());
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const admission = (object: unknown, kind = 'Pod') => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u-1', kind: { kind }, namespace: 'shop', object } });
const opts = { image: 'img:1', discoveryAddress: 'http://meshctl-controller.meshctl-system.svc:15010' };

describe('review', () => {
  it('answers with a JSON Patch for a pod and allows without one otherwise', () => {
    const r = review(admission({ metadata: { name: 'p', labels: { app: 'a' } }, spec: { containers: [{ name: 'a' }] } }), opts);
    expect(r.injected).toBe(true);
    expect(r.answer.response).toMatchObject({ uid: 'u-1', allowed: true, patchType: 'JSONPatch' });
    const patch = JSON.parse(Buffer.from(r.answer.response.patch!, 'base64').toString()) as { path: string; value: { args?: string[] } }[];
    expect(patch[0]?.value.args).toEqual(['proxy', '--discovery', opts.discoveryAddress, '--workload', 'p', '-n', 'shop', '--label', 'app=a']);
    expect(review(admission({}, 'Service'), opts)).toMatchObject({ injected: false, reason: 'not a Pod', answer: { response: { allowed: true } } });
    expect(() => review({}, opts)).toThrow(/not an AdmissionReview/);
  });
});

describe('webhook server', () => {
  it('serves /inject over TLS with a certificate from the install CA, valid for the Service name', async () => {
    const stats = { reviews: 0, injected: 0, errors: 0 };
    const server = createWebhookServer(cert, opts, stats);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const post = (body: string, servername: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/inject', method: 'POST', ca: cert.caPem, servername, headers: { 'content-type': 'application/json' } }, (res) => {
          let b = '';
          res.on('data', (c: Buffer) => (b += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: b }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      const ok = await post(JSON.stringify(admission({ metadata: { name: 'p' }, spec: { containers: [{ name: 'a' }] } })), 'meshctl-controller.meshctl-system.svc');
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body)).toMatchObject({ kind: 'AdmissionReview', response: { uid: 'u-1', allowed: true, patchType: 'JSONPatch' } });
      expect((await post('not json', 'meshctl-controller.meshctl-system.svc')).status).toBe(400);
      expect(stats).toEqual({ reviews: 2, injected: 1, errors: 1 });
      // A name the certificate does not carry fails verification: the SANs are really checked.
      await expect(post('{}', 'other.example.com')).rejects.toThrow(/altnames|Hostname/i);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('names its issuer with the CA subject bytes as encoded (a UTF8String CN, as openssl writes it)', async () => {
    await import('reflect-metadata');
    const x509 = cjs(await import('@peculiar/x509'));
    const { webcrypto } = await import('node:crypto');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as WebCrypto.CryptoKeyPair;
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: new x509.Name([{ '2.5.4.3': [{ utf8String: 'utf8 root' }] }]),
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3600_000),
      signingAlgorithm: alg,
      keys,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true)],
    });
    const d = mkdtempSync(join(tmpdir(), 'meshctl-webhook-utf8-'));
    writeFileSync(join(d, 'tls.crt'), ca.toString('pem'));
    writeFileSync(join(d, 'tls.key'), x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'));
    const leaf = new x509.X509Certificate((await issueServingCert(d, ['svc'], new Date())).certPem);
    expect(Buffer.from(leaf.issuerName.toArrayBuffer()).equals(Buffer.from(ca.subjectName.toArrayBuffer()))).toBe(true);
    expect(await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(true);
    rmSync(d, { recursive: true, force: true });
  });

  it('names the fix when the CA directory is empty', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'meshctl-webhook-empty-'));
    await expect(issueServingCert(empty, ['x'], new Date())).rejects.toThrow(/has no readable tls.crt and tls.key/);
    rmSync(empty, { recursive: true, force: true });
  });
});
