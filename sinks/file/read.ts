// Reading back what the file sink wrote, for tests and tools: `.ndjson.gz` (gzip members),
// `.ndjson.zst` (zstd frames) and `.ndjson` (plain). Tolerates a torn last member or frame
// (a crash mid-append): every line before it is returned and `torn` says so.
// Holds the whole file's lines in memory; not for the agent's hot path.
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Transform } from 'node:stream';
import { createGunzip, createZstdDecompress } from 'node:zlib';

export interface FileSinkContents {
  /** Complete lines (a partial line at a torn end is left out). */
  readonly lines: string[];
  /** The file ended inside a gzip member or zstd frame. */
  readonly torn: boolean;
}

/** The file name endings the file sink writes. */
export const FILE_SINK_EXTENSIONS = ['.ndjson.gz', '.ndjson.zst', '.ndjson'] as const;

function decoderFor(path: string): Transform {
  if (path.endsWith('.gz')) return createGunzip();
  if (path.endsWith('.zst')) return createZstdDecompress();
  return new PassThrough();
}

export async function readFileSinkFile(path: string): Promise<FileSinkContents> {
  let text = '';
  let torn = false;
  try {
    for await (const chunk of createReadStream(path).pipe(decoderFor(path)) as AsyncIterable<Buffer>) text += chunk.toString('utf8');
  } catch (error) {
    // zlib reports a member or frame cut short as Z_BUF_ERROR "unexpected end of file".
    if ((error as { code?: string }).code !== 'Z_BUF_ERROR') throw error;
    torn = true;
  }
  const lines = text.split('\n');
  // The piece after the last "\n" is either empty (a whole file) or a line cut short.
  lines.pop();
  return { lines, torn };
}

/** Every file the file sink writes (`.ndjson.gz`, `.ndjson.zst`, `.ndjson`) under `root`, as paths relative to it, sorted (partition, then time). */
export async function listFileSinkFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(rel: string): Promise<void> {
    let names;
    try {
      names = await readdir(join(root, rel), { withFileTypes: true });
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return;
      throw error;
    }
    for (const d of names) {
      const child = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) await walk(child);
      else if (d.isFile() && FILE_SINK_EXTENSIONS.some((ext) => d.name.endsWith(ext))) found.push(child);
    }
  }
  await walk('');
  return found.sort();
}
