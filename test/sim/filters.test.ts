import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyFilters, globToRegExp, type FilterTable } from '../../src/sim/filters.js';
import { Ec2ApiError } from '../../src/sim/ec2-error.js';
import { filters, list, parseQuery, tags } from '../../src/sim/query.js';

describe('EC2 filter wildcards', () => {
  const cases: [pattern: string, value: string, matches: boolean][] = [
    ['MacM1-*', 'MacM1-1', true],
    ['MacM1-*', 'MacM1-', true],
    ['MacM1-*', 'MacM2-1', false],
    ['MacM1-?', 'MacM1-1', true],
    ['MacM1-?', 'MacM1-10', false],
    ['prod', 'prod', true],
    ['prod', 'production', false],
    ['prod', 'Prod', false],
    ['a.b', 'axb', false],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axxb', false],
    ['(x)+[y]', '(x)+[y]', true],
    ['*', '', true],
  ];
  for (const [pattern, value, matches] of cases) {
    test(`${pattern} ${matches ? 'matches' : 'does not match'} '${value}'`, () => {
      assert.equal(globToRegExp(pattern).test(value), matches);
    });
  }
});

describe('applyFilters', () => {
  interface Item {
    id: string;
    state: string;
    tags: Record<string, string>;
  }
  const table: FilterTable<Item> = { fields: { state: (i) => i.state }, tags: (i) => i.tags };
  const items: Item[] = [
    { id: 'a', state: 'available', tags: { Name: 'MacM1-1', purpose: 'prod' } },
    { id: 'b', state: 'pending', tags: { Name: 'MacM1-2', purpose: 'test' } },
    { id: 'c', state: 'available', tags: { purpose: 'prod' } },
  ];
  const ids = (fs: { name: string; values: string[] }[]): string[] =>
    applyFilters(items, fs, table).map((i) => i.id);

  test('values of one filter are OR-ed, filters are AND-ed', () => {
    assert.deepEqual(ids([{ name: 'state', values: ['available', 'pending'] }]), ['a', 'b', 'c']);
    assert.deepEqual(
      ids([
        { name: 'tag:Name', values: ['MacM1-*'] },
        { name: 'tag:purpose', values: ['prod'] },
      ]),
      ['a'],
    );
  });

  test('tag-key and tag-value look at every tag', () => {
    assert.deepEqual(ids([{ name: 'tag-key', values: ['Name'] }]), ['a', 'b']);
    assert.deepEqual(ids([{ name: 'tag-value', values: ['test'] }]), ['b']);
  });

  test('an unknown filter name or a filter without values is rejected', () => {
    assert.throws(
      () => ids([{ name: 'host-id', values: ['x'] }]),
      (e: unknown) =>
        e instanceof Ec2ApiError &&
        e.code === 'InvalidParameterValue' &&
        /'host-id'/.test(e.message),
    );
    assert.throws(() => ids([{ name: 'state', values: [] }]), Ec2ApiError);
  });

  test('more than 200 filter values is FilterLimitExceeded', () => {
    const values = Array.from({ length: 201 }, (_, n) => `v${n}`);
    assert.throws(
      () => ids([{ name: 'state', values }]),
      (e: unknown) => e instanceof Ec2ApiError && e.code === 'FilterLimitExceeded',
    );
  });
});

describe('query parameters', () => {
  test('lists, filters and tags are read in index order', () => {
    const params = parseQuery(
      'HostId.2=h-2&HostId.1=h-1&HostId.10=h-10&Filter.2.Name=state&Filter.2.Value.1=available' +
        '&Filter.1.Name=tag%3AName&Filter.1.Value.2=B&Filter.1.Value.1=A&Tag.1.Key=k&Tag.2.Key=e&Tag.2.Value=',
    );
    assert.deepEqual(list(params, 'HostId'), ['h-1', 'h-2', 'h-10']);
    assert.deepEqual(filters(params), [
      { name: 'tag:Name', values: ['A', 'B'] },
      { name: 'state', values: ['available'] },
    ]);
    assert.deepEqual(tags(params), [
      { key: 'k', value: '' },
      { key: 'e', value: '' },
    ]);
  });
});
