// Where things are, whether this runs compiled (dist/bench/*.js, as `npm run bench` does) or
// from source: the repository root is the nearest directory above with a package.json.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${start}`);
    dir = up;
  }
}

export const REPO_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));
export const AGENT_MAIN = join(REPO_ROOT, 'dist', 'src', 'main.js');
