// File system failures as SinkIoError, with the retry decision the core acts on.
//
// Retried: conditions that can clear while the agent keeps running and without changing
// its configuration: space or quota freed (ENOSPC, EDQUOT), transient device or resource
// pressure (EIO, EAGAIN, EBUSY, EMFILE, ENFILE, ENOMEM, EINTR, ETIMEDOUT, ESTALE), a volume
// remounted read-only after an error and brought back (EROFS), a folder removed under us
// (ENOENT: the next attempt recreates it), a file grown past a limit (EFBIG: the next
// attempt starts a new file). Unknown codes are retried too, like unknown errors in the core.
//
// Permanent: the path or its permissions are wrong (EACCES, EPERM, ENOTDIR, EISDIR,
// ENAMETOOLONG, ELOOP, EINVAL). Those are configuration; the start-up healthcheck reports
// them, and retrying would hold the sink's only in-flight slot on a batch that cannot land.
import { SinkIoError } from '../../src/errors.js';

const PERMANENT = new Set(['EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG', 'ELOOP', 'EINVAL']);

export function fsErrorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function isRetryableFsError(error: unknown): boolean {
  const code = fsErrorCode(error);
  return code === undefined || !PERMANENT.has(code);
}

/** `what` says what failed ("cannot append to /data/app=x/…"); Node's message (which starts with the errno code) follows. */
export function fileSinkError(what: string, error: unknown): SinkIoError {
  const detail = error instanceof Error ? error.message : String(error);
  return new SinkIoError(`${what}: ${detail}`, isRetryableFsError(error), { cause: error });
}
