#!/usr/bin/env node
// Copies the on-instance scripts (src/mac/**/*.sh) into the build (dist/mac), where the SSH adapter
// reads them at run time.
import { cpSync, rmSync } from 'node:fs';

const root = new URL('..', import.meta.url);
const from = new URL('src/mac/', root);
const to = new URL('dist/mac/', root);
rmSync(to, { recursive: true, force: true });
cpSync(from, to, {
  recursive: true,
  filter: (src) => !/\.(md|ts)$/.test(src),
});
