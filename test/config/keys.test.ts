import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  configKeys,
  findKey,
  renderConfigTable,
  SECRET_FILE_NOTE,
} from '../../src/pw-lib/config/index.js';

/** Longest meaning accepted: one line of the README table, not a paragraph. */
const MAX_MEANING = 110;

void describe('config key meanings (§2)', () => {
  void it('gives every leaf key a meaning', () => {
    const missing = configKeys.filter((k) => (k.meaning ?? '').trim() === '').map((k) => k.key);
    assert.deepEqual(
      missing,
      [],
      'every config key needs a meaning: wrap the leaf in key()/withMeta() in config/schema.ts',
    );
  });

  void it('keeps each meaning to one short, table-safe line', () => {
    for (const k of configKeys) {
      const meaning = k.meaning ?? '';
      assert.equal(meaning, meaning.trim(), `${k.key}: no surrounding whitespace`);
      assert.doesNotMatch(meaning, /[\n\r|]/, `${k.key}: one line, no '|' (breaks the table)`);
      assert.doesNotMatch(meaning, /\.$/, `${k.key}: no trailing period`);
      assert.ok(
        meaning.length <= MAX_MEANING,
        `${k.key}: ${meaning.length} > ${MAX_MEANING} chars`,
      );
      assert.equal((meaning.match(/`/g) ?? []).length % 2, 0, `${k.key}: unbalanced inline code`);
    }
  });

  void it('tells operators how secret files must be protected', () => {
    for (const k of configKeys.filter((c) => c.secret)) {
      assert.ok(k.meaning?.endsWith(SECRET_FILE_NOTE), `${k.key}: ${k.meaning}`);
    }
    assert.match(SECRET_FILE_NOTE, /0600/);
  });

  void it('puts every meaning into the README table', () => {
    const lines = renderConfigTable().trimEnd().split('\n');
    for (const k of configKeys) {
      const row = lines.find((l) => l.startsWith(`| \`${k.key}\` |`));
      assert.ok(row, k.key);
      const cells = row.slice(2, -2).split(' | ');
      assert.equal(cells.length, 5, `${k.key}: ${row}`);
      assert.equal(cells[3], k.meaning ?? '');
    }
    assert.equal(findKey('logLevel')?.meaning, 'pino level of the JSON logs on stderr');
  });
});
