// Reading back what the file sink wrote, for tests and tools. Tolerates a torn last gzip
// member (a crash mid-append): every line before it is returned and `torn` says so.
// Holds the whole file's lines in memory; not for the agent's hot path.
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';

export interface FileSinkContents {
  /** Complete lines (a partial line at a torn end is left out). */
  readonly lines: string[];
  /** The file ended inside a gzip member. */
  readonly torn: boolean;
}

export async function readFileSinkFile(path: string): Promise<FileSinkContents> {
  let text = '';
  let torn = false;
  const gunzip = createGunzip();
  try {
    for await (const chunk of createReadStream(path).pipe(gunzip) as AsyncIterable<Buffer>) text += chunk.toString('utf8');
  } catch (error) {
    // zlib reports a member cut short as Z_BUF_ERROR "unexpected end of file".
    if ((error as { code?: string }).code !== 'Z_BUF_ERROR') throw error;
    torn = true;
  }
  const lines = text.split('\n');
  // The piece after the last "\n" is either empty (a whole file) or a line cut short.
  lines.pop();
  return { lines, torn };
}

/** Every `.ndjson.gz` file under `root`, as paths relative to it, sorted (partition, then time). */
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
      else if (d.isFile() && d.name.endsWith('.ndjson.gz')) found.push(child);
    }
  }
  await walk('');
  return found.sort();
}
