// SigV4 wiring, checked against AWS's published S3 examples (S3 API reference, "Signature
// Calculations for the Authorization Header: Transferring Payload in a Single Chunk":
// credentials AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, bucket
// examplebucket, 20130524T000000Z, us-east-1). s3rver never checks signatures, so this is
// where a wrong region, service, path encoding or payload hash would show.
import { createHash } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { S3Address } from '../../../sinks/s3/address.js';
import { EMPTY_PAYLOAD_SHA256, amzDate, makeCredentials, signS3Request } from '../../../sinks/s3/signing.js';

const credentials = makeCredentials('AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
const now = new Date('2013-05-24T00:00:00Z');

function signature(authorization: string | undefined): string | undefined {
  return /Signature=([0-9a-f]{64})$/.exec(authorization ?? '')?.[1];
}

describe('S3 SigV4 signing', () => {
  test('reproduces AWS example "PUT Object" (a key with $, a storage class header, a body)', () => {
    const body = Buffer.from('Welcome to Amazon S3.', 'utf8');
    const payload = createHash('sha256').update(body).digest('hex');
    expect(payload).toBe('44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072');
    // Addressed the way the sink addresses it: virtual-hosted under the endpoint, key segments encoded.
    const address = new S3Address({ bucket: 'examplebucket', region: 'us-east-1', endpoint: new URL('https://s3.amazonaws.com'), forcePathStyle: false });
    expect(address.location.host).toBe('examplebucket.s3.amazonaws.com');
    const path = address.objectPath('test$file.text');
    expect(path).toBe('/test%24file.text');

    const signed = signS3Request({
      method: 'PUT',
      host: address.location.host,
      path,
      headers: { date: 'Fri, 24 May 2013 00:00:00 GMT', 'x-amz-storage-class': 'REDUCED_REDUNDANCY' },
      payloadSha256: payload,
      region: 'us-east-1',
      credentials,
      now,
    });
    expect(signed.headers.Authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, ' +
        'SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, ' +
        'Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd',
    );
    expect(signed.headers['x-amz-content-sha256']).toBe(payload);
    expect(signed.headers['x-amz-date']).toBe('20130524T000000Z');
    expect(signed.headers.host).toBe('examplebucket.s3.amazonaws.com');
    expect(signed.path).toBe('/test%24file.text');
  });

  test('reproduces AWS example "GET Bucket (List Objects)" (query parameters, empty payload)', () => {
    const address = new S3Address({ bucket: 'examplebucket', region: 'us-east-1', endpoint: new URL('https://s3.amazonaws.com'), forcePathStyle: false });
    const signed = signS3Request({
      method: 'GET',
      host: address.location.host,
      path: address.bucketPath('max-keys=2&prefix=J'),
      headers: {},
      payloadSha256: EMPTY_PAYLOAD_SHA256,
      region: 'us-east-1',
      credentials,
      now,
    });
    expect(signed.path).toBe('/?max-keys=2&prefix=J');
    expect(signed.headers.Authorization).toContain('SignedHeaders=host;x-amz-content-sha256;x-amz-date, ');
    expect(signature(signed.headers.Authorization)).toBe('34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7');
  });

  test('the region (auto for Tigris and R2) and service s3 are in the scope and change the signature', () => {
    const base = { method: 'PUT', host: 'logs.fly.storage.tigris.dev', path: '/a', headers: {}, payloadSha256: EMPTY_PAYLOAD_SHA256, credentials, now } as const;
    const auto = signS3Request({ ...base, region: 'auto' });
    const east = signS3Request({ ...base, region: 'us-east-1' });
    expect(auto.headers.Authorization).toContain('Credential=AKIAIOSFODNN7EXAMPLE/20130524/auto/s3/aws4_request,');
    expect(signature(auto.headers.Authorization)).not.toBe(signature(east.headers.Authorization));
  });

  test('a session token is sent and signed; secrets stay out of JSON and inspect output', () => {
    const withToken = makeCredentials('AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'the-session-token');
    const signed = signS3Request({ method: 'GET', host: 'h', path: '/', headers: {}, payloadSha256: EMPTY_PAYLOAD_SHA256, region: 'us-east-1', credentials: withToken, now });
    expect(signed.headers['X-Amz-Security-Token']).toBe('the-session-token');
    expect(signed.headers.Authorization).toContain('SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,');
    expect(JSON.stringify({ withToken })).not.toMatch(/EXAMPLEKEY|the-session-token/);
    expect(inspect({ withToken })).not.toMatch(/EXAMPLEKEY|the-session-token/);
    expect(withToken.secretAccessKey).toBe('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
  });

  test('amzDate is the basic ISO 8601 form SigV4 wants', () => {
    expect(amzDate(new Date('2026-11-26T20:34:37.253Z'))).toBe('20261126T203437Z');
  });
});
