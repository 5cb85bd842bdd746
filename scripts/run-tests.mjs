#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test under tsx, and fails when no test ran.
// `tsx --test` without a file list silently runs zero TypeScript tests, so the list is explicit.
// Usage: node scripts/run-tests.mjs [substring-filter...]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2);

function findTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(p));
    else if (entry.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const files = findTests(join(root, 'test'))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(
    `run-tests: no test files found${filters.length ? ` for ${filters.join(' ')}` : ''}`,
  );
  process.exit(1);
}

const tmp = mkdtempSync(join(tmpdir(), 'pw-pool-tests-'));
const tap = join(tmp, 'results.tap');
const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, FORCE_COLOR: process.stdout.isTTY ? '1' : '0' },
  },
);
child.on('exit', (code, signal) => {
  let ran = 0;
  let failed = 0;
  try {
    const text = readFileSync(tap, 'utf8');
    ran = Number(/^# tests (\d+)$/m.exec(text)?.[1] ?? 0);
    failed = Number(/^# fail (\d+)$/m.exec(text)?.[1] ?? 0);
  } catch {
    // no TAP summary: treated as zero tests below
  }
  rmSync(tmp, { recursive: true, force: true });
  console.log(`pw-pool tests: ${ran} ran, ${failed} failed, ${files.length} files`);
  if (ran === 0) {
    console.error('run-tests: zero tests ran');
    process.exit(1);
  }
  process.exit(code ?? (signal ? 1 : 0));
});
