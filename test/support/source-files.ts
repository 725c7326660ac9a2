import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root directory. */
export const root = path.resolve(fileURLToPath(new URL('../../', import.meta.url)));

/** A path inside the repository. */
export const under = (...parts: string[]) => path.join(root, ...parts);

/** Every .ts file under `dir`, as absolute paths, sorted. */
export async function tsFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = await Promise.all(
    entries.map(async (entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return tsFiles(full);
      return entry.isFile() && entry.name.endsWith('.ts') ? [full] : [];
    }),
  );
  return files.flat().sort();
}
