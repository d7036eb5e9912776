// Issue 3, test 5: server-side encryption and storage class. Through the recording proxy
// (s3rver drops SSE headers), every upload carries exactly the configured headers, signed
// (a real store refuses x-amz-* headers left out of SigV4's SignedHeaders), and an agent
// without those settings sends none of them. S3_KEY_PREFIX is honoured along the way.
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFlyEntries } from '../../support/fly-entries.js';
import { readObjects, type RecordedRequest } from '../../support/s3.js';
import { stopCleanly, waitForSettled } from '../e2e/scenario.js';
import { BUCKET, expectArchive, startS3Scenario, type S3Scenario } from './s3-scenario.js';

const SSE_HEADERS = ['x-amz-storage-class', 'x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id'] as const;

interface Case {
  readonly name: string;
  readonly app: string;
  readonly env: Readonly<Record<string, string>>;
  /** The SSE and storage-class headers every PUT must carry; the others must be absent. */
  readonly expected: Readonly<Partial<Record<(typeof SSE_HEADERS)[number], string>>>;
}

const CASES: readonly Case[] = [
  {
    name: 'aws:kms with a key id and STANDARD_IA',
    app: 'kms-app',
    env: { S3_STORAGE_CLASS: 'STANDARD_IA', S3_SSE: 'aws:kms', S3_SSE_KMS_KEY_ID: 'alias/fly-logs', S3_KEY_PREFIX: 'archive/kms' },
    expected: { 'x-amz-storage-class': 'STANDARD_IA', 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'alias/fly-logs' },
  },
  {
    name: 'AES256 and a storage class given in lower case',
    app: 'aes-app',
    env: { S3_STORAGE_CLASS: 'intelligent_tiering', S3_SSE: 'AES256', S3_KEY_PREFIX: 'archive/aes/' },
    expected: { 'x-amz-storage-class': 'INTELLIGENT_TIERING', 'x-amz-server-side-encryption': 'AES256' },
  },
  {
    name: 'neither configured',
    app: 'plain-app',
    env: { S3_KEY_PREFIX: 'archive/plain' },
    expected: {},
  },
];

let h: S3Scenario;
beforeAll(async () => {
  h = await startS3Scenario({ proxy: true });
});
afterAll(async () => {
  await h?.close();
});

/** The header names SigV4 covered, from `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=a;b;c, Signature=…`. */
function signedHeaders(headers: IncomingHttpHeaders): string[] {
  const m = /SignedHeaders=([^,\s]+)/.exec(String(headers.authorization ?? ''));
  return m ? m[1]!.split(';') : [];
}

describe('e2e s3: encryption and storage-class headers', () => {
  for (const c of CASES) {
    it(`${c.name}: every upload carries exactly the configured headers, signed`, async () => {
      const agent = await h.startAgent({ ...c.env, SUBJECT: `logs.${c.app}.>` }, { label: c.app });
      const entries = makeFlyEntries(300, { seed: 3500, apps: [c.app], idPrefix: `${c.app}-` });
      await h.publish(entries);
      await waitForSettled(agent, entries.length, 's3');

      const prefix = `${c.env.S3_KEY_PREFIX!.replace(/\/$/, '')}/`;
      const puts: RecordedRequest[] = h.proxy!.requests.filter((r) => r.method === 'PUT' && decodeURIComponent(r.path).startsWith(`/${BUCKET}/${prefix}`));
      expect(puts.length).toBeGreaterThan(0);
      for (const put of puts) {
        expect(put.status, put.path).toBe(200);
        for (const name of SSE_HEADERS) expect(put.headers[name], `${name} on PUT ${put.path}`).toBe(c.expected[name]);
        const signed = signedHeaders(put.headers);
        for (const name of Object.keys(c.expected)) expect(signed, `SignedHeaders of PUT ${put.path}`).toContain(name);
      }

      // The objects are where the prefix says, complete, and s3rver kept the storage class.
      const objects = await readObjects(h.s3.endpoint, BUCKET, prefix);
      expect(objects).toHaveLength(puts.length);
      expectArchive(objects, entries, prefix);
      for (const o of objects) expect(o.headers['x-amz-storage-class'], o.key).toBe(c.expected['x-amz-storage-class']);

      await stopCleanly(agent);
    });
  }
});
