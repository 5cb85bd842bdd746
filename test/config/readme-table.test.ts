// The README's config table is generated from the schema; this keeps them from drifting apart.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { it } from 'node:test';
import { withConfigTable } from '../../scripts/update-readme-config.js';

it('README.md holds the config table the schema renders (npm run docs:config updates it)', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.equal(readme, withConfigTable(readme));
});
