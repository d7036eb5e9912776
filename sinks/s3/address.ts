// Where a bucket and its objects live: AWS's regional endpoint or a custom one (Tigris, R2,
// MinIO), virtual-hosted (`<bucket>.<host>`) or path-style (`<host>/<bucket>`).
import { isIP } from 'node:net';

export interface S3Location {
  /** `https://host[:port]`, no trailing slash. */
  readonly origin: string;
  /** `host[:port]` as the Host header carries it. */
  readonly host: string;
}

export interface AddressOptions {
  readonly bucket: string;
  readonly region: string;
  /** Custom endpoint; AWS when undefined. */
  readonly endpoint: URL | undefined;
  readonly forcePathStyle: boolean;
}

// Virtual-hosted addressing puts the bucket in a DNS name (and, with https, under a
// wildcard certificate that one label only can match).
function dnsCompatible(bucket: string, https: boolean): boolean {
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket) || bucket.includes('..')) return false;
  if (isIP(bucket) !== 0) return false;
  return !(https && bucket.includes('.'));
}

/** RFC 3986 percent-encoding of one key segment, as SigV4 canonicalises S3 paths. */
export function encodeKeySegment(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

export function encodeKey(key: string): string {
  return key.split('/').map(encodeKeySegment).join('/');
}

export class S3Address {
  readonly pathStyle: boolean;
  readonly location: S3Location;
  readonly bucket: string;
  /** Path prefix before the object key: the endpoint's own path, and the bucket when path-style. */
  readonly #keyBase: string;

  constructor(opts: AddressOptions) {
    this.bucket = opts.bucket;
    const base = opts.endpoint ?? new URL(`https://s3.${opts.region}.amazonaws.com`);
    const https = base.protocol === 'https:';
    const local = isIP(base.hostname.replace(/^\[|\]$/g, '')) !== 0 || base.hostname === 'localhost';
    // An IP or localhost cannot carry a bucket subdomain; neither can a bucket name DNS cannot.
    this.pathStyle = opts.forcePathStyle || local || !dnsCompatible(opts.bucket, https);
    const host = this.pathStyle ? base.host : `${opts.bucket}.${base.host}`;
    this.location = { origin: `${base.protocol}//${host}`, host };
    const endpointPath = base.pathname.replace(/\/+$/, '');
    this.#keyBase = this.pathStyle ? `${endpointPath}/${encodeKeySegment(opts.bucket)}/` : `${endpointPath}/`;
  }

  /** The request path of an object. */
  objectPath(key: string): string {
    return this.#keyBase + encodeKey(key);
  }

  /** The request path of a bucket-level operation with `query` (already encoded, no `?`). */
  bucketPath(query: string): string {
    const path = this.pathStyle ? this.#keyBase.slice(0, -1) : this.#keyBase;
    return query === '' ? path : `${path}?${query}`;
  }
}
