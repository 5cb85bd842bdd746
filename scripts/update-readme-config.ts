// Rewrites the README's configuration table from the schema (npm run docs:config).
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigTable } from '../src/pw-lib/config/index.js';

const START = /<!-- config-table:start[^>]*-->\n/;
const END = '<!-- config-table:end -->';

export function withConfigTable(readme: string): string {
  const start = START.exec(readme);
  const end = readme.indexOf(END);
  if (!start || end < start.index) throw new Error('README.md lacks the config-table markers');
  const head = readme.slice(0, start.index + start[0].length);
  return `${head}${renderConfigTable().trimEnd()}\n${readme.slice(end)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const path = new URL('../README.md', import.meta.url);
  writeFileSync(path, withConfigTable(readFileSync(path, 'utf8')));
}
